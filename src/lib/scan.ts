/**
 * A scanner for the exact shapes Binance sends on its spot `@trade` and `@aggTrade`
 * streams (bare or combined-stream), reading fields in place: no JSON.parse, no object,
 * and prices and quantities parsed into exact mantissas while their digits go by.
 *
 * It accepts a strict subset of JSON: anything it does not fully understand (another key,
 * escapes, whitespace, a repeated key, a number with a sign, fraction or exponent, a
 * decimal the core would refuse) makes it answer false, and the caller parses the line
 * properly. So it is never less strict than the full decoder, only faster.
 */
import { MAX_SCALE, POW10 } from "./decimal.ts";

const MAX = Number.MAX_SAFE_INTEGER;
const STREAM_HEAD = '{"stream":"';
const DATA_HEAD = '","data":{';

/** What the last successful {@link scanTrade} found (the core is single-threaded). */
export const scanned = {
  symbol: "", id: 0, ts: 0, pm: 0, pe: 0, qm: 0, qe: 0, buy: false, count: 1, agg: false,
  /** Where the price and quantity text sit in the line (for decoders that keep the text). */
  p0: 0, p1: 0, q0: 0, q1: 0,
};

// Symbols repeat line after line: the last one, then a small table keyed by a hash of the
// symbol's characters, give back an existing string instead of a new one per message.
let recent = "";
const SYMBOLS: string[] = new Array<string>(256).fill("");

/** Line generation per key letter, to catch a repeated key without clearing anything. */
const seen = new Uint32Array(128);
let generation = 0;

/** What the last successful {@link scanDecimal} read: value = m · 10^-e, trailing zeros dropped. */
export const decimal = { m: 0, e: 0 };

/**
 * Reads `[0-9]+(\.[0-9]+)?` from `at` into {@link decimal}, as the engine would accept it
 * (positive, exact, at most 18 decimals). Returns where it stopped, or -1.
 */
export function scanDecimal(line: string, at: number): number {
  let i = at;
  let c = 0;
  let m = 0;
  while ((c = line.charCodeAt(i) - 48) >= 0 && c <= 9) {
    m = m * 10 + c;
    i++;
  }
  if (i === at) return -1;
  let e = 0;
  if (c === -2) {
    const dot = ++i;
    let zeros = 0;
    while ((c = line.charCodeAt(i) - 48) >= 0 && c <= 9) {
      if (c === 0) zeros++;
      else {
        m = (zeros === 0 ? m * 10 : zeros < 22 ? m * POW10[zeros + 1]! : Infinity) + c;
        zeros = 0;
      }
      i++;
    }
    if (i === dot) return -1;
    e = i - dot - zeros;
  }
  // Digits are ≥ 0, so m only grows: one check at the end catches any overflow.
  if (m > MAX || m === 0 || e > MAX_SCALE) return -1;
  decimal.m = m;
  decimal.e = e;
  return i;
}

/** What the last successful {@link scanInt} read. */
export const integer = { v: 0 };

/** Reads a non-negative integer below 10^15 without leading zeros from `at` into {@link integer}. Returns where it stopped, or -1. */
export function scanInt(line: string, at: number): number {
  let i = at;
  let c = 0;
  let v = 0;
  while ((c = line.charCodeAt(i) - 48) >= 0 && c <= 9) {
    v = v * 10 + c;
    i++;
  }
  const n = i - at;
  if (n === 0 || n > 15 || (n > 1 && line.charCodeAt(at) === 48)) return -1;
  integer.v = v;
  return i;
}

/**
 * Scans one line. True when it is a spot trade or aggTrade of the known shape and every
 * field is fine for the core: `scanned` then holds it. False means "not sure": parse it.
 */
