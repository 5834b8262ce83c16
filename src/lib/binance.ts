/**
 * Binance decoders: raw WebSocket lines and data.binance.vision CSV rows → {@link Trade}.
 * Pure string work; prices and quantities stay the exact decimal strings the exchange sent,
 * and timestamps stay in the unit given (ms or µs; the engine normalises by magnitude).
 */
import { CandleflowError } from "./errors.ts";
import type { Trade } from "./types.ts";

/** The line formats {@link detectFormat} recognises. */
export type Format = "binance-ws" | "binance-trades-csv" | "binance-aggtrades-csv";

const STREAM_HEAD = '{"stream":"';
const DATA_HEAD = '","data":{"e":"trade","E":';
const BARE_HEAD = '{"e":"trade","E":';
const DECIMAL = /^[0-9]+(\.[0-9]+)?$/;
const HEADER = /^[A-Za-z_ ]+(,[A-Za-z_ ]+)*$/;

// Symbols repeat line after line: the last one, then a small table keyed by a hash of the
// symbol's characters, give back an existing string instead of a new one per message.
const recent = { symbol: "", seg: "" };
const SYMBOLS: string[] = new Array(256).fill("");
const SEGS: string[] = new Array(256).fill("");

const TAILS_STREAM = [',"m":true,"M":true}}', ',"m":true,"M":false}}', ',"m":false,"M":true}}', ',"m":false,"M":false}}'];
const TAILS_BARE = TAILS_STREAM.map((t) => t.slice(0, -1));

function bad(message: string): CandleflowError {
  return new CandleflowError("INVALID_ARGUMENT", message);
}

