import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { TradeBatch } from "./batch.ts";
import { Engine } from "./engine.ts";
import { decodeAggTradesCsvInto, decodeTradesCsvInto } from "./csv.ts";
import { scanAggTradesCsvBytes, scanTradesCsvBytes } from "./csv-bytes.ts";

const XRP = join(import.meta.dir, "..", "..", "..", "shared", "fixtures", "binance-spot-xrpeth-2019-10", "XRPETH-aggTrades.csv");
const hasShared = existsSync(XRP);
if (!hasShared) console.warn(`csv-bytes.test.ts: ${XRP} is absent; skipping the recorded-data run`);

type Kind = "agg" | "trades";
const TEXT = { agg: decodeAggTradesCsvInto, trades: decodeTradesCsvInto };
const BYTES = { agg: scanAggTradesCsvBytes, trades: scanTradesCsvBytes };

/** What a decode left: one outcome per line ("row", "none" or the error), and the batch's columns. */
function outcome(outcomes: string[], batch: TradeBatch) {
  const n = batch.length;
  const col = (a: ArrayLike<number>) => Array.from(a).slice(0, n);
  return {
    outcomes,
    rows: n,
    names: batch.names,
    sym: col(batch.sym), id: col(batch.id), ts: col(batch.ts), pm: col(batch.pm), pe: col(batch.pe),
    qm: col(batch.qm), qe: col(batch.qe), buy: col(batch.buy), count: col(batch.count),
    rejected: batch.rejected,
  };
}

function line(kind: Kind, text: string, symbol: string, batch: TradeBatch, outcomes: string[]): void {
  try {
    outcomes.push(TEXT[kind](text, symbol, batch) ? "row" : "none");
  } catch (e) {
    outcomes.push(`error: ${(e as Error).message}`);
  }
}

/** Every line through the text decoder. */
function viaText(kind: Kind, text: string, symbol: string) {
  const batch = new TradeBatch(16);
  const outcomes: string[] = [];
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  for (const l of lines) line(kind, l, symbol, batch, outcomes);
  return outcome(outcomes, batch);
}

/** The bytes scanned up to each cut in turn, the rows it does not take through the text decoder, as a reader of a file in chunks does. */
function viaBytes(kind: Kind, text: string, symbol: string, cuts: number[], maxRows = Infinity) {
  const bytes = new TextEncoder().encode(text);
  const batch = new TradeBatch(16);
  const outcomes: string[] = [];
  // A byte-order mark is text like any other here (a reader drops it from line 1 itself).
  const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  const ends = [...new Set([...cuts.map((c) => Math.min(c, bytes.length)), bytes.length])].sort((a, b) => a - b);
  let at = 0;
  for (const end of ends) {
    while (at < end) {
      const before = batch.length;
      at = BYTES[kind](bytes, at, end, symbol, batch, maxRows);
      const taken = batch.length - before;
      for (let n = taken; n > 0; n--) outcomes.push("row");
      if (taken === maxRows) continue;
      const nl = bytes.indexOf(10, at);
      if (nl < 0 || nl >= end) break;
      line(kind, decoder.decode(bytes.subarray(at, nl)), symbol, batch, outcomes);
      at = nl + 1;
    }
  }
  if (at < bytes.length) line(kind, decoder.decode(bytes.subarray(at)), symbol, batch, outcomes);
  return outcome(outcomes, batch);
}

const int = fc.oneof(fc.integer({ min: 0, max: 5_000_000_000 }).map(String), fc.constantFrom("0", "007", "", "x", "9007199254740993", "1234567890123456", "-5"));
const decimalText = fc.oneof(
  fc.tuple(fc.integer({ min: 0, max: 99_999 }), fc.integer({ min: 0, max: 99_999_999 })).map(([a, b]) => `${a}.${String(b).padStart(8, "0")}`),
  fc.integer({ min: 1, max: 9_999_999 }).map(String),
  fc.constantFrom("0", "0.00000000", "1.", ".5", "abc", "", "1e5", "-1", "12345678901234567", "0.0000000000000000001", "61837.63000000", "é"),
);
const time = fc.oneof(fc.integer({ min: 1_500_000_000_000, max: 1_800_000_000_000 }).map(String), fc.constantFrom("0", "1723161255342000", "1723161255342000000", "12", "17231612553420000000"));
const maker = fc.constantFrom("True", "False", "true", "false", "TRUE", "yes", "");
const tail = fc.constantFrom("", ",True", ",False", ",", ",x,y", ",é", "\r", ",True\r", "\r\r", " ");

