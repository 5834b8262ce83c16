import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { TradeBatch } from "./batch.ts";
import { Engine } from "./engine.ts";
import type { EngineOptions, Trade } from "./types.ts";

const T0 = Date.UTC(2024, 7, 8, 23, 58, 0);
const OPTIONS: EngineOptions = {
  intervals: ["1m", "5m", "15m"],
  allowedLateness: 20_000,
  rules: { default: { whale: { notional: 5_000 }, priceMove: { percent: 0.5 }, volumeSpike: { factor: 2, lookback: 3 }, gap: {} } },
};

/** Trades, some broken, some late, some repeated: everything a batch must treat like `ingestMany`. */
const tradesArb = fc.array(
  fc.record({
    symbol: fc.constantFrom("BTCUSDT", "ETHUSDT", "XRPETH", ""),
    id: fc.integer({ min: 1000, max: 1040 }),
    dt: fc.integer({ min: -40_000, max: 9_000 }),
    price: fc.oneof(fc.constantFrom("61837.63000000", "0.00141342", "100", "1.10", "0", "-1", "1e5"), fc.integer({ min: 1, max: 9_999_999 }).map(String)),
    qty: fc.oneof(fc.constantFrom("0.02000000", "23.00000000", "0.1", "12345678901234567", "0.0000000000000000001"), fc.integer({ min: 1, max: 99_999 }).map((n) => `${n / 100}`)),
    buy: fc.boolean(),
    count: fc.constantFrom(undefined, undefined, 1, 3, 0),
  }),
  { minLength: 1, maxLength: 150 },
).map((rows) => {
  let ts = T0;
  return rows.map((r): Trade => {
    ts = Math.max(T0, ts + r.dt);
    return { symbol: r.symbol, id: r.id, price: r.price, qty: r.qty, ts, side: r.buy ? "buy" : "sell", ...(r.count === undefined ? {} : { count: r.count }) };
  });
});

describe("TradeBatch", () => {
  test("ingestBatch emits what ingestMany emits, and leaves the same state", () => {
    fc.assert(
      fc.property(tradesArb, fc.integer({ min: 1, max: 40 }), (trades, size) => {
        const a = new Engine(OPTIONS);
        const b = new Engine(OPTIONS);
        const batch = new TradeBatch(16);
        for (let i = 0; i < trades.length; i += size) {
          const part = trades.slice(i, i + size);
          batch.clear();
          for (const t of part) batch.push(t);
          expect(b.ingestBatch(batch)).toEqual(a.ingestMany(part));
        }
        expect(b.flush()).toEqual(a.flush());
        expect(b.snapshot()).toEqual(a.snapshot());
        expect(b.stats()).toEqual(a.stats());
      }),
      { numRuns: 300 },
    );
  });

  test("add() takes parsed parts and checks them like a trade", () => {
    const batch = new TradeBatch();
    batch.add("BTCUSDT", 1, 6183763, 2, 2, 2, 1_723_161_255_342_000, false);
    batch.add("BTCUSDT", 2, 100, 2, 5, 0, 1_723_161_255_343, true, 3); // 1.00: not canonical, still 1
    batch.add("BTCUSDT", 3, 0, 0, 5, 0, 1_723_161_255_343, true);
    batch.add("BTCUSDT", 4.5, 1, 0, 5, 0, 1_723_161_255_343, true);
    batch.add("BTCUSDT", 5, 1, 0, 5, 0, 12, true);
    batch.add("BTCUSDT", 6, 1, 0, 5, 0, 1_723_161_255_343, true, 0);
    const events = new Engine({ intervals: ["1m"] }).ingestBatch(batch);
    expect(events.filter((e) => e.type === "rejected").map((e) => e.type === "rejected" && e.reason)).toEqual(["price", "id", "ts", "count"]);
    const update = events.find((e) => e.type === "update");
    expect(update?.type === "update" && update.candle).toMatchObject({ open: "61837.63", close: "1", volume: "5.02", trades: 4, takerBuyVolume: "5" });
  });

  test("symbolAt names a row's symbol, a rejected row's too; pop takes the last row back", () => {
    const batch = new TradeBatch();
    batch.add("BTCUSDT", 1, 6183763, 2, 2, 2, T0, false);
    batch.push({ symbol: "ETHUSDT", id: 2, price: "2612.45", qty: "0", ts: T0, side: "buy" });
    batch.push(null as unknown as Trade);
    expect([0, 1, 2, 3].map((row) => batch.symbolAt(row))).toEqual(["BTCUSDT", "ETHUSDT", undefined, undefined]);
    expect(batch.rejected.map((r) => r.row)).toEqual([1, 2]);
    batch.pop();
    batch.pop();
    expect(batch.length).toBe(1);
    expect(batch.rejected).toEqual([]);
    batch.add("XRPETH", 3, 141342, 8, 23, 0, T0 + 1, true);
    const events = new Engine({ intervals: ["1m"] }).ingestBatch(batch);
    expect(events.map((e) => e.type)).toEqual(["update", "update"]);
    expect(events.map((e) => e.type === "update" && e.candle.symbol)).toEqual(["BTCUSDT", "XRPETH"]);
  });

  test("a batch grows past its capacity", () => {
    const batch = new TradeBatch(16);
    for (let i = 0; i < 100; i++) batch.add("ETHUSDT", i, 261245, 2, 1, 1, T0 + i, i % 2 === 0);
    expect(batch.length).toBe(100);
    expect(new Engine().ingestBatch(batch).filter((e) => e.type === "update")).toHaveLength(4);
  });
});