function show(value: unknown): string {
  const text = value === undefined ? "nothing" : JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

/** Where the fast shape's head (through `"E":`) ends in `line`, or -1. */
function head(line: string): number {
  if (line.startsWith(BARE_HEAD)) return BARE_HEAD.length;
  if (!line.startsWith(STREAM_HEAD)) return -1;
  let i = STREAM_HEAD.length;
  let c = 0;
  // Stream names are plain ASCII (`btcusdt@trade`); a quote or backslash inside goes to JSON.parse.
  while ((c = line.charCodeAt(i)) > 34 && c !== 92 && c < 127) i++;
  return c === 34 && line.startsWith(DATA_HEAD, i) ? i + DATA_HEAD.length : -1;
}

/**
 * The exact spot `trade` shape, scanned in place with no JSON.parse; undefined when anything
 * differs. One function with local loops: extra calls and tuple returns cost more than the scan.
 */
function fast(line: string): Trade | undefined {
  let i = head(line);
  if (i < 0) return undefined;
  let s = i;
  let c = 0;
  while ((c = line.charCodeAt(i)) >= 48 && c <= 57) i++;
  if (i === s || (c = i - s) > 15 || (c > 1 && line.charCodeAt(s) === 48)) return undefined;

  let symbol = recent.symbol;
  if (symbol !== "" && line.startsWith(recent.seg, i)) i += recent.seg.length;
  else {
    if (!line.startsWith(',"s":"', i)) return undefined;
    s = i += 6;
    let h = 0;
    while (((c = line.charCodeAt(i)) >= 65 && c <= 90) || (c >= 48 && c <= 57)) {
      h = (h * 31 + c) & 255;
      i++;
    }
    if (i === s || !line.startsWith('","t":', i)) return undefined;
    symbol = SYMBOLS[h]!;
    if (symbol.length !== i - s || !line.startsWith(symbol, s)) {
      symbol = SYMBOLS[h] = line.slice(s, i);
      SEGS[h] = `,"s":"${symbol}","t":`;
    }
    recent.symbol = symbol;
    recent.seg = SEGS[h]!;
    i += 6;
  }

  s = i;
  let id = 0;
  while ((c = line.charCodeAt(i)) >= 48 && c <= 57) {
    id = id * 10 + c - 48;
    i++;
  }
  if (i === s || (c = i - s) > 15 || (c > 1 && line.charCodeAt(s) === 48)) return undefined;
  if (!line.startsWith(',"p":"', i)) return undefined;

  s = i += 6;
  let dot = -1;
  for (;;) {
    c = line.charCodeAt(i);
    if (c >= 48 && c <= 57) i++;
    else if (c === 46 && dot < 0) dot = i++;
    else break;
  }
  if (i === s || dot === s || dot === i - 1 || !line.startsWith('","q":"', i)) return undefined;
  const price = line.slice(s, i);

  s = i += 7;
  dot = -1;
  for (;;) {
    c = line.charCodeAt(i);
    if (c >= 48 && c <= 57) i++;
    else if (c === 46 && dot < 0) dot = i++;
    else break;
  }
  if (i === s || dot === s || dot === i - 1 || !line.startsWith('","T":', i)) return undefined;
  const qty = line.slice(s, i);

  s = i += 6;
  let ts = 0;
  while ((c = line.charCodeAt(i)) >= 48 && c <= 57) {
    ts = ts * 10 + c - 48;
    i++;
  }
  if (i === s || (c = i - s) > 15 || line.charCodeAt(s) === 48) return undefined;

  // The rest is one of four fixed tails: `,"m":<bool>,"M":<bool>` and the closing braces.
  const tails = line.charCodeAt(2) === 101 ? TAILS_BARE : TAILS_STREAM;
  const maker = line.charCodeAt(i + 5) === 116;
  const rest = line.length - i;
  const tail = tails[(maker ? 0 : 2) + (rest === tails[maker ? 0 : 2]!.length ? 0 : 1)]!;
  if (rest !== tail.length || !line.startsWith(tail, i)) return undefined;
  return { symbol, id, price, qty, ts, side: maker ? "sell" : "buy" };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function decimal(msg: Record<string, unknown>, key: string): string {
  const value = msg[key];
  if (typeof value !== "string" || !DECIMAL.test(value)) {
    throw bad(`"${key}" must be an unsigned decimal string, got ${show(value)}`);
  }
  return value;
}

function integer(msg: Record<string, unknown>, key: string): number {
  const value = msg[key];
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw bad(`"${key}" must be a non-negative integer, got ${show(value)}`);
  }
  return value;
}

/** Any message shape: JSON.parse and check every field the trade needs. */
function slow(line: string): Trade | null {
  let msg: unknown;
  try {
    msg = JSON.parse(line);
  } catch {
    throw bad(`not valid JSON: ${show(line)}`);
  }
  if (!isObject(msg)) throw bad(`not a JSON object: ${show(msg)}`);
  if ("stream" in msg && "data" in msg) {
    if (typeof msg.stream !== "string") throw bad(`"stream" must be a string, got ${show(msg.stream)}`);
    if (Array.isArray(msg.data)) return null;
    if (!isObject(msg.data)) throw bad(`"data" must be an object, got ${show(msg.data)}`);
    msg = msg.data;
  }
  const m = msg as Record<string, unknown>;
  if (m.e === undefined) {
    // Subscription acks and errors: {"result":null,"id":1}, {"error":{...},"id":1}.
    if ("result" in m || "error" in m || "id" in m) return null;
    throw bad(`no event type "e" and not a reply: ${show(m)}`);
  }
  if (typeof m.e !== "string") throw bad(`"e" must be a string, got ${show(m.e)}`);
  if (m.e !== "trade" && m.e !== "aggTrade") return null;
  // Futures trade streams also carry insurance-fund and ADL fills; only MARKET fills are market trades.
  if (m.X !== undefined && m.X !== "MARKET") return null;

  if (typeof m.s !== "string" || m.s === "") throw bad(`"s" must be a non-empty symbol, got ${show(m.s)}`);
  const price = decimal(m, "p");
  const qty = decimal(m, "q");
  const ts = integer(m, "T");
  if (ts === 0) throw bad(`"T" must be a positive trade time, got 0`);
  if (typeof m.m !== "boolean") throw bad(`"m" must be true or false, got ${show(m.m)}`);
  const side = m.m ? "sell" : "buy";
  if (m.e === "trade") return { symbol: m.s, id: integer(m, "t"), price, qty, ts, side };

  const first = integer(m, "f");
  const last = integer(m, "l");
  if (last < first) throw bad(`aggTrade last id "l" ${last} is below first id "f" ${first}`);
  return { symbol: m.s, id: integer(m, "a"), price, qty, ts, side, count: last - first + 1 };
}

/**
 * Decodes one raw Binance WebSocket line (spot or futures; bare or combined-stream;
 * `trade` or `aggTrade`). The exchange's exact spot `trade` shape is scanned in place
 * without JSON.parse; anything else is parsed and fully validated.
 *
 * @returns the trade, or null for a well-formed message that is not a trade (acks, other events).
 * @throws CandleflowError `INVALID_ARGUMENT` when the line is malformed.
 *
 * @example
 * decodeBinanceWs('{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,"p":"61837.63000000","q":"0.02000000","T":1723161255342,"m":true,"M":true}}')
 * // { symbol: "BTCUSDT", id: 3735683259, price: "61837.63000000", qty: "0.02000000", ts: 1723161255342, side: "sell" }
 */
export function decodeBinanceWs(line: string): Trade | null {
  return fast(line) ?? slow(line);
}

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

/**
 * Tells the format of a file from its first line: a JSON object is a WebSocket line; a CSV
 * row is told by its header names or, without a header, by where its booleans sit.
 *
 * @throws CandleflowError `INVALID_ARGUMENT` when the line fits none of them.
 *
 * @example detectFormat("13519807,0.00141342,23.00000000,15373518,15373518,1570752011620,True,True") // "binance-aggtrades-csv"
 */
export function detectFormat(firstLine: string): Format {
  const line = firstLine.trim();
  if (line.startsWith("{")) return "binance-ws";
  const cols = line.split(",");
  if (HEADER.test(line)) {
    const names = cols.map((c) => c.trim().toLowerCase());
    if (names.includes("first_trade_id") || names.includes("first_id") || names[0] === "agg_trade_id") return "binance-aggtrades-csv";
    if (names.includes("quote_qty") || names[0] === "id" || names[0] === "trade_id") return "binance-trades-csv";
  } else if (/^[0-9]+$/.test(cols[0] ?? "")) {
    const flag = /^(true|false)$/i;
    if ((cols.length === 7 || cols.length === 6) && flag.test(cols[5]!)) return "binance-trades-csv";
    if ((cols.length === 8 || cols.length === 7) && flag.test(cols[6]!)) return "binance-aggtrades-csv";
  }
  throw bad(`cannot tell the format of ${show(line)}: expected a Binance WebSocket JSON line or a data.binance.vision trades/aggTrades CSV row`);
}
