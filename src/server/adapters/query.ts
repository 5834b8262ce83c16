import type { Alert, Candle } from "../../lib/types.ts";
import { AdapterError } from "./errors.ts";
import type { AlertQuery, CandleQuery } from "./types.ts";

const DECIMAL = /^(0|[1-9][0-9]*)(\.[0-9]*[1-9])?$/;
const PRICES = ["open", "high", "low", "close", "volume", "quoteVolume", "takerBuyVolume", "takerBuyQuoteVolume", "vwap"] as const;

/** Rows per page when a query names no limit. */
export const DEFAULT_LIMIT = 500;
/** Most rows one query returns. */
export const MAX_LIMIT = 5000;

/** Throws `INVALID_ARGUMENT` unless `candle` is storable: canonical decimals, integer times and counts. */
export function checkCandle(adapter: string, candle: Candle): void {
  const bad = (what: string) => new AdapterError(adapter, "INVALID_ARGUMENT", `candle ${candle?.symbol}/${candle?.interval}/${candle?.openTime}: ${what}`);
  if (typeof candle.symbol !== "string" || candle.symbol === "") throw bad("symbol must be a non-empty string");
  if (typeof candle.interval !== "string" || candle.interval === "") throw bad("interval must be a non-empty string");
  if (!Number.isSafeInteger(candle.openTime)) throw bad("openTime must be an integer");
  for (const key of PRICES) if (typeof candle[key] !== "string" || !DECIMAL.test(candle[key])) throw bad(`${key} must be a canonical decimal string`);
  if (!Number.isSafeInteger(candle.trades) || candle.trades < 0) throw bad("trades must be a non-negative integer");
  if (!Number.isSafeInteger(candle.rev) || candle.rev < 0) throw bad("rev must be a non-negative integer");
  if (typeof candle.final !== "boolean") throw bad("final must be a boolean");
}

/** Throws `INVALID_ARGUMENT` unless `alert` has an id, symbol, integer ts and finite numbers. */
export function checkAlert(adapter: string, alert: Alert): void {
  const ok = typeof alert.id === "string" && alert.id !== "" && typeof alert.symbol === "string" && alert.symbol !== ""
    && Number.isSafeInteger(alert.ts) && Number.isFinite(alert.value) && Number.isFinite(alert.threshold);
  if (!ok) throw new AdapterError(adapter, "INVALID_ARGUMENT", `alert ${alert?.id}: needs id, symbol, integer ts, finite value and threshold`);
}

/** A candle query with defaults applied and its cursor decoded into `from`. */
export function candleRange(adapter: string, query: CandleQuery = {}): { from: number; to: number; limit: number } {
  let from = query.from ?? Number.MIN_SAFE_INTEGER;
  if (query.cursor !== undefined) {
    const at = /^c([0-9]+|-[0-9]+)$/.exec(query.cursor);
    if (!at) throw new AdapterError(adapter, "INVALID_ARGUMENT", `cursor "${query.cursor}" was not made by this store`);
    from = Math.max(from, Number(at[1]));
  }
  return { from, to: query.to ?? Number.MAX_SAFE_INTEGER, limit: limitOf(adapter, query.limit, DEFAULT_LIMIT) };
}

/** Cursor for the page that starts at `openTime`. */
export function cursorAt(openTime: number): string {
  return `c${openTime}`;
}

/** An alert query with defaults applied. */
export function alertRange(adapter: string, query: AlertQuery = {}): { symbol?: string; since: number; limit: number } {
  return { symbol: query.symbol, since: query.since ?? Number.MIN_SAFE_INTEGER, limit: limitOf(adapter, query.limit, 100) };
}

function limitOf(adapter: string, limit: number | undefined, fallback: number): number {
  if (limit === undefined) return fallback;
  if (!Number.isSafeInteger(limit) || limit < 1) throw new AdapterError(adapter, "INVALID_ARGUMENT", `limit must be a positive integer, got ${limit}`);
  return Math.min(limit, MAX_LIMIT);
}
