/**
 * Binance decoders: raw WebSocket lines and data.binance.vision CSV rows → {@link Trade}
 * objects, or straight into a {@link TradeBatch}. Prices and quantities stay the exact
 * decimals the exchange sent, and timestamps stay in the unit given (ms or µs; the engine
 * normalises by magnitude).
 */
import type { TradeBatch } from "./batch.ts";
import { HEADER } from "./csv.ts";
import { invalid as bad, preview as show } from "./errors.ts";
import { scanned, scanTrade } from "./scan.ts";
import type { Trade } from "./types.ts";

export { decodeAggTradesCsv, decodeAggTradesCsvInto, decodeTradesCsv, decodeTradesCsvInto } from "./csv.ts";
export { scanAggTradesCsvBytes, scanTradesCsvBytes } from "./csv-bytes.ts";

/** The line formats {@link detectFormat} recognises. */
export type Format = "binance-ws" | "binance-trades-csv" | "binance-aggtrades-csv";

const DECIMAL = /^[0-9]+(\.[0-9]+)?$/;
const SYMBOL = /^[A-Za-z0-9_]{1,64}$/;

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

  // The same bound as the scanned path: a feed line cannot make a symbol of megabytes or of markup.
  if (typeof m.s !== "string" || !SYMBOL.test(m.s)) throw bad(`"s" must be a symbol of 1 to 64 letters, digits or _, got ${show(m.s)}`);
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
 * `trade` or `aggTrade`). The exchange's exact spot shapes are scanned in place without
 * JSON.parse; anything else is parsed and fully validated.
 *
 * @returns the trade, or null for a well-formed message that is not a trade (acks, other events).
 * @throws CandleflowError `INVALID_ARGUMENT` when the line is malformed (never a RangeError,
 * however deeply it nests).
 *
 * @example
 * decodeBinanceWs('{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,"p":"61837.63000000","q":"0.02000000","T":1723161255342,"m":true,"M":true}}')
 * // { symbol: "BTCUSDT", id: 3735683259, price: "61837.63000000", qty: "0.02000000", ts: 1723161255342, side: "sell" }
 */
export function decodeBinanceWs(line: string): Trade | null {
  if (!scanTrade(line)) return guarded(line);
  const s = scanned;
  const trade: Trade = { symbol: s.symbol, id: s.id, price: line.slice(s.p0, s.p1), qty: line.slice(s.q0, s.q1), ts: s.ts, side: s.buy ? "buy" : "sell" };
  if (s.agg) trade.count = s.count;
  return trade;
}

/**
 * Decodes one raw Binance WebSocket line into `batch`, as {@link decodeBinanceWs} would
 * (the same trades, the same errors), without a trade object or decimal string for the
 * exchange's usual shapes.
 *
 * @returns true when a trade was added, false for a well-formed message that is not a trade.
 * @throws CandleflowError `INVALID_ARGUMENT` when the line is malformed.
 *
 * @example
 * const batch = new TradeBatch()
 * for (const line of lines) decodeBinanceWsInto(line, batch)
 * engine.ingestBatch(batch)
 */
export function decodeBinanceWsInto(line: string, batch: TradeBatch): boolean {
  if (scanTrade(line)) {
    const s = scanned;
    batch.addScanned(s.symbol, s.id, s.pm, s.pe, s.qm, s.qe, s.ts, s.buy, s.count);
    return true;
  }
  const trade = guarded(line);
  if (trade === null) return false;
  batch.push(trade);
  return true;
}

/** The full decoder, with any runtime failure on hostile input (deep nesting) made a typed error. */
function guarded(line: string): Trade | null {
  try {
    return slow(line);
  } catch (e) {
    if (e instanceof Error && e.name === "CandleflowError") throw e;
    throw bad(`not a decodable message (${e instanceof Error ? e.name : "error"}): ${show(line)}`);
  }
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
