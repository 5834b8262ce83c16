/**
 * The scheduled pull: each symbol's aggregate trades after the last id its object committed,
 * from the exchange's REST API (Binance `GET /api/v3/aggTrades?symbol=&fromId=&limit=1000`),
 * page by page into the symbol's object. No long-lived exchange socket is needed: each cron
 * run continues where the last commit left off, and a page pulled twice is dropped by trade id.
 * With Upstash on, each run also has every object follow its partition of the trade log.
 */
import { decodeBinanceWs } from "../../../lib/binance.ts";
import type { Trade } from "../../../lib/types.ts";
import type { Followed } from "./durable-object.ts";
import { settings, type Env } from "./env.ts";

/** Rows per page: Binance's most. */
const PAGE = 1000;

/** One page of `symbol`'s aggregate trades with ids above `after` (the latest ones when `after` is unknown), at most `limit` (≤ 1000). */
export async function aggTrades(restUrl: string, symbol: string, after: number | undefined, http: typeof fetch = fetch, limit = PAGE): Promise<Trade[]> {
  const from = after === undefined ? "" : `&fromId=${after + 1}`;
  const res = await http(`${restUrl}/api/v3/aggTrades?symbol=${encodeURIComponent(symbol)}${from}&limit=${limit}`);
  if (!res.ok) throw new Error(`GET aggTrades ${symbol} ${res.status}: ${(await res.text()).slice(0, 200)}`);
  const rows = (await res.json()) as unknown;
  if (!Array.isArray(rows)) throw new Error(`GET aggTrades ${symbol}: expected an array`);
  // A REST row has the fields of the aggTrade stream event: the stream's decoder checks it.
  return rows.map((row) => decodeBinanceWs(JSON.stringify({ ...(row as object), e: "aggTrade", s: symbol }))!);
}

/** What one symbol's pull did. */
export interface Pulled {
  symbol: string;
  trades: number;
  error?: string;
}

/**
 * Pulls every configured symbol, at most `PULL_PAGES` pages each, one call into the object per
 * page (pages of `TRADES_PER_CALL` rows when that is under 1000); a failing symbol does not
 * stop the others.
 */
export async function pullAll(env: Env): Promise<Pulled[]> {
  const { symbols, restUrl, pullPages, tradesPerCall } = settings(env);
  if (!restUrl) return [];
  const limit = Math.min(PAGE, tradesPerCall);
  return Promise.all(symbols.map(async (symbol): Promise<Pulled> => {
    const object = env.CANDLES.get(env.CANDLES.idFromName(symbol));
    let trades = 0;
    try {
      let after = await object.cursor();
      for (let page = 0; page < pullPages; page++) {
        const got = await aggTrades(restUrl, symbol, after, fetch, limit);
        if (got.length === 0) break;
        after = got[got.length - 1]!.id;
        await object.ingest(symbol, got, after);
        trades += got.length;
        if (got.length < limit) break;
      }
      return { symbol, trades };
    } catch (e) {
      return { symbol, trades, error: e instanceof Error ? e.message : String(e) };
    }
  }));
}

/** What one symbol's follow of the Upstash trade log did. */
export interface FollowedBy {
  symbol: string;
  followed?: Followed;
  error?: string;
}

/** Has every configured symbol's object read its partition of the Upstash trade log; none when Upstash is off. */
export async function followAll(env: Env): Promise<FollowedBy[]> {
  const { symbols, upstash } = settings(env);
  if (!upstash) return [];
  return Promise.all(symbols.map(async (symbol): Promise<FollowedBy> => {
    try {
      const followed = await env.CANDLES.get(env.CANDLES.idFromName(symbol)).follow(symbol);
      return followed ? { symbol, followed } : { symbol };
    } catch (e) {
      return { symbol, error: e instanceof Error ? e.message : String(e) };
    }
  }));
}
