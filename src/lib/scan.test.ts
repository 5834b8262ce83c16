import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { TradeBatch } from "./batch.ts";
import { decodeAggTradesCsv, decodeAggTradesCsvInto, decodeBinanceWs, decodeBinanceWsInto, decodeTradesCsv, decodeTradesCsvInto } from "./binance.ts";
import { Engine } from "./engine.ts";
import { CandleflowError } from "./errors.ts";
import type { Trade } from "./types.ts";

const SHARED = join(import.meta.dir, "../../../shared/fixtures");
const BTC = join(SHARED, "binance-spot-btcusdt-2024-08-08/trades.ws.jsonl");
const XRP = join(SHARED, "binance-spot-xrpeth-2019-10/XRPETH-aggTrades.csv");
const hasShared = existsSync(BTC) && existsSync(XRP);
if (!hasShared) console.warn(`scan.test.ts: ${SHARED} is absent; skipping the recorded-data tests`);

const TRADE = '{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,"p":"61837.63000000","q":"0.02000000","T":1723161255342,"m":true,"M":true}}';
const AGG = '{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1723161255343,"s":"BTCUSDT","a":26129,"p":"0.01633102","q":"4.70443515","f":100,"l":105,"T":1723161255342,"m":false,"M":true}}';

/** What a decoder gives for a line: the trade, null, or the error code. */
function outcome(decode: () => Trade | null): unknown {
  try {
    return decode();
  } catch (e) {
    expect(e).toBeInstanceOf(CandleflowError);
    return (e as CandleflowError).code;
  }
}

/** What decoding into a batch then ingesting gives, next to decoding objects then ingesting. */
function sameThroughEngine(lines: string[], into: (line: string, b: TradeBatch) => boolean, decode: (line: string) => Trade | null): void {
  const a = new Engine();
  const b = new Engine();
  const batch = new TradeBatch();
  const trades: Trade[] = [];
  for (const line of lines) {
    let t: Trade | null = null;
    let err = false;
    try {
      t = decode(line);
    } catch {
      err = true;
    }
    let added = false;
    let err2 = false;
    try {
      added = into(line, batch);
    } catch {
      err2 = true;
    }
    expect(err2).toBe(err);
    expect(added).toBe(t !== null);
    if (t !== null) trades.push(t);
  }
  expect(b.ingestBatch(batch)).toEqual(a.ingestMany(trades));
  expect(b.flush()).toEqual(a.flush());
  expect(b.snapshot()).toEqual(a.snapshot());
}

describe("the in-place WebSocket scanner", () => {
  test("agrees with the full decoder on every edit of a trade and an aggTrade line", () => {
    // Pretty-printed, a line never takes the scanner: it is the full decoder's answer.
    const slow = (line: string): unknown => {
      let pretty: string;
      try {
        pretty = JSON.stringify(JSON.parse(line), null, 1);
      } catch {
        return "INVALID_ARGUMENT";
      }
      return outcome(() => decodeBinanceWs(pretty));
    };
    const edit = fc.tuple(fc.constantFrom(TRADE, AGG), fc.nat(), fc.nat({ max: 3 }), fc.constantFrom(..."0123456789.\"-,:}{e aEtTfl\\", "true", "00", "1e5", "", "null"));
    fc.assert(
      fc.property(edit, ([line, at, cut, insert]) => {
        const i = at % line.length;
        const mutated = line.slice(0, i) + insert + line.slice(i + cut);
        expect(outcome(() => decodeBinanceWs(mutated))).toEqual(slow(mutated));
      }),
      { numRuns: 4000 },
    );
  });

  test("into a batch: the same trades, errors and engine output as decoding objects", () => {
    const lines = [TRADE, AGG, TRADE.replace("BTCUSDT", "ETHUSDT"), TRADE.replace('"0.02000000"', '"0.00000000"'), TRADE.replace('"t":3735683259', '"t":3735683261'),
      TRADE.replace('"61837.63000000"', '"12345678901234567"'), '{"result":null,"id":1}', TRADE.slice(0, 50), AGG.replace('"l":105', '"l":99'),
      `{"e":"trade","E":1,"T":1723161255350,"s":"BTCUSDT","t":3735683262,"p":"61837.6","q":"0.002","X":"MARKET","m":true}`];
    sameThroughEngine(lines, decodeBinanceWsInto, decodeBinanceWs);
  });

  test.skipIf(!hasShared)("the recorded btcusdt stream gives the same engine output both ways", () => {
    const lines = readFileSync(BTC, "utf8").split("\n").filter((l) => l !== "");
    sameThroughEngine(lines, decodeBinanceWsInto, decodeBinanceWs);
  });

  test("a deeply nested line is a typed rejection, not a stack overflow", () => {
    const batch = new TradeBatch();
    const deep = (open: string, close: string, inner = ""): string => `${open.repeat(100_000)}${inner}${close.repeat(100_000)}`;
    for (const line of ["[".repeat(100_000), deep("[", "]"), deep('{"a":', "}", "1"), `{"e":"trade","s":${deep("[", "]")}}`, `{"stream":"x","data":{"e":"trade","s":${deep("[", "]")}}}`]) {
      expect(outcome(() => decodeBinanceWs(line))).toBe("INVALID_ARGUMENT");
      expect(() => decodeBinanceWsInto(line, batch)).toThrow(CandleflowError);
    }
    // Well-formed and deep, but a data array: not a trade, as for `!miniTicker@arr`.
    expect(decodeBinanceWs(`{"stream":"x","data":${deep("[", "]")}}`)).toBeNull();
  });
});

describe("the in-place CSV scanners", () => {
  const rows = ["13519807,0.00141342,23.00000000,15373518,15373520,1570752011620,True,True", "9,100.5,2,40,40,1723161255342,false", "9,100.5,2,40,40,1723161255342,false\r",
    "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker", "1,0.1,2,10,9,1570752011620,True,True", "1,0.1,-2,10,10,1570752011620,True,True",
    "1,0.1,2,10,10,1570752011620", "01,0.1,2,10,10,1570752011621,True,True", "2,0.0,2,10,10,1570752011622,True,True", "3,0.1,2,10,10,1570752011623,True,True,x"];
  test("aggTrades rows: the same as the checking decoder", () => {
    sameThroughEngine(rows, (l, b) => decodeAggTradesCsvInto(l, "XRPETH", b), (l) => decodeAggTradesCsv(l, "XRPETH"));
  });

  test("trades rows: the same as the checking decoder", () => {
    const trades = ["3735683259,61837.63,0.02,1236.75,1723161255342,True,True", "5,61837.6,0.002,123.6752,1723161255342123,false", "id,price,qty,quote_qty,time,is_buyer_maker",
      "1,1,0.1,1,17231612x5342,True,True", "1,1,0.1", "6,61837.6,0.002,,1723161255343,false", "7,61837.6,0.002,1,1723161255344,maybe"];
    sameThroughEngine(trades, (l, b) => decodeTradesCsvInto(l, "BTCUSDT", b), (l) => decodeTradesCsv(l, "BTCUSDT"));
  });

  test.skipIf(!hasShared)("the recorded XRPETH aggTrades give the same engine output both ways", () => {
    const lines = readFileSync(XRP, "utf8").split("\n").filter((l) => l !== "");
    sameThroughEngine(lines, (l, b) => decodeAggTradesCsvInto(l, "XRPETH", b), (l) => decodeAggTradesCsv(l, "XRPETH"));
  });
});
