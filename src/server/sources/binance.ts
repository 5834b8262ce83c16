/**
 * Binance spot live trades: one combined-stream WebSocket for every symbol, reconnecting
 * with jittered backoff, rotating before Binance's 24-hour connection cut, and filling
 * every hole from REST by trade id so the output has no gap and no duplicate.
 */
import { decodeBinanceWs } from "../../lib/binance.ts";
import type { Trade } from "../../lib/types.ts";
import { backoff, sleep as timerSleep, type BackoffOptions } from "./backoff.ts";
import { fedLifecycle, shedder, type Feed } from "./feed.ts";
import { feedGaps, type FetchRange, type Gaps } from "./gaps.ts";
import { reconnecting, session } from "./socket.ts";
import type { Sleep, Source, SourceStatus } from "./types.ts";

/** Options of {@link binanceSource}. */
export interface BinanceOptions {
  /** Symbols, e.g. `["BTCUSDT", "ETHUSDT"]` (case-insensitive; trades carry the upper-case form). */
  symbols: string[];
  /**
   * `trade` (default): the `<sym>@trade` stream, gaps filled from `GET /api/v3/historicalTrades`.
   * `aggTrade`: the `<sym>@aggTrade` stream, gaps filled from `GET /api/v3/aggTrades`.
   * The pair is fixed because the two number their records differently (trade id vs aggregate id).
   */
  kind?: "trade" | "aggTrade";
  /** WebSocket base; default `wss://stream.binance.com:9443`. */
  wsUrl?: string;
  /** REST base; default `https://api.binance.com`. */
  restUrl?: string;
  /** Sent as `X-MBX-APIKEY` on REST calls, for deployments where historicalTrades wants one. */
  apiKey?: string;
  /** Rows per REST page; default 1000 (Binance's maximum). */
  restLimit?: number;
  /** Most trades fetched to fill one hole before it is accepted as a gap; default 100 000. */
  maxBackfill?: number;
  /** Last id already delivered per symbol (from the driver's checkpoint): the gap since then is filled first. */
  resumeAfter?: Record<string, number>;
  /** Reconnect on purpose after this long; default 23 h 50 min (Binance cuts connections at 24 h). */
  maxConnectionMs?: number;
  /** Trades queued for a slow sink before the connection is dropped and later backfilled; default 100 000. */
  maxBacklog?: number;
  /** Reconnect when no message arrived for this long; default 120 000; 0 turns it off. */
  idleMs?: number;
  /** Reconnect delays; default 500 ms doubling to 30 s, jittered. */
  backoff?: BackoffOptions;
  /** Injectable wait, for tests. */
  sleep?: Sleep;
  /** Injectable fetch, for tests. */
  fetch?: typeof fetch;
}

/** A Binance source that also reports its id cursor (the driver may store it as offsets). */
export interface BinanceSource extends Source {
  /** The last trade id delivered per symbol. */
  cursor(): Record<string, number>;
}

interface HistoricalTrade {
  id: number;
  price: string;
  qty: string;
  time: number;
  isBuyerMaker: boolean;
}

interface AggTrade {
  a: number;
  p: string;
  q: string;
  f: number;
  l: number;
  T: number;
  m: boolean;
}

/**
 * Creates the Binance source. Opens nothing until `start`.
 *
 * Keep-alive: Binance sends a ping frame every 20 s and drops clients that do not pong
 * within a minute; Bun's WebSocket client pongs by itself (checked in `binance.test.ts`).
 *
 * @example
 * const src = binanceSource({ symbols: ["BTCUSDT", "ETHUSDT"] });
 * const run = src.start((trades) => engine.ingestMany(trades));
 */
export function binanceSource(options: BinanceOptions): BinanceSource {
  const kind = options.kind ?? "trade";
  const symbols = options.symbols.map((s) => s.toUpperCase());
  if (symbols.length === 0) throw new Error("binance source: no symbols");
  const wsUrl = (options.wsUrl ?? "wss://stream.binance.com:9443").replace(/\/$/, "");
  const restUrl = (options.restUrl ?? "https://api.binance.com").replace(/\/$/, "");
  const limit = options.restLimit ?? 1000;
  const sleep = options.sleep ?? timerSleep;
  const http = options.fetch ?? fetch;
  const streams = symbols.map((s) => `${s.toLowerCase()}@${kind}`).join("/");
  const status: SourceStatus = { connected: false, reconnects: 0, backfilled: 0, gaps: 0, errors: 0 };
  let gaps: Gaps | undefined;

  const fail = (message: string) => {
    status.errors++;
    status.lastError = message;
  };

  const fetchRange: FetchRange = async function* (symbol, after, before, signal) {
    let from = after + 1;
    for (;;) {
      const path = kind === "trade" ? "historicalTrades" : "aggTrades";
      const url = `${restUrl}/api/v3/${path}?symbol=${symbol}&fromId=${from}&limit=${limit}`;
      const res = await http(url, { signal, headers: options.apiKey ? { "X-MBX-APIKEY": options.apiKey } : {} });
      if (!res.ok) throw new Error(`GET ${path} ${res.status}: ${(await res.text()).slice(0, 200)}`);
      const rows = (await res.json()) as unknown[];
      const page = rows.map((row) => (kind === "trade" ? fromHistorical(symbol, row as HistoricalTrade) : fromAgg(symbol, row as AggTrade)));
      yield page;
      const last = page[page.length - 1];
      if (!last || page.length < limit || (before !== undefined && last.id >= before - 1)) return;
      from = last.id + 1;
    }
  };

  async function run(out: Feed, signal: AbortSignal): Promise<void> {
    const ids = (gaps = feedGaps(out, {
      fetch: fetchRange, fail, status, signal, sleep, maxBackfill: options.maxBackfill, backoff: options.backoff,
    }));
    for (const [symbol, id] of Object.entries(options.resumeAfter ?? {})) ids.resume(symbol.toUpperCase(), id);
    const wait = backoff(options.backoff);
    const load = shedder(out, options.maxBacklog ?? 100_000, status);
    await reconnecting({
      signal, status, fail, sleep, wait, load,
      connect: (live) => session(
        `${wsUrl}/stream?streams=${streams}`,
        {
          open: () => {
            status.connected = true;
            ids.reopened();
          },
          message: (text) => {
            let trade: Trade | null;
            try {
              trade = decodeBinanceWs(text);
            } catch (error) {
              return fail(`bad message: ${error instanceof Error ? error.message : String(error)}`);
            }
            if (trade) ids.accept(trade);
            load.check();
          },
        },
        live,
        { idleMs: options.idleMs ?? 120_000, maxAgeMs: options.maxConnectionMs ?? 85_800_000 },
      ),
    });
  }

  return {
    name: "binance",
    ...fedLifecycle("binance", run),
    status: () => ({ ...status }),
    cursor: () => gaps?.cursor() ?? { ...(options.resumeAfter ?? {}) },
  };
}

function fromHistorical(symbol: string, row: HistoricalTrade): Trade {
  return { symbol, id: row.id, price: row.price, qty: row.qty, ts: row.time, side: row.isBuyerMaker ? "sell" : "buy" };
}

function fromAgg(symbol: string, row: AggTrade): Trade {
  return { symbol, id: row.a, price: row.p, qty: row.q, ts: row.T, side: row.m ? "sell" : "buy", count: row.l - row.f + 1 };
}
