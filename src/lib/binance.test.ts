import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { decodeAggTradesCsv, decodeBinanceWs, decodeTradesCsv, detectFormat } from "./binance.ts";
import { CandleflowError } from "./errors.ts";

const LINE =
  '{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,"p":"61837.63000000","q":"0.02000000","T":1723161255342,"m":true,"M":true}}';
const BARE = '{"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,"p":"61837.63000000","q":"0.02000000","T":1723161255342,"m":true,"M":true}';
const TRADE = { symbol: "BTCUSDT", id: 3735683259, price: "61837.63000000", qty: "0.02000000", ts: 1723161255342, side: "sell" };

const SHARED = join(import.meta.dir, "../../../shared/fixtures/binance-spot-btcusdt-2024-08-08/trades.ws.jsonl");
const hasShared = existsSync(SHARED);
if (!hasShared) console.warn(`binance.test.ts: ${SHARED} is absent; skipping the recorded-stream test`);

function rejects(fn: () => unknown, fragment: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(CandleflowError);
  expect((caught as CandleflowError).code).toBe("INVALID_ARGUMENT");
  expect((caught as CandleflowError).message).toContain(fragment);
}

/** The same message with its data object edited, re-serialised (so never the fast shape's bytes). */
function edited(edit: (data: Record<string, unknown>) => void): string {
  const msg = JSON.parse(LINE);
  edit(msg.data);
  return JSON.stringify(msg);
}