const aggRow = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(int, decimalText, decimalText, fc.integer({ min: 0, max: 1000 }), fc.integer({ min: -2, max: 5 }), time, maker, tail)
    .map(([id, p, q, first, span, ts, m, t]) => `${id},${p},${q},${first},${first + span},${ts},${m}${t}`) },
  { weight: 1, arbitrary: fc.constantFrom("agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker", "", "1,2,3", "\uFEFF1,2,3,4,5,1723161255342,True") },
);
const tradesRow = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(int, decimalText, decimalText, fc.oneof(decimalText, fc.constantFrom("", "q")), time, maker, tail)
    .map(([id, p, q, quote, ts, m, t]) => `${id},${p},${q},${quote},${ts},${m}${t}`) },
  { weight: 1, arbitrary: fc.constantFrom("id,price,qty,quote_qty,time,is_buyer_maker,is_best_match", "", "1,2,3") },
);

describe("CSV bytes scanners", () => {
  for (const [kind, rows] of [["agg", aggRow], ["trades", tradesRow]] as const) {
    test(`${kind}: the same trades, rejections and errors as the text decoder, however the bytes are cut and however many rows a scan may take`, () => {
      fc.assert(
        fc.property(fc.array(rows, { maxLength: 40 }), fc.boolean(), fc.array(fc.nat(4000), { maxLength: 6 }), fc.constantFrom("BTCUSDT", "XRPETH", ""), fc.constantFrom(Infinity, 1, 3), (lines, last, cuts, symbol, maxRows) => {
          const text = lines.join("\n") + (last ? "\n" : "");
          expect(viaBytes(kind, text, symbol, cuts, maxRows)).toEqual(viaText(kind, text, symbol));
        }),
        { numRuns: 1500 },
      );
    });
  }

  test.skipIf(!hasShared)("the recorded XRPETH file scanned from its bytes gives the events and state its lines give", () => {
    const bytes = new Uint8Array(readFileSync(XRP));
    const options = { intervals: ["1m", "5m"], empty: "flat" as const };
    const fromBytes = new Engine(options);
    const fromLines = new Engine(options);
    const a = new TradeBatch(4096);
    const b = new TradeBatch(4096);
    const eventsA: unknown[] = [];
    const eventsB: unknown[] = [];
    for (let at = 0; at < bytes.length;) {
      at = scanAggTradesCsvBytes(bytes, at, bytes.length, "XRPETH", a, 4096);
      if (a.length < 4096 && at < bytes.length) throw new Error(`row at byte ${at} not taken`);
      eventsA.push(...fromBytes.ingestBatch(a));
      a.clear();
    }
    const lines = new TextDecoder().decode(bytes).split("\n").filter((l) => l !== "");
    for (let i = 0; i < lines.length; i += 4096) {
      for (const l of lines.slice(i, i + 4096)) decodeAggTradesCsvInto(l, "XRPETH", b);
      eventsB.push(...fromLines.ingestBatch(b));
      b.clear();
    }
    eventsA.push(...fromBytes.flush());
    eventsB.push(...fromLines.flush());
    expect(fromBytes.stats().trades).toBe(lines.length);
    expect(eventsA).toEqual(eventsB);
    expect(fromBytes.snapshot()).toEqual(fromLines.snapshot());
  });

  test("usual rows are taken from the bytes; the first unusual row is left where it starts", () => {
    const rows = [
      "13519807,0.00141342,23.00000000,15373518,15373520,1570752011620,True,True",
      "13519808,0.00141343,1.5,15373521,15373521,1570752011621,False",
      "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker",
    ];
    const bytes = new TextEncoder().encode(rows.join("\n") + "\n");
    const batch = new TradeBatch();
    const stop = scanAggTradesCsvBytes(bytes, 0, bytes.length, "XRPETH", batch);
    expect(stop).toBe(rows[0]!.length + rows[1]!.length + 2);
    expect(batch.length).toBe(2);
    expect([batch.pm[0], batch.pe[0], batch.qm[0], batch.qe[0], batch.count[0], batch.buy[0]]).toEqual([141342, 8, 23, 0, 3, 0]);
    expect([batch.pm[1], batch.pe[1], batch.qm[1], batch.qe[1], batch.count[1], batch.buy[1]]).toEqual([141343, 8, 15, 1, 1, 1]);
    // At most maxRows rows, the next one left where it starts.
    const one = new TradeBatch();
    expect(scanAggTradesCsvBytes(bytes, 0, bytes.length, "XRPETH", one, 1)).toBe(rows[0]!.length + 1);
    expect(one.length).toBe(1);
    // A row cut off by the end of the chunk is not taken, however much of it is there.
    const cut = new TradeBatch();
    expect(scanAggTradesCsvBytes(bytes, 0, rows[0]!.length, "XRPETH", cut)).toBe(0);
    expect(cut.length).toBe(0);
  });
});
