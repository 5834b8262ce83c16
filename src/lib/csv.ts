/**
 * data.binance.vision CSV rows → {@link Trade} objects, or straight into a
 * {@link TradeBatch}. The usual rows are scanned in place; anything unusual goes through
 * the checking decoder, so both ways give the same trades and the same errors.
 */
import type { TradeBatch } from "./batch.ts";
import { invalid as bad, preview as show } from "./errors.ts";
import { decimal, integer, scanDecimal, scanInt } from "./scan.ts";
import type { Trade } from "./types.ts";

const DECIMAL = /^[0-9]+(\.[0-9]+)?$/;
/** A header row: names only. */
export const HEADER = /^[A-Za-z_ ]+(,[A-Za-z_ ]+)*$/;

function fields(line: string): string[] {
  return (line.endsWith("\r") ? line.slice(0, -1) : line).split(",");
}

function csvInt(value: string, name: string): number {
  const n = Number(value);
  if (!/^[0-9]+$/.test(value) || !Number.isSafeInteger(n)) throw bad(`${name} must be a non-negative integer, got ${show(value)}`);
  return n;
}

function csvDecimal(value: string, name: string): string {
  if (!DECIMAL.test(value)) throw bad(`${name} must be an unsigned decimal, got ${show(value)}`);
  return value;
}

function csvMaker(value: string): boolean {
  if (value === "True" || value === "true") return true;
  if (value === "False" || value === "false") return false;
  throw bad(`is_buyer_maker must be True or False, got ${show(value)}`);
}

function csvTime(value: string): number {
  const ts = csvInt(value, "time");
  if (ts === 0) throw bad("time must be a positive trade time, got 0");
  return ts;
}

function csvSymbol(symbol: string): string {
  if (symbol === "") throw bad("symbol must be non-empty");
  return symbol;
}

/** A header row is all names; a data row starts with a number. */
function header(cols: string[], line: string): boolean {
  if (/^[0-9]/.test(cols[0]!)) return false;
  if (HEADER.test(line.trim())) return true;
  throw bad(`not a CSV row: ${show(line)}`);
}

/**
 * Decodes one data.binance.vision trades row
 * `id,price,qty,quote_qty,time,is_buyer_maker[,is_best_match]` (spot has 7 columns, futures 6).
 *
 * @returns the trade, or null for a header row.
 * @throws CandleflowError `INVALID_ARGUMENT` when the row is malformed.
 *
 * @example decodeTradesCsv("3735683259,61837.63,0.02,1236.75,1723161255342,True,True", "BTCUSDT")
 */
export function decodeTradesCsv(line: string, symbol: string): Trade | null {
  const cols = fields(line);
  if (header(cols, line)) return null;
  if (cols.length !== 7 && cols.length !== 6) throw bad(`expected 7 columns (id,price,qty,quote_qty,time,is_buyer_maker,is_best_match), got ${cols.length}`);
  return {
    symbol: csvSymbol(symbol),
    id: csvInt(cols[0]!, "id"),
    price: csvDecimal(cols[1]!, "price"),
    qty: csvDecimal(cols[2]!, "qty"),
    ts: csvTime(cols[4]!),
    side: csvMaker(cols[5]!) ? "sell" : "buy",
  };
}

/**
 * Decodes one data.binance.vision aggTrades row
 * `agg_id,price,qty,first_id,last_id,time,is_buyer_maker[,is_best_match]` (spot 8 columns, futures 7);
 * `count` is `last_id - first_id + 1`.
 *
 * @returns the trade, or null for a header row.
 * @throws CandleflowError `INVALID_ARGUMENT` when the row is malformed.
 *
 * @example decodeAggTradesCsv("13519807,0.00141342,23.00000000,15373518,15373518,1570752011620,True,True", "XRPETH")
 */
export function decodeAggTradesCsv(line: string, symbol: string): Trade | null {
  const cols = fields(line);
  if (header(cols, line)) return null;
  if (cols.length !== 8 && cols.length !== 7) throw bad(`expected 8 columns (agg_id,price,qty,first_id,last_id,time,is_buyer_maker,is_best_match), got ${cols.length}`);
  const first = csvInt(cols[3]!, "first_id");
  const last = csvInt(cols[4]!, "last_id");
  if (last < first) throw bad(`last_id ${last} is below first_id ${first}`);
  return {
    symbol: csvSymbol(symbol),
    id: csvInt(cols[0]!, "agg_id"),
    price: csvDecimal(cols[1]!, "price"),
    qty: csvDecimal(cols[2]!, "qty"),
    ts: csvTime(cols[5]!),
    side: csvMaker(cols[6]!) ? "sell" : "buy",
    count: last - first + 1,
  };
}