describe("decodeBinanceWs", () => {
  test("decodes a combined-stream spot trade, m=true as a taker sell", () => {
    expect(decodeBinanceWs(LINE)).toEqual(TRADE as never);
  });

  test("decodes the bare variant the same way", () => {
    expect(decodeBinanceWs(BARE)).toEqual(TRADE as never);
  });

  test("m=false is a taker buy", () => {
    expect(decodeBinanceWs(LINE.replace('"m":true', '"m":false'))?.side).toBe("buy");
    expect(decodeBinanceWs(BARE.replace('"m":true,"M":true', '"m":false,"M":false'))?.side).toBe("buy");
  });

  test("whitespace and key order do not change the result", () => {
    const pretty = JSON.stringify(JSON.parse(LINE), null, 2);
    const reordered = JSON.stringify({ data: { T: 1723161255342, m: true, q: "0.02000000", p: "61837.63000000", t: 3735683259, s: "BTCUSDT", e: "trade" }, stream: "btcusdt@trade" });
    expect(decodeBinanceWs(pretty)).toEqual(TRADE as never);
    expect(decodeBinanceWs(reordered)).toEqual(TRADE as never);
  });

  test("symbols switching from line to line are each decoded right", () => {
    const line = (s: string) => LINE.replace("BTCUSDT", s);
    expect(["BTCUSDT", "BTCUSD", "ETHUSDT", "ETHUSDT", "BTCUSDT", "1000PEPEUSDT"].map((s) => decodeBinanceWs(line(s))?.symbol)).toEqual([
      "BTCUSDT",
      "BTCUSD",
      "ETHUSDT",
      "ETHUSDT",
      "BTCUSDT",
      "1000PEPEUSDT",
    ]);
    const many = Array.from({ length: 600 }, (_, i) => `S${i % 300}X${i % 7}`);
    expect(many.map((s) => decodeBinanceWs(line(s))?.symbol)).toEqual(many);
    const stream = (s: string) => LINE.replace("btcusdt@trade", s);
    expect(decodeBinanceWs(stream("ethusdt@trade"))).toEqual(TRADE as never);
    expect(decodeBinanceWs(stream('btc\\"usdt@trade'))).toEqual(TRADE as never);
  });

  test("keeps decimals as sent and timestamps in their unit", () => {
    const us = decodeBinanceWs(LINE.replace("1723161255342", "1723161255342123").replace('"0.02000000"', '"2"'));
    expect(us?.ts).toBe(1723161255342123);
    expect(us?.qty).toBe("2");
  });

  test("aggTrade: id is a, count is l - f + 1", () => {
    const agg = '{"e":"aggTrade","E":1723161255343,"s":"BTCUSDT","a":26129,"p":"0.01633102","q":"4.70443515","f":100,"l":105,"T":1723161255342,"m":false,"M":true}';
    expect(decodeBinanceWs(agg)).toEqual({ symbol: "BTCUSDT", id: 26129, price: "0.01633102", qty: "4.70443515", ts: 1723161255342, side: "buy", count: 6 });
    expect(decodeBinanceWs(`{"stream":"btcusdt@aggTrade","data":${agg}}`)?.count).toBe(6);
  });

  test("futures: market fills decode, insurance-fund and ADL fills are not trades", () => {
    const futures = (x: string) => `{"e":"trade","E":1723161255343,"T":1723161255342,"s":"BTCUSDT","t":5,"p":"61837.6","q":"0.002","X":"${x}","m":true}`;
    expect(decodeBinanceWs(futures("MARKET"))).toEqual({ symbol: "BTCUSDT", id: 5, price: "61837.6", qty: "0.002", ts: 1723161255342, side: "sell" });
    expect(decodeBinanceWs(futures("INSURANCE_FUND"))).toBeNull();
    expect(decodeBinanceWs(futures("ADL"))).toBeNull();
  });

  test("well-formed messages that are not trades give null", () => {
    expect(decodeBinanceWs('{"result":null,"id":1}')).toBeNull();
    expect(decodeBinanceWs('{"error":{"code":2,"msg":"Invalid request"},"id":3}')).toBeNull();
    expect(decodeBinanceWs('{"stream":"btcusdt@kline_1m","data":{"e":"kline","E":1,"s":"BTCUSDT","k":{}}}')).toBeNull();
    expect(decodeBinanceWs('{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[],"a":[]}')).toBeNull();
    expect(decodeBinanceWs('{"stream":"!miniTicker@arr","data":[]}')).toBeNull();
  });

  test("malformed lines throw INVALID_ARGUMENT saying what is wrong", () => {
    rejects(() => decodeBinanceWs(LINE.slice(0, 60)), "not valid JSON");
    rejects(() => decodeBinanceWs(""), "not valid JSON");
    rejects(() => decodeBinanceWs("[1,2]"), "not a JSON object");
    rejects(() => decodeBinanceWs('{"foo":1}'), '"e"');
    rejects(() => decodeBinanceWs(LINE.replace('"61837.63000000"', '"abc"')), '"p"');
    rejects(() => decodeBinanceWs(LINE.replace('"61837.63000000"', '"-61837.63"')), '"p"');
    rejects(() => decodeBinanceWs(LINE.replace('"61837.63000000"', '"1.2.3"')), '"p"');
    rejects(() => decodeBinanceWs(LINE.replace('"61837.63000000"', '"61837."')), '"p"');
    rejects(() => decodeBinanceWs(LINE.replace('"61837.63000000"', "61837.63")), '"p"');
    rejects(() => decodeBinanceWs(edited((d) => delete d.q)), '"q"');
    rejects(() => decodeBinanceWs(edited((d) => (d.s = ""))), '"s"');
    // Symbols are bounded at decode, whichever path reads them: a 5 MB one, markup, spaces.
    for (const symbol of ["A".repeat(5 << 20), "A".repeat(65), "BTC<b>USDT", "BTC USDT", "BTC\u0000"]) {
      rejects(() => decodeBinanceWs(edited((d) => (d.s = symbol))), '"s"');
      rejects(() => decodeBinanceWs(edited((d) => ((d.s = symbol), (d.x = 1)))), '"s"');
    }
    expect(decodeBinanceWs(edited((d) => ((d.s = "BTCUSDT_240927"), (d.x = 1))))?.symbol).toBe("BTCUSDT_240927");
    rejects(() => decodeBinanceWs(edited((d) => (d.T = "1723161255342"))), '"T"');
    rejects(() => decodeBinanceWs(edited((d) => (d.T = 0))), '"T"');
    rejects(() => decodeBinanceWs(edited((d) => (d.t = -1))), '"t"');
    rejects(() => decodeBinanceWs(edited((d) => (d.t = 1.5))), '"t"');
    rejects(() => decodeBinanceWs(edited((d) => delete d.m)), '"m"');
    rejects(() => decodeBinanceWs('{"stream":"btcusdt@trade","data":"x"}'), '"data"');
    rejects(() => decodeBinanceWs('{"e":"aggTrade","s":"X","a":1,"p":"1","q":"1","f":5,"l":4,"T":1,"m":true}'), '"l"');
  });

  test("trailing garbage after the fast shape is not accepted", () => {
    rejects(() => decodeBinanceWs(`${LINE}}`), "not valid JSON");
    rejects(() => decodeBinanceWs(LINE.replace('"t":3735683259', '"t":03735683259')), "not valid JSON");
  });

  test.skipIf(!hasShared)("the recorded btcusdt stream decodes to the same trades as JSON.parse", () => {
    const lines = readFileSync(SHARED, "utf8").split("\n").filter((l) => l !== "");
    const trades = lines.map(decodeBinanceWs);
    expect(trades.length).toBe(19_904);
    const expected = lines.map((l) => {
      const d = JSON.parse(l).data;
      return { symbol: d.s, id: d.t, price: d.p, qty: d.q, ts: d.T, side: d.m ? "sell" : "buy" };
    });
    expect(trades).toEqual(expected as never);
    expect(trades[0]!.id).toBe(3735683259);
    expect(trades.at(-1)!.id).toBe(3735703162);
  });
});

