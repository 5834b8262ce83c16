/**
 * CoinGecko price polling: a low-rate fallback for when no exchange feed is reachable.
 *
 * CoinGecko publishes prices, not trades, and the engine only takes trades. Rather than
 * invent volume, each new price observation becomes one *indicative* trade:
 * - `qty` is a marker, default `"0.00000001"`: never a traded amount. Candles from this
 *   source have meaningful open/high/low/close; `volume` is observations × marker, `trades`
 *   counts observations, and `vwap` is the plain mean of the observed prices.
 * - `ts` is CoinGecko's `last_updated_at` (when the price was computed, not when we polled);
 *   a poll whose timestamp did not move emits nothing, so repeats are not double-counted.
 * - `id` counts observations per coin, starting at the first observation's `last_updated_at`
 *   in seconds: contiguous within a run (no false gap alerts), and above any earlier run's ids
 *   after a restart (at most one observation per poll, and polls are seconds apart).
 * - `side` follows the tick rule: up-tick `buy`, down-tick `sell`, unchanged keeps the last.
 * - `status().indicative` is true, and symbols default to `<COIN>-<VS>` (`BITCOIN-USD`),
 *   apart from exchange symbols, so these prices never blend into a real market's candles.
 */
import type { Side, Trade } from "../../lib/types.ts";
import { sleep as timerSleep } from "./backoff.ts";
import { lifecycle } from "./feed.ts";
import type { Clock, Sleep, Source, SourceStatus } from "./types.ts";

/** Options of {@link coingeckoSource}. */
export interface CoingeckoOptions {
  /** CoinGecko coin ids, e.g. `["bitcoin", "ethereum"]`. */
  ids: string[];
  /** Quote currency; default `usd`. */
  vs?: string;
  /** Trade symbol per coin id; default `<ID>-<VS>` upper-cased. */
  symbols?: Record<string, string>;
  /** API base; default `https://api.coingecko.com` (`https://pro-api.coingecko.com` for paid keys). */
  baseUrl?: string;
  /** Extra request headers, e.g. `{ "x-cg-demo-api-key": key }`. */
  headers?: Record<string, string>;
  /** Time between polls, ms; default 60 000 (the free tier allows a few dozen calls a minute). */
  intervalMs?: number;
  /** Marker quantity of each observation; default `"0.00000001"`. */
  qty?: string;
  /** Used for `ts` only if a response lacks `last_updated_at`; default Date.now. */
  clock?: Clock;
  /** Injectable wait, for tests. */
  sleep?: Sleep;
  /** Injectable fetch, for tests. */
  fetch?: typeof fetch;
}

/**
 * A JSON number as a plain decimal string (no exponent), e.g. `1.23e-7` → `"0.000000123"`.
 * Uses the shortest round-trip digits JavaScript prints, so `61837.63` stays `"61837.63"`.
 */
export function plainDecimal(n: number): string {
  const text = String(n);
  const match = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(text);
  if (!match) return text;
  const [, sign, lead, frac = "", exp] = match;
  const digits = lead! + frac;
  const point = 1 + Number(exp);
  if (point <= 0) return `${sign}0.${"0".repeat(-point)}${digits}`;
  if (point >= digits.length) return sign + digits + "0".repeat(point - digits.length);
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

interface Observed {
  id: number;
  updatedAt: number;
  price: number;
  side: Side;
}

/**
 * Creates the CoinGecko source. Polls nothing until `start`.
 *
 * @example
 * const src = coingeckoSource({ ids: ["bitcoin"], symbols: { bitcoin: "BTC-USD.CG" } });
 */
export function coingeckoSource(options: CoingeckoOptions): Source {
  if (options.ids.length === 0) throw new Error("coingecko source: no ids");
  const vs = (options.vs ?? "usd").toLowerCase();
  const base = (options.baseUrl ?? "https://api.coingecko.com").replace(/\/$/, "");
  const url = `${base}/api/v3/simple/price?ids=${options.ids.map(encodeURIComponent).join(",")}&vs_currencies=${vs}&include_last_updated_at=true`;
  const interval = options.intervalMs ?? 60_000;
  const qty = options.qty ?? "0.00000001";
  const clock = options.clock ?? Date.now;
  const sleep = options.sleep ?? timerSleep;
  const http = options.fetch ?? fetch;
  const symbolOf = (id: string) => options.symbols?.[id] ?? `${id}-${vs}`.toUpperCase();
  const status: SourceStatus = { connected: false, reconnects: 0, backfilled: 0, gaps: 0, errors: 0, indicative: true };
  const seen = new Map<string, Observed>();

  const fail = (message: string) => {
    status.errors++;
    status.lastError = message;
    status.connected = false;
  };

  /** One poll → the new observations, and how long to wait before the next poll. */
  async function poll(signal: AbortSignal): Promise<{ trades: Trade[]; wait: number }> {
    let res: Response;
    try {
      res = await http(url, { signal, headers: { accept: "application/json", ...options.headers } });
    } catch (error) {
      if (!signal.aborted) fail(`poll: ${error instanceof Error ? error.message : String(error)}`);
      return { trades: [], wait: interval };
    }
    if (!res.ok) {
      const retry = Number(res.headers.get("retry-after"));
      fail(`poll: HTTP ${res.status}${res.status === 429 ? " (rate limited)" : ""}`);
      return { trades: [], wait: Math.max(interval, Number.isFinite(retry) ? retry * 1000 : 0) };
    }
    const body = (await res.json().catch(() => null)) as Record<string, Record<string, number>> | null;
    if (!body || typeof body !== "object") {
      fail("poll: response is not a JSON object");
      return { trades: [], wait: interval };
    }
    status.connected = true;
    const trades: Trade[] = [];
    for (const id of options.ids) {
      const price = body[id]?.[vs];
      if (typeof price !== "number" || !(price > 0) || !Number.isFinite(price)) {
        if (body[id] !== undefined) fail(`poll: ${id} has no positive ${vs} price`);
        continue;
      }
      const updated = body[id]?.last_updated_at;
      const updatedAt = typeof updated === "number" ? updated : Math.floor(clock() / 1000);
      const prev = seen.get(id);
      if (prev && updatedAt <= prev.updatedAt) continue;
      const side: Side = !prev ? "buy" : price > prev.price ? "buy" : price < prev.price ? "sell" : prev.side;
      const next: Observed = { id: prev ? prev.id + 1 : updatedAt, updatedAt, price, side };
      seen.set(id, next);
      trades.push({ symbol: symbolOf(id), id: next.id, price: plainDecimal(price), qty, ts: updatedAt * 1000, side });
    }
    return { trades, wait: interval };
  }

  return {
    name: "coingecko",
    ...lifecycle("coingecko", async (sink, signal) => {
      while (!signal.aborted) {
        const { trades, wait } = await poll(signal);
        if (trades.length && !signal.aborted) {
          status.lastTradeTs = trades[trades.length - 1]!.ts;
          await sink(trades);
        }
        await sleep(wait, signal);
      }
      status.connected = false;
    }),
    status: () => ({ ...status }),
  };
}
