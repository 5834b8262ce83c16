/**
 * data.binance.vision CSV straight from the file's bytes into a {@link TradeBatch}: no text
 * decoding, no line strings, digits read from the bytes as they go by. A replay of a month of
 * trades is tens of millions of rows, and reading bytes costs about half of what reading the
 * same characters from a string does.
 *
 * The scanners take only the usual rows. They stop at the first row they do not take as it
 * is (a header, a blank line, anything unusual, a row cut off by the end of the chunk) and
 * say where it starts: the caller decodes that one row as text, with
 * {@link decodeAggTradesCsvInto} or {@link decodeTradesCsvInto}, which give the verdict, and
 * scans on after it. So both ways give the same trades and the same errors.
 *
 * A malformed row can make a scanner read a few bytes past `end`. Keep some spare bytes after
 * the data (the replay command keeps 16 zero bytes): reads past the end of a typed array are
 * correct but slow the compiled scanner down severalfold.
 */
import type { TradeBatch } from "./batch.ts";
import { MAX_SCALE, POW10 } from "./decimal.ts";

const MAX = Number.MAX_SAFE_INTEGER;
const COMMA = 44;
const NEWLINE = 10;
const CR = 13;

/** What the last successful read found (the core is single-threaded). */
let value = 0;
let mantissa = 0;
let scale = 0;

/** `<integer>,` at `at`, as `scanInt` reads it: below 10^15, no leading zero. Where the comma's next byte is, or -1. */
function int(b: Uint8Array, at: number): number {
  let i = at;
  let c = 0;
  let v = 0;
  while ((c = b[i]! - 48) >= 0 && c <= 9) {
    v = v * 10 + c;
    i++;
  }
  const n = i - at;
  if (n === 0 || n > 15 || (n > 1 && b[at] === 48) || b[i] !== COMMA) return -1;
  value = v;
  return i + 1;
}

/** `<decimal>,` at `at`, as `scanDecimal` reads it (positive, exact, ≤ 18 decimals, trailing zeros dropped), or -1. */
function dec(b: Uint8Array, at: number): number {
  let i = at;
  let c = 0;
  let m = 0;
  while ((c = b[i]! - 48) >= 0 && c <= 9) {
    m = m * 10 + c;
    i++;
  }
  if (i === at) return -1;
  let e = 0;
  if (c === -2) {
    const dot = ++i;
    let zeros = 0;
    while ((c = b[i]! - 48) >= 0 && c <= 9) {
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
  if (m > MAX || m === 0 || e > MAX_SCALE || b[i] !== COMMA) return -1;
  mantissa = m;
  scale = e;
  return i + 1;
}

/**
 * `True|False|true|false` at `at`, then the row's end, or one more column without a comma
 * (which the decoders do not read). 1 for a buyer-maker row, 0 otherwise, -1 when not that;
 * `value` holds where the next row starts.
 */
function makerAtEnd(b: Uint8Array, at: number, end: number): number {
  let i = at;
  let v = -1;
  const c = b[i];
  if ((c === 84 || c === 116) && b[i + 1] === 114 && b[i + 2] === 117 && b[i + 3] === 101) {
    v = 1;
    i += 4;
  } else if ((c === 70 || c === 102) && b[i + 1] === 97 && b[i + 2] === 108 && b[i + 3] === 115 && b[i + 4] === 101) {
    v = 0;
    i += 5;
  } else return -1;
  if (b[i] === COMMA) {
    i++;
    while (i < end && b[i] !== NEWLINE && b[i] !== COMMA) i++;
    if (b[i] === COMMA) return -1;
  } else if (b[i] === CR) i++;
  if (i >= end || b[i] !== NEWLINE) return -1;
  value = i + 1;
  return v;
}

/** The first three columns of the row last read by {@link head}. */
let id = 0;
let pm = 0;
let pe = 0;
let qm = 0;
let qe = 0;

/** `id,price,qty,`, the columns both files start with; where the next column starts, or -1. */
function head(b: Uint8Array, at: number): number {
  let i = int(b, at);
  id = value;
  if (i >= 0) i = dec(b, i);
  pm = mantissa;
  pe = scale;
  if (i >= 0) i = dec(b, i);
  qm = mantissa;
  qe = scale;
  return i;
}

/**
 * Scans aggTrades rows `agg_id,price,qty,first_id,last_id,time,is_buyer_maker[,is_best_match]`,
 * each ending in `\n`, from `bytes[at..end)` into `batch` while they have the usual shape.
 *
 * Takes at most `maxRows` rows, so a caller can keep its batches to a size.
 *
 * @returns where the first row not taken starts (`end` when all were): the caller decodes
 *   that row as text with {@link decodeAggTradesCsvInto}, then scans on after it. Each row
 *   taken is one row of `batch`.
 */
export function scanAggTradesCsvBytes(bytes: Uint8Array, at: number, end: number, symbol: string, batch: TradeBatch, maxRows = Infinity): number {
  if (symbol === "") return at;
  for (let taken = 0; at < end && taken < maxRows; taken++) {
    let i = head(bytes, at);
    if (i >= 0) i = int(bytes, i);
    const first = value;
    if (i >= 0) i = int(bytes, i);
    const last = value;
    if (i >= 0) i = int(bytes, i);
    const ts = value;
    const maker = i >= 0 ? makerAtEnd(bytes, i, end) : -1;
    if (maker < 0 || ts === 0 || last < first) return at;
    batch.addScanned(symbol, id, pm, pe, qm, qe, ts, maker === 0, last - first + 1);
    at = value;
  }
  return at;
}

/**
 * Scans trades rows `id,price,qty,quote_qty,time,is_buyer_maker[,is_best_match]`, each
 * ending in `\n`, from `bytes[at..end)` into `batch` while they have the usual shape.
 *
 * Takes at most `maxRows` rows.
 *
 * @returns where the first row not taken starts (`end` when all were): the caller decodes
 *   that row as text with {@link decodeTradesCsvInto}, then scans on after it.
 */
export function scanTradesCsvBytes(bytes: Uint8Array, at: number, end: number, symbol: string, batch: TradeBatch, maxRows = Infinity): number {
  if (symbol === "") return at;
  for (let taken = 0; at < end && taken < maxRows; taken++) {
    let i = head(bytes, at);
    // quote_qty is not read (it is price × qty), only skipped, as the text decoder skips it.
    if (i >= 0) {
      while (i < end && bytes[i] !== COMMA && bytes[i] !== NEWLINE) i++;
      i = i < end && bytes[i] === COMMA ? int(bytes, i + 1) : -1;
    }
    const ts = value;
    const maker = i >= 0 ? makerAtEnd(bytes, i, end) : -1;
    if (maker < 0 || ts === 0) return at;
    batch.addScanned(symbol, id, pm, pe, qm, qe, ts, maker === 0, 1);
    at = value;
  }
  return at;
}