describe("decodeTradesCsv", () => {
  test("decodes a spot row; is_buyer_maker True is a taker sell", () => {
    expect(decodeTradesCsv("3735683259,61837.63000000,0.02000000,1236.75260000,1723161255342,True,True", "BTCUSDT")).toEqual(TRADE as never);
    expect(decodeTradesCsv("3735683259,61837.63000000,0.02000000,1236.75260000,1723161255342,false,true\r", "BTCUSDT")?.side).toBe("buy");
  });

  test("decodes a 6-column futures row and keeps µs timestamps", () => {
    expect(decodeTradesCsv("5,61837.6,0.002,123.6752,1723161255342000,False", "BTCUSDT")).toEqual({
      symbol: "BTCUSDT",
      id: 5,
      price: "61837.6",
      qty: "0.002",
      ts: 1723161255342000,
      side: "buy",
    });
  });

  test("a header row gives null", () => {
    expect(decodeTradesCsv("id,price,qty,quote_qty,time,is_buyer_maker,is_best_match", "BTCUSDT")).toBeNull();
    expect(decodeTradesCsv("id,price,qty,quote_qty,time,is_buyer_maker\r", "BTCUSDT")).toBeNull();
  });

  test("bad rows throw", () => {
    rejects(() => decodeTradesCsv("1,abc,0.1,1,1723161255342,True,True", "BTCUSDT"), "price");
    rejects(() => decodeTradesCsv("1,1,0.1,1,1723161255342,Yes,True", "BTCUSDT"), "is_buyer_maker");
    rejects(() => decodeTradesCsv("1,1,0.1,1,17231612x5342,True,True", "BTCUSDT"), "time");
    rejects(() => decodeTradesCsv("1,1,0.1", "BTCUSDT"), "columns");
    rejects(() => decodeTradesCsv("-1,1,0.1,1,1723161255342,True,True", "BTCUSDT"), "not a CSV row");
    rejects(() => decodeTradesCsv("1,1,0.1,1,1723161255342,True,True", ""), "symbol");
  });
});

describe("decodeAggTradesCsv", () => {
  test("decodes a spot row with count = last - first + 1", () => {
    expect(decodeAggTradesCsv("13519807,0.00141342,23.00000000,15373518,15373520,1570752011620,True,True", "XRPETH")).toEqual({
      symbol: "XRPETH",
      id: 13519807,
      price: "0.00141342",
      qty: "23.00000000",
      ts: 1570752011620,
      side: "sell",
      count: 3,
    });
  });

  test("decodes a 7-column futures row; header gives null", () => {
    expect(decodeAggTradesCsv("agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker", "BTCUSDT")).toBeNull();
    expect(decodeAggTradesCsv("9,100.5,2,40,40,1723161255342,false", "BTCUSDT")).toEqual({
      symbol: "BTCUSDT",
      id: 9,
      price: "100.5",
      qty: "2",
      ts: 1723161255342,
      side: "buy",
      count: 1,
    });
  });

  test("bad rows throw", () => {
    rejects(() => decodeAggTradesCsv("1,0.1,2,10,9,1570752011620,True,True", "XRPETH"), "last_id");
    rejects(() => decodeAggTradesCsv("1,0.1,-2,10,10,1570752011620,True,True", "XRPETH"), "qty");
    rejects(() => decodeAggTradesCsv("1,0.1,2,10,10,1570752011620", "XRPETH"), "columns");
  });
});

describe("detectFormat", () => {
  test("tells the three formats apart, with and without headers", () => {
    expect(detectFormat(LINE)).toBe("binance-ws");
    expect(detectFormat('  {"result":null,"id":1}')).toBe("binance-ws");
    expect(detectFormat("3735683259,61837.63000000,0.02000000,1236.75260000,1723161255342,True,True")).toBe("binance-trades-csv");
    expect(detectFormat("5,61837.6,0.002,123.6752,1723161255342,false")).toBe("binance-trades-csv");
    expect(detectFormat("id,price,qty,quote_qty,time,is_buyer_maker")).toBe("binance-trades-csv");
    expect(detectFormat("13519807,0.00141342,23.00000000,15373518,15373518,1570752011620,True,True")).toBe("binance-aggtrades-csv");
    expect(detectFormat("9,100.5,2,40,40,1723161255342,false")).toBe("binance-aggtrades-csv");
    expect(detectFormat("agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker\r")).toBe("binance-aggtrades-csv");
  });

  test("anything else is refused with a clear reason", () => {
    rejects(() => detectFormat("hello world"), "cannot tell the format");
    rejects(() => detectFormat("1,2,3"), "cannot tell the format");
    rejects(() => detectFormat(""), "cannot tell the format");
  });
});
