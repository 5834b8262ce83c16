/**
 * A trade record's text as the appenders write it (`JSON.stringify` of a trade) straight into
 * a {@link TradeBatch}: no JSON.parse, no trade object, and the price and quantity read into
 * exact mantissas while their digits go by.
 *
 * It takes a strict subset of JSON: the keys `symbol`, `id`, `price`, `qty`, `ts`, `side` and
 * an optional `count`, in any order, each once, with no whitespace or escapes, and values the
 * engine accepts as they are. Anything else (another key, a number with a sign or fraction, a
 * decimal the engine would refuse or parse differently) answers false, and the caller decodes
 * the record fully. So it is never less strict than the full path, only faster.
 */
import type { TradeBatch } from "../../lib/batch.ts";
import { decimal, integer, scanDecimal, scanInt } from "../../lib/scan.ts";
import { normalizeTs } from "../../lib/validate.ts";

const QUOTE = 34;
const COMMA = 44;
const COLON = 58;

/** Where the closing quote of a plain string starting at `at` is (printable ASCII, no escapes, 1..64 long), or -1. */
function plainString(text: string, at: number): number {
  let i = at;
  let c = 0;
  while ((c = text.charCodeAt(i)) > QUOTE && c !== 92 && c < 127) i++;
  if (c !== QUOTE || i === at || i - at > 64) return -1;
  return i;
}

const SYMBOL = 1, ID = 2, PRICE = 3, QTY = 4, TS = 5, SIDE = 6, COUNT = 7;

/** Which key the `n` characters at `at` name, by length then text (no string per key); 0 for none. */
function keyAt(text: string, at: number, n: number): number {
  switch (n) {
    case 2: return text.startsWith("id", at) ? ID : text.startsWith("ts", at) ? TS : 0;
    case 3: return text.startsWith("qty", at) ? QTY : 0;
    case 4: return text.startsWith("side", at) ? SIDE : 0;
    case 5: return text.startsWith("price", at) ? PRICE : text.startsWith("count", at) ? COUNT : 0;
    case 6: return text.startsWith("symbol", at) ? SYMBOL : 0;
    default: return 0;
  }
}

/**
 * Scans one record's text into `batch`. True when it was a trade of the usual shape (then it
 * is one row of `batch`, as `batch.push` of the parsed trade would make it); false when
 * unsure: decode it fully.
 */
export function scanWireTrade(text: string, batch: TradeBatch): boolean {
  if (text.charCodeAt(0) !== 123) return false;
  let i = 1;
  let seen = 0;
  let symbol = "";
  let id = 0, ts = 0, count = 1, buy = false;
  let pm = 0, pe = 0, qm = 0, qe = 0;
  for (;;) {
    if (text.charCodeAt(i) !== QUOTE) return false;
    const end = plainString(text, i + 1);
    if (end < 0 || text.charCodeAt(end + 1) !== COLON) return false;
    const key = keyAt(text, i + 1, end - i - 1);
    // Each key once: a repeated one (JSON.parse keeps the last) goes the full way.
    if (key === 0 || (seen & (1 << key)) !== 0) return false;
    seen |= 1 << key;
    i = end + 2;
    if (key === PRICE || key === QTY) {
      if (text.charCodeAt(i) !== QUOTE) return false;
      i = scanDecimal(text, i + 1);
      if (i < 0 || text.charCodeAt(i) !== QUOTE) return false;
      i++;
      if (key === PRICE) {
        pm = decimal.m;
        pe = decimal.e;
      } else {
        qm = decimal.m;
        qe = decimal.e;
      }
    } else if (key === SYMBOL) {
      if (text.charCodeAt(i) !== QUOTE) return false;
      const close = plainString(text, i + 1);
      if (close < 0) return false;
      symbol = text.slice(i + 1, close);
      i = close + 1;
    } else if (key === SIDE) {
      if (text.startsWith('"buy"', i)) {
        buy = true;
        i += 5;
      } else if (text.startsWith('"sell"', i)) i += 6;
      else return false;
    } else {
      i = scanInt(text, i);
      if (i < 0) return false;
      if (key === ID) id = integer.v;
      else if (key === TS) ts = integer.v;
      else if (integer.v === 0) return false;
      else count = integer.v;
    }
    const c = text.charCodeAt(i++);
    if (c === 125) break;
    if (c !== COMMA) return false;
  }
  const required = (1 << SYMBOL) | (1 << ID) | (1 << PRICE) | (1 << QTY) | (1 << TS) | (1 << SIDE);
  if (i !== text.length || (seen & required) !== required) return false;
  // A time the engine refuses goes the full way, so the rejected trade is the one as written.
  if (Number.isNaN(normalizeTs(ts))) return false;
  batch.addScanned(symbol, id, pm, pe, qm, qe, ts, buy, count);
  return true;
}
