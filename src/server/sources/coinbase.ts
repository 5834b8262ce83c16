/**
 * Coinbase Exchange live trades from the WebSocket `matches` channel, reconnecting with
 * jittered backoff. A skipped `trade_id` is a gap: counted, answered with a resubscribe,
 * and filled from `GET /products/<id>/trades` so the output stays contiguous.
 *
 * Why trade_id and not `sequence`: `sequence` numbers every message of the product's full
 * feed, so on the matches channel alone it jumps between consecutive trades all the time.
 * It is still used, to drop stale or repeated messages (a sequence not above the last one).
 */
import type { Trade } from "../../lib/types.ts";
import { backoff, sleep as timerSleep, type BackoffOptions } from "./backoff.ts";
import { fedLifecycle, shedder, type Feed } from "./feed.ts";
import { feedGaps, type FetchRange } from "./gaps.ts";
import { reconnecting, session } from "./socket.ts";
import type { Sleep, Source, SourceStatus } from "./types.ts";

/** Options of {@link coinbaseSource}. */
export interface CoinbaseOptions {
  /** Product ids, e.g. `["BTC-USD", "ETH-USD"]`. */
  products: string[];
  /** Trade symbol for a product id; default the product id itself (`BTC-USD`). */
  symbol?: (productId: string) => string;
  /** WebSocket URL; default `wss://ws-feed.exchange.coinbase.com`. */
  wsUrl?: string;
  /** REST base; default `https://api.exchange.coinbase.com`. */
  restUrl?: string;
  /** Rows per REST page; default 1000 (the maximum). */
  restLimit?: number;
  /** Most trades fetched to fill one hole before it is accepted as a gap; default 100 000. */
  maxBackfill?: number;
  /** Least time between two gap-triggered resubscribes of one product, ms; default 30 000. */
  resubscribeMs?: number;
  /** Trades queued for a slow sink before the connection is dropped and later backfilled; default 100 000. */
  maxBacklog?: number;
  /** Reconnect when no message arrived for this long (the heartbeat channel keeps quiet products talking); default 30 000; 0 turns it off. */
  idleMs?: number;
  /** Reconnect delays; default 500 ms doubling to 30 s, jittered. */
  backoff?: BackoffOptions;
  /** Injectable wait, for tests. */
  sleep?: Sleep;
  /** Injectable fetch, for tests. */
  fetch?: typeof fetch;
}

/** A `match` / `last_match` message, and a REST trade row (which lacks the WebSocket-only fields). */
interface Match {
  type?: string;
  trade_id: number;
  sequence?: number;
  product_id?: string;
  price: string;
  size: string;
  side: "buy" | "sell";
  time: string;
}

/** ISO-8601 with µs → epoch ms (the fraction beyond ms is cut, not rounded, so ms windows match the exchange's). */
export function isoMs(time: string): number {
  const ms = Date.parse(time.replace(/(\.\d{3})\d+/, "$1"));
  if (!Number.isFinite(ms)) throw new Error(`bad time ${JSON.stringify(time)}`);
  return ms;
}

/** A Coinbase match → Trade. Coinbase's `side` is the maker's; the taker did the opposite. */
export function fromMatch(symbol: string, m: Match): Trade {
  if (!Number.isSafeInteger(m.trade_id) || typeof m.price !== "string" || typeof m.size !== "string") {
    throw new Error(`bad match ${JSON.stringify(m).slice(0, 120)}`);
  }
  if (m.side !== "buy" && m.side !== "sell") throw new Error(`bad side ${JSON.stringify(m.side)}`);
  return { symbol, id: m.trade_id, price: m.price, qty: m.size, ts: isoMs(m.time), side: m.side === "buy" ? "sell" : "buy" };
}

/**
 * Creates the Coinbase source. Opens nothing until `start`.
 *
 * @example
 * const src = coinbaseSource({ products: ["BTC-USD"] });
 * const run = src.start((trades) => log.append(trades));
 */
