import { parseDecimal, parsed } from "./decimal.ts";
import type { RejectReason } from "./types.ts";

/** 2000-01-01 and 2200-01-01 in epoch ms: trade times outside are absurd. */
export const MIN_TS = 946_684_800_000;
export const MAX_TS = 7_258_118_400_000;

/** Registers filled by a successful `checkTrade` (the core is single-threaded). */
export const valid = { pm: 0, pe: 0, qm: 0, qe: 0, ts: 0, count: 1 };

/** The last valid price text of a symbol and its parse: consecutive trades often share it. */
export interface PriceCache {
  lastPrice: string;
  lastPM: number;
  lastPE: number;
}

/** Why a trade was refused. */
export interface Rejection {
  reason: RejectReason;
  detail: string;
}

/**
 * Trade time in ms from ms, µs or ns, told apart by magnitude; NaN when absurd.
 * Windows floor to whole milliseconds, so µs and ns inputs are floored too.
 */
export function normalizeTs(ts: number): number {
  if (ts >= MIN_TS && ts <= MAX_TS) return Math.floor(ts);
  if (ts >= MIN_TS * 1e3 && ts <= MAX_TS * 1e3) return Math.floor(ts / 1e3);
  if (ts >= MIN_TS * 1e6 && ts <= MAX_TS * 1e6) return Math.floor(ts / 1e6);
  return NaN;
}

/**
 * Checks one untrusted trade-shaped value. On success returns null and fills `valid`;
 * otherwise returns why not, with a detail for people.
 */
export function checkTrade(t: any, cache: PriceCache): Rejection | null {
  if (t === null || typeof t !== "object") return { reason: "symbol", detail: "trade is not an object" };
  const symbol = t.symbol;
  if (typeof symbol !== "string" || symbol.length === 0 || symbol.length > 64) {
    return { reason: "symbol", detail: "symbol must be a non-empty string of at most 64 characters" };
  }
  const id = t.id;
  if (typeof id !== "number" || !Number.isSafeInteger(id) || id < 0) {
    return { reason: "id", detail: `id ${String(id)} is not a non-negative integer` };
  }
  const price = t.price;
  if (typeof price !== "string") return { reason: "price", detail: "price must be a decimal string" };
  // A symbol's consecutive trades often print the same price (6 in 10 on a busy book): parse it once.
  if (price !== cache.lastPrice) {
    const failure = parseDecimal(price);
    if (failure !== null) return decimalRejection("price", price, failure);
    if (parsed.m === 0) return { reason: "price", detail: `price "${price}" must be > 0` };
    cache.lastPrice = price;
    cache.lastPM = parsed.m;
    cache.lastPE = parsed.e;
  }
  valid.pm = cache.lastPM;
  valid.pe = cache.lastPE;
  const qty = t.qty;
  if (typeof qty !== "string") return { reason: "qty", detail: "qty must be a decimal string" };
  const failure = parseDecimal(qty);
  if (failure !== null) return decimalRejection("qty", qty, failure);
  if (parsed.m === 0) return { reason: "qty", detail: `qty "${qty}" must be > 0` };
  valid.qm = parsed.m;
  valid.qe = parsed.e;
  const ts = typeof t.ts === "number" ? normalizeTs(t.ts) : NaN;
  if (ts !== ts) return { reason: "ts", detail: `ts ${String(t.ts)} is not an epoch time in ms, µs or ns between 2000 and 2200` };
  valid.ts = ts;
  const side = t.side;
  if (side !== "buy" && side !== "sell") return { reason: "side", detail: `side ${JSON.stringify(side)} is not "buy" or "sell"` };
  const count = t.count;
  if (count === undefined) valid.count = 1;
  else if (typeof count === "number" && Number.isSafeInteger(count) && count >= 1) valid.count = count;
  else return { reason: "count", detail: `count ${String(count)} is not a positive integer` };
  return null;
}

function decimalRejection(field: "price" | "qty", text: string, failure: "syntax" | "precision"): Rejection {
  const shown = text.length > 40 ? `${text.slice(0, 40)}…` : text;
  return failure === "syntax"
    ? { reason: field, detail: `${field} "${shown}" is not a non-negative decimal` }
    : { reason: "precision", detail: `${field} "${shown}" has more than 15 significant digits or 18 decimals` };
}
