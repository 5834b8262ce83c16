/**
 * What the SQL stores (SQLite, PostgreSQL) share: the candle columns, the upsert guard and
 * the row mapping, so both keep one rule and one shape.
 */
import type { Alert, Candle } from "../../lib/types.ts";

/** Candle columns in table order. */
export const CANDLE_COLUMNS = `symbol, "interval", open_time, open, high, low, close, volume, quote_volume, trades,
  taker_buy_volume, taker_buy_quote_volume, vwap, rev, final`;

/**
 * The tail of the candle upsert: on a key already stored, every other column is replaced,
 * but only where `supersedes(excluded, stored)` of candle-order.ts holds, here in SQL. `stored`
 * names the table (or its alias) in the INSERT.
 */
export const upsertGuard = (stored: string) => `
ON CONFLICT (symbol, "interval", open_time) DO UPDATE SET
  open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close,
  volume = excluded.volume, quote_volume = excluded.quote_volume, trades = excluded.trades,
  taker_buy_volume = excluded.taker_buy_volume, taker_buy_quote_volume = excluded.taker_buy_quote_volume,
  vwap = excluded.vwap, rev = excluded.rev, final = excluded.final
WHERE CASE WHEN ${stored}.final THEN excluded.final AND excluded.rev > ${stored}.rev
           ELSE excluded.final OR excluded.trades >= ${stored}.trades END`;

/** A candle row as a driver returns it: integers as numbers, or as strings (bigint); `final` as a boolean, or 0/1. */
export interface CandleRow {
  symbol: string; interval: string; open_time: number | string; open: string; high: string; low: string; close: string;
  volume: string; quote_volume: string; trades: number | string; taker_buy_volume: string; taker_buy_quote_volume: string;
  vwap: string; rev: number | string; final: boolean | number;
}

/** An alert row as a driver returns it. */
export interface AlertRow {
  id: string; rule: Alert["rule"]; symbol: string; interval: string | null; ts: number | string; value: number; threshold: number; message: string;
}

/** The candle of a row; integers were safe integers when written, so `Number` is exact. */
export const toCandle = (r: CandleRow): Candle => ({
  symbol: r.symbol, interval: r.interval, openTime: Number(r.open_time), open: r.open, high: r.high, low: r.low, close: r.close,
  volume: r.volume, quoteVolume: r.quote_volume, trades: Number(r.trades), takerBuyVolume: r.taker_buy_volume,
  takerBuyQuoteVolume: r.taker_buy_quote_volume, vwap: r.vwap, rev: Number(r.rev), final: Boolean(r.final),
});

/** The alert of a row; a NULL interval is left out, as it was when written. */
export const toAlert = (r: AlertRow): Alert => ({
  id: r.id, rule: r.rule, symbol: r.symbol, ...(r.interval === null ? {} : { interval: r.interval }),
  ts: Number(r.ts), value: r.value, threshold: r.threshold, message: r.message,
});