export function coinbaseSource(options: CoinbaseOptions): Source {
  const products = options.products;
  if (products.length === 0) throw new Error("coinbase source: no products");
  const symbolOf = options.symbol ?? ((p: string) => p);
  const productOf = new Map(products.map((p) => [symbolOf(p), p]));
  const wsUrl = options.wsUrl ?? "wss://ws-feed.exchange.coinbase.com";
  const restUrl = (options.restUrl ?? "https://api.exchange.coinbase.com").replace(/\/$/, "");
  const limit = options.restLimit ?? 1000;
  const sleep = options.sleep ?? timerSleep;
  const http = options.fetch ?? fetch;
  const status: SourceStatus = { connected: false, reconnects: 0, backfilled: 0, gaps: 0, errors: 0 };

  const fail = (message: string) => {
    status.errors++;
    status.lastError = message;
  };
  const subscribe = (ws: WebSocket, ids: string[]) =>
    ws.send(JSON.stringify({ type: "subscribe", product_ids: ids, channels: ["matches", "heartbeat"] }));

  // Coinbase pages newest first: `after=<id>` gives trades older than id.
  const fetchRange: FetchRange = async function* (symbol, after, before, signal) {
    const product = productOf.get(symbol) ?? symbol;
    let cursor = before;
    for (;;) {
      const query = cursor === undefined ? `limit=${limit}` : `after=${cursor}&limit=${limit}`;
      const res = await http(`${restUrl}/products/${product}/trades?${query}`, { signal });
      if (!res.ok) throw new Error(`GET trades ${res.status}: ${(await res.text()).slice(0, 200)}`);
      const page = ((await res.json()) as Match[]).map((m) => fromMatch(symbol, m));
      yield page;
      const oldest = page.reduce((min, t) => Math.min(min, t.id), Infinity);
      if (page.length < limit || oldest <= after + 1) return;
      cursor = oldest;
    }
  };

  async function run(out: Feed, signal: AbortSignal): Promise<void> {
    const ids = feedGaps(out, {
      fetch: fetchRange, fail, status, signal, sleep, maxBackfill: options.maxBackfill, backoff: options.backoff,
    });
    const sequence = new Map<string, number>();
    const resubscribed = new Map<string, number>();
    const wait = backoff(options.backoff);
    const load = shedder(out, options.maxBacklog ?? 100_000, status);
    await reconnecting({
      signal, status, fail, sleep, wait, load,
      connect: (live) => session(
        wsUrl,
        {
          open: (ws) => {
            status.connected = true;
            // Sequences only order messages within a connection; across connections trade ids dedupe.
            sequence.clear();
            subscribe(ws, products);
            ids.reopened();
          },
          message: (text, ws) => {
            let msg: Match & { message?: string; reason?: string };
            try {
              msg = JSON.parse(text);
            } catch {
              return fail(`bad message: ${text.slice(0, 120)}`);
            }
            if (msg.type === "error") return fail(`coinbase: ${msg.message ?? ""} ${msg.reason ?? ""}`.trim());
            if (msg.type !== "match" && msg.type !== "last_match") return;
            const product = msg.product_id ?? "";
            const seq = msg.sequence ?? 0;
            if (seq <= (sequence.get(product) ?? -1)) return;
            sequence.set(product, seq);
            let trade: Trade;
            try {
              trade = fromMatch(symbolOf(product), msg);
            } catch (error) {
              return fail(error instanceof Error ? error.message : String(error));
            }
            if (ids.accept(trade)) {
              const now = Date.now();
              if (now - (resubscribed.get(product) ?? -Infinity) >= (options.resubscribeMs ?? 30_000)) {
                resubscribed.set(product, now);
                subscribe(ws, [product]);
              }
            }
            load.check();
          },
        },
        live,
        { idleMs: options.idleMs ?? 30_000 },
      ),
    });
  }

  return {
    name: "coinbase",
    ...fedLifecycle("coinbase", run),
    status: () => ({ ...status }),
  };
}