export function scanTrade(line: string): boolean {
  let i = 0;
  let wrapped = false;
  let c = 0;
  if (line.startsWith(STREAM_HEAD)) {
    i = STREAM_HEAD.length;
    // Stream names are plain ASCII (`btcusdt@trade`); a quote, backslash or space goes to the parser.
    while ((c = line.charCodeAt(i)) > 34 && c !== 92 && c < 127) i++;
    if (c !== 34 || !line.startsWith(DATA_HEAD, i)) return false;
    i += DATA_HEAD.length;
    wrapped = true;
  } else if (line.charCodeAt(0) === 123) i = 1;
  else return false;

  let agg = false;
  if (line.startsWith('"e":"trade"', i)) i += 11;
  else if (line.startsWith('"e":"aggTrade"', i)) {
    agg = true;
    i += 14;
  } else return false;

  const gen = ++generation === 0xffffffff ? (generation = 1) : generation;
  let symbol = "";
  let id = -1, first = -1, last = -1, ts = -1, maker = -1;
  let pm = -1, pe = 0, qm = -1, qe = 0;
  for (;;) {
    c = line.charCodeAt(i);
    if (c === 125) break;
    // `,"k":` with a one-letter key.
    if (c !== 44 || line.charCodeAt(i + 1) !== 34 || line.charCodeAt(i + 3) !== 34 || line.charCodeAt(i + 4) !== 58) return false;
    const key = line.charCodeAt(i + 2);
    if (key >= 128 || seen[key] === gen) return false;
    seen[key] = gen;
    i += 5;
    if (key === 112 || key === 113) {
      // p, q: "digits[.digits]" the core accepts.
      if (line.charCodeAt(i) !== 34) return false;
      const start = i + 1;
      i = scanDecimal(line, start);
      if (i < 0 || line.charCodeAt(i) !== 34) return false;
      const m = decimal.m;
      const e = decimal.e;
      if (key === 112) {
        scanned.p0 = start;
        scanned.p1 = i;
        pm = m;
        pe = e;
      } else {
        scanned.q0 = start;
        scanned.q1 = i;
        qm = m;
        qe = e;
      }
      i++;
    } else if (key === 115) {
      // s: [A-Z0-9]+
      if (line.charCodeAt(i) !== 34) return false;
      const start = ++i;
      if (recent !== "" && line.startsWith(recent, i) && line.charCodeAt(i + recent.length) === 34) {
        symbol = recent;
        i += recent.length;
      } else {
        let h = 0;
        while (((c = line.charCodeAt(i)) >= 65 && c <= 90) || (c >= 48 && c <= 57)) {
          h = (h * 31 + c) & 255;
          i++;
        }
        if (i === start || c !== 34 || i - start > 64) return false;
        symbol = SYMBOLS[h]!;
        if (symbol.length !== i - start || !line.startsWith(symbol, start)) symbol = SYMBOLS[h] = line.slice(start, i);
        recent = symbol;
      }
      i++;
    } else if (key === 109 || key === 77) {
      // m, M: true | false
      let v = -1;
      if (line.startsWith("true", i)) {
        v = 1;
        i += 4;
      } else if (line.startsWith("false", i)) {
        v = 0;
        i += 5;
      } else return false;
      if (key === 109) maker = v;
    } else {
      // E, T, t, a, f, l: non-negative integers.
      if (key !== 69 && key !== 84 && key !== (agg ? 97 : 116) && (!agg || (key !== 102 && key !== 108))) return false;
      i = scanInt(line, i);
      if (i < 0) return false;
      const v = integer.v;
      if (key === 84) ts = v;
      else if (key === 116 || key === 97) id = v;
      else if (key === 102) first = v;
      else if (key === 108) last = v;
    }
  }
  i++;
  if (wrapped && line.charCodeAt(i++) !== 125) return false;
  if (i !== line.length || symbol === "" || pm < 0 || qm < 0 || ts <= 0 || maker < 0 || id < 0) return false;
  if (agg && (first < 0 || last < first)) return false;
  scanned.symbol = symbol;
  scanned.id = id;
  scanned.ts = ts;
  scanned.pm = pm;
  scanned.pe = pe;
  scanned.qm = qm;
  scanned.qe = qe;
  scanned.buy = maker === 0;
  scanned.count = agg ? last - first + 1 : 1;
  scanned.agg = agg;
  return true;
}