/** Reads `,<integer>` at `at` (the comma included) into `integer`; -1 when it is not that. */
function nextInt(line: string, at: number): number {
  return at >= 0 && line.charCodeAt(at) === 44 ? scanInt(line, at + 1) : -1;
}

/** `,<decimal>` at `at` into `decimal`; -1 when it is not that. */
function nextDecimal(line: string, at: number): number {
  return at >= 0 && line.charCodeAt(at) === 44 ? scanDecimal(line, at + 1) : -1;
}

/**
 * `,True|False|true|false` at `at` and then the end of the row, or one more column (which
 * the decoders do not read). 1 for a buyer-maker row, 0 otherwise, -1 when it is not that.
 */
function makerAtEnd(line: string, at: number): number {
  if (at < 0 || line.charCodeAt(at) !== 44) return -1;
  let i = at + 1;
  const c = line.charCodeAt(i);
  let v = -1;
  // True | true | False | false, by character: no substring compare per row.
  if ((c === 84 || c === 116) && line.charCodeAt(i + 1) === 114 && line.charCodeAt(i + 2) === 117 && line.charCodeAt(i + 3) === 101) {
    v = 1;
    i += 4;
  } else if (
    (c === 70 || c === 102) && line.charCodeAt(i + 1) === 97 && line.charCodeAt(i + 2) === 108 &&
    line.charCodeAt(i + 3) === 115 && line.charCodeAt(i + 4) === 101
  ) {
    v = 0;
    i += 5;
  } else return -1;
  const n = line.length;
  if (i === n || (i === n - 1 && line.charCodeAt(i) === 13)) return v;
  if (line.charCodeAt(i) !== 44) return -1;
  for (let j = i + 1; j < n; j++) if (line.charCodeAt(j) === 44) return -1;
  return v;
}

/**
 * Decodes one data.binance.vision trades row into `batch`, as {@link decodeTradesCsv}
 * would (the same trades, the same errors), scanning the usual rows in place.
 *
 * @returns true when a trade was added, false for a header row.
 * @throws CandleflowError `INVALID_ARGUMENT` when the row is malformed.
 */
export function decodeTradesCsvInto(line: string, symbol: string, batch: TradeBatch): boolean {
  let i = scanInt(line, 0);
  const id = integer.v;
  i = nextDecimal(line, i);
  const pm = decimal.m, pe = decimal.e;
  i = nextDecimal(line, i);
  const qm = decimal.m, qe = decimal.e;
  // quote_qty is not read (it is price × qty), only skipped.
  i = i >= 0 && line.charCodeAt(i) === 44 ? line.indexOf(",", i + 1) : -1;
  i = nextInt(line, i);
  const ts = integer.v;
  const maker = makerAtEnd(line, i);
  if (maker < 0 || ts === 0 || symbol === "") return fallback(decodeTradesCsv(line, symbol), batch);
  batch.addScanned(symbol, id, pm, pe, qm, qe, ts, maker === 0, 1);
  return true;
}

/**
 * Decodes one data.binance.vision aggTrades row into `batch`, as {@link decodeAggTradesCsv}
 * would (the same trades, the same errors), scanning the usual rows in place.
 *
 * @returns true when a trade was added, false for a header row.
 * @throws CandleflowError `INVALID_ARGUMENT` when the row is malformed.
 */
export function decodeAggTradesCsvInto(line: string, symbol: string, batch: TradeBatch): boolean {
  let i = scanInt(line, 0);
  const id = integer.v;
  i = nextDecimal(line, i);
  const pm = decimal.m, pe = decimal.e;
  i = nextDecimal(line, i);
  const qm = decimal.m, qe = decimal.e;
  i = nextInt(line, i);
  const first = integer.v;
  i = nextInt(line, i);
  const last = integer.v;
  i = nextInt(line, i);
  const ts = integer.v;
  const maker = makerAtEnd(line, i);
  if (maker < 0 || ts === 0 || last < first || symbol === "") return fallback(decodeAggTradesCsv(line, symbol), batch);
  batch.addScanned(symbol, id, pm, pe, qm, qe, ts, maker === 0, last - first + 1);
  return true;
}

function fallback(trade: Trade | null, batch: TradeBatch): boolean {
  if (trade === null) return false;
  batch.push(trade);
  return true;
}
