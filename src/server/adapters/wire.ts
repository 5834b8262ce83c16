/**
 * How trades and candles look on the wire of the networked adapters (Kafka records, Redis
 * values, Redis stream entries): one place to check them, with no client dependency, so
 * edge adapters and server adapters share it.
 */
import type { TradeBatch } from "../../lib/batch.ts";
import type { Candle, Trade } from "../../lib/types.ts";
import { AdapterError } from "./errors.ts";
import type { LogRecord, PoisonRecord } from "./types.ts";
import { scanWireTrade } from "./wire-scan.ts";

/** Longest raw text a poison record keeps. */
export const RAW_LIMIT = 4096;

const SIDES = new Set(["buy", "sell"]);

/** Why `value` is not a trade object, or `undefined` when it is one (types only: values are the engine's to judge). */
export function notATrade(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "not a JSON object";
  const t = value as Record<string, unknown>;
  for (const key of ["symbol", "price", "qty"]) if (typeof t[key] !== "string") return `${key} must be a string`;
  for (const key of ["id", "ts"]) if (typeof t[key] !== "number") return `${key} must be a number`;
  if (!SIDES.has(t.side as string)) return 'side must be "buy" or "sell"';
  if (t.count !== undefined && typeof t.count !== "number") return "count must be a number";
  return undefined;
}

/** One log entry's text as a record: a trade, or a poison record saying why it is none. */
export function tradeRecord(offset: number, raw: string): LogRecord | PoisonRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return { offset, raw: raw.slice(0, RAW_LIMIT), reason: "not JSON" };
  }
  const why = notATrade(parsed);
  return why === undefined ? { offset, trade: parsed as Trade } : { offset, raw: raw.slice(0, RAW_LIMIT), reason: why };
}

/**
 * One log entry's text into `batch`, as {@link tradeRecord} then `batch.push` would put it:
 * scanned in place when it has the appenders' shape. Returns the poison record when it is
 * no trade, else undefined (the trade is the batch's newest row, valid or rejected).
 */
export function tradeInto(offset: number, raw: string, batch: TradeBatch): PoisonRecord | undefined {
  if (scanWireTrade(raw, batch)) return undefined;
  const record = tradeRecord(offset, raw);
  if (!("trade" in record)) return record;
  batch.push(record.trade);
  return undefined;
}

/** A cached latest candle read back; text that is not candle JSON is `CORRUPT`, named by `adapter`. */
export function latestCandle(adapter: string, json: string, symbol: string, interval: string): Candle {
  try {
    return JSON.parse(json) as Candle;
  } catch (e) {
    throw new AdapterError(adapter, "CORRUPT", `latest ${symbol} ${interval} is not candle JSON`, { cause: e });
  }
}
