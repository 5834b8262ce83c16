import { describe, expect, test } from "bun:test";
import { Engine } from "./engine.ts";
import type { Candle, EngineEvent, Trade } from "./types.ts";

const T0 = Date.UTC(2024, 7, 8, 12, 0, 0); // a minute boundary
const trade = (id: number, price: string, qty: string, ts: number, side: "buy" | "sell" = "buy", symbol = "BTCUSDT"): Trade =>
  ({ symbol, id, price, qty, ts, side });
const of = <K extends EngineEvent["type"]>(events: EngineEvent[], type: K) =>
  events.filter((e): e is Extract<EngineEvent, { type: K }> => e.type === type);
const candles = (events: EngineEvent[], type: "final" | "revision" | "update" = "final"): Candle[] =>
  of(events, type).map((e) => e.candle);

describe("windows and OHLCV", () => {
  test("a minute of trades becomes one exact candle when the watermark passes its end", () => {
    const e = new Engine({ intervals: ["1m"] });
    const out = e.ingestMany([
      trade(1, "100.10", "0.1", T0 + 1_000, "buy"),
      trade(2, "100.30", "0.2", T0 + 2_000, "sell"),
      trade(3, "99.90", "0.3", T0 + 3_000, "buy"),
      trade(4, "100.00", "0.4", T0 + 59_999, "sell"),
    ]);
    expect(candles(out)).toEqual([]);
    const c = candles(e.ingest(trade(5, "101", "1", T0 + 70_000)))[0]!;
    expect(c).toEqual({
      symbol: "BTCUSDT", interval: "1m", openTime: T0, open: "100.1", high: "100.3", low: "99.9", close: "100",
      volume: "1", quoteVolume: "100.04", trades: 4, takerBuyVolume: "0.4", takerBuyQuoteVolume: "39.98",
      vwap: "100.04", rev: 0, final: true,
    });
  });

  test("0.1 + 0.2 is 0.3: sums are exact where doubles drift", () => {
    const e = new Engine({ intervals: ["1m"] });
    e.ingestMany([trade(1, "0.1", "0.1", T0), trade(2, "0.2", "0.2", T0 + 1)]);
    const c = candles(e.flush())[0]!;
    expect(c.volume).toBe("0.3");
    expect(c.quoteVolume).toBe("0.05");
    expect(0.1 + 0.2).not.toBe(0.3);
  });

  test("sums past 2^53 stay exact", () => {
    const e = new Engine({ intervals: ["1h"] });
    // 15-digit mantissas: each fits a double, their sum and products do not
    e.ingestMany(Array.from({ length: 12 }, (_, i) => trade(i + 1, "60000.12345678", "9000000.12345678", T0 + i)));
    const c = candles(e.flush())[0]!;
    expect(c.volume).toBe("108000001.48148136");
    expect(c.quoteVolume).toBe("6480013422221.3044989183356208");
  });

  test("open and close follow trade time, not arrival order", () => {
    const e = new Engine({ intervals: ["1m"] });
    e.ingestMany([trade(2, "2", "1", T0 + 2_000), trade(1, "1", "1", T0 + 1_000), trade(4, "4", "1", T0 + 4_000), trade(3, "3", "1", T0 + 3_000)]);
    const c = candles(e.flush())[0]!;
    expect([c.open, c.close, c.high, c.low]).toEqual(["1", "4", "4", "1"]);
  });

  test("equal times break ties by trade id", () => {
    const e = new Engine({ intervals: ["1m"] });
    e.ingestMany([trade(11, "5", "1", T0), trade(10, "6", "1", T0)]);
    const c = candles(e.flush())[0]!;
    expect([c.open, c.close]).toEqual(["6", "5"]);
  });

  test("several intervals at once, epoch aligned, with an offset", () => {
    const e = new Engine({ intervals: ["1m", "5m"], offset: 30_000 });
    const finals = candles([...e.ingestMany([trade(1, "1", "1", T0 + 10_000), trade(2, "2", "1", T0 + 80_000)]), ...e.flush()]);
    expect(finals.map((c) => [c.interval, c.openTime - T0])).toEqual([
      ["1m", -30_000], ["5m", -270_000], ["1m", 30_000], ["5m", 30_000],
    ]);
  });

  test("aggregate trades count as the trades they stand for", () => {
    const e = new Engine({ intervals: ["1m"] });
    e.ingest({ ...trade(7, "1", "3", T0), count: 5 });
    expect(candles(e.flush())[0]!.trades).toBe(5);
  });

  test("µs and ns timestamps land in the same window as ms", () => {
    const ms = new Engine({ intervals: ["1m"] });
    const us = new Engine({ intervals: ["1m"] });
    const ns = new Engine({ intervals: ["1m"] });
    ms.ingest(trade(1, "1", "1", T0 + 59_999));
    us.ingest(trade(1, "1", "1", (T0 + 59_999) * 1000 + 999));
    ns.ingest(trade(1, "1", "1", (T0 + 59_999) * 1e6));
    const expected = candles(ms.flush());
    expect(expected).toHaveLength(1);
    expect(candles(us.flush())).toEqual(expected);
    expect(candles(ns.flush())).toEqual(expected);
  });

  test("update events: at most one per window per call, never after final", () => {
    const e = new Engine({ intervals: ["1m", "5m"] });
    const out = e.ingestMany([trade(1, "1", "1", T0), trade(2, "2", "1", T0 + 1), trade(3, "3", "1", T0 + 2)]);
    const ups = candles(out, "update");
    expect(ups.map((c) => c.interval)).toEqual(["1m", "5m"]);
    expect(ups[0]).toMatchObject({ close: "3", trades: 3, final: false, rev: 0 });
    expect(candles(new Engine({ updates: false }).ingest(trade(1, "1", "1", T0)), "update")).toEqual([]);
  });
});

describe("pulled updates", () => {
  test("\"pull\": calls emit no updates; a pull gives one per open window touched since the last pull", () => {
    const e = new Engine({ intervals: ["1m", "5m"], updates: "pull" });
    expect(candles(e.ingest(trade(1, "1", "1", T0)), "update")).toEqual([]);
    expect(candles(e.ingest(trade(2, "2", "1", T0 + 1)), "update")).toEqual([]);
    const pulled = candles(e.pullUpdates(), "update");
    expect(pulled.map((c) => [c.interval, c.trades, c.close])).toEqual([["1m", 2, "2"], ["5m", 2, "2"]]);
    expect(e.pullUpdates()).toEqual([]);
    // The minute closes before the next pull: no update for it, but the 5m window (still open) has one.
    e.ingest(trade(3, "3", "1", T0 + 2));
    e.ingest(trade(4, "4", "1", T0 + 75_000));
    expect(candles(e.pullUpdates(), "update").map((c) => [c.interval, c.openTime - T0, c.trades])).toEqual([
      ["1m", 60_000, 1], ["5m", 0, 4],
    ]);
  });

  test("a larger window gets its update even when the pane that changed it closed in the same call", () => {
    const e = new Engine({ intervals: ["1m", "5m"] });
    e.ingest(trade(1, "1", "1", T0));
    const out = e.ingestMany([trade(2, "2", "1", T0 + 1_000), trade(3, "3", "1", T0 + 71_000)]);
    const five = candles(out, "update").find((c) => c.interval === "5m");
    expect(five).toMatchObject({ trades: 3, close: "3" });
  });
});

describe("watermarks, lateness, revisions", () => {
  test("a trade within the out-of-orderness bound still counts", () => {
    const e = new Engine({ intervals: ["1m"] });
    e.ingest(trade(1, "1", "1", T0 + 65_000)); // watermark T0 + 55 s: [T0, T0+60s) still open
    expect(of(e.ingest(trade(2, "2", "1", T0 + 50_000)), "late")).toEqual([]);
    const finals = candles(e.flush());
    expect(finals.map((c) => c.trades)).toEqual([1, 1]);
  });

  test("past the bound and with no lateness: a counted late event, candle untouched", () => {
    const e = new Engine({ intervals: ["1m"] });
    e.ingest(trade(1, "1", "1", T0 + 1_000));
    const final = candles(e.ingest(trade(2, "1", "1", T0 + 75_000)));
    expect(final).toHaveLength(1);
    const out = e.ingest(trade(3, "9", "1", T0 + 2_000));
    expect(of(out, "late")).toEqual([{ type: "late", symbol: "BTCUSDT", interval: "1m", openTime: T0, id: 3, ts: T0 + 2_000 }]);
    expect(e.stats().late).toBe(1);
    expect(e.stats().trades).toBe(2);
  });

  test("within allowed lateness: a revision with rev + 1; after it, late", () => {
    const e = new Engine({ intervals: ["1m"], allowedLateness: 30_000 });
    e.ingest(trade(1, "1", "1", T0 + 1_000));
    e.ingest(trade(2, "1", "1", T0 + 75_000)); // final for [T0, T0+60s)
    const rev1 = candles(e.ingest(trade(3, "9", "2", T0 + 5_000)), "revision");
    expect(rev1).toEqual([expect.objectContaining({ openTime: T0, high: "9", volume: "3", trades: 2, rev: 1, final: true })]);
    const rev2 = candles(e.ingest(trade(4, "0.5", "1", T0 + 6_000)), "revision");
    expect(rev2[0]).toMatchObject({ low: "0.5", rev: 2 });
    e.ingest(trade(5, "1", "1", T0 + 101_000)); // watermark T0 + 91 s ≥ end + lateness
    expect(of(e.ingest(trade(6, "1", "1", T0 + 7_000)), "late")).toHaveLength(1);
    expect(e.stats()).toMatchObject({ revisions: 2, late: 1 });
  });

  test("late for the minute but on time for the hour: counted once per refusing interval", () => {
    const e = new Engine({ intervals: ["1m", "1h"] });
    e.ingest(trade(1, "1", "1", T0 + 1_000));
    e.ingest(trade(2, "1", "1", T0 + 80_000));
    const out = e.ingest(trade(3, "1", "1", T0 + 2_000));
    expect(of(out, "late").map((l) => l.interval)).toEqual(["1m"]);
    const hour = candles(e.flush()).find((c) => c.interval === "1h")!;
    expect(hour.trades).toBe(3);
  });

  test("advance(now) closes the windows of a quiet symbol", () => {
    const e = new Engine({ intervals: ["1m"] });
    e.ingest(trade(1, "1", "1", T0 + 1_000));
    expect(candles(e.advance(T0 + 69_999))).toEqual([]);
    expect(candles(e.advance(T0 + 70_000)).map((c) => c.openTime)).toEqual([T0]);
    expect(() => e.advance(Number.NaN)).toThrow(/finite/);
  });
});

describe("empty windows", () => {
  const quiet = (empty: "skip" | "flat") => {
    const e = new Engine({ intervals: ["1m"], empty });
    return candles([
      ...e.ingest(trade(1, "10.5", "1", T0 + 1_000)),
      ...e.ingest(trade(2, "11", "1", T0 + 3 * 60_000 + 1_000)),
      ...e.flush(),
    ]);
  };

  test("skip: no candle for a minute without trades", () => {
    expect(quiet("skip").map((c) => c.openTime - T0)).toEqual([0, 180_000]);
  });

  test("flat: O=H=L=C=previous close, zero volume, like the exchange", () => {
    const cs = quiet("flat");
    expect(cs.map((c) => c.openTime - T0)).toEqual([0, 60_000, 120_000, 180_000]);
    expect(cs[1]).toMatchObject({ open: "10.5", high: "10.5", low: "10.5", close: "10.5", volume: "0", trades: 0, vwap: "0" });
  });

  test("flat: never a candle before a symbol's first trade, and idle symbols keep flat-lining", () => {
    const e = new Engine({ intervals: ["1m"], empty: "flat" });
    expect(candles(e.advance(T0 + 10 * 60_000))).toEqual([]);
    e.ingest(trade(1, "2", "1", T0 + 1_000));
    const cs = candles(e.advance(T0 + 3 * 60_000 + 10_000));
    expect(cs.map((c) => [c.openTime - T0, c.volume])).toEqual([[0, "1"], [60_000, "0"], [120_000, "0"]]);
  });
});

describe("dedupe, gaps, validation", () => {
  test("a repeated id is dropped and counted, wherever it comes", () => {
    const e = new Engine({ intervals: ["1m"] });
    e.ingestMany([trade(1, "1", "1", T0), trade(3, "1", "1", T0 + 2), trade(1, "5", "5", T0 + 3), trade(2, "1", "1", T0 + 1), trade(2, "7", "1", T0 + 4)]);
    expect(e.stats()).toMatchObject({ trades: 3, duplicates: 2 });
    expect(candles(e.flush())[0]).toMatchObject({ trades: 3, volume: "3", high: "1" });
  });

  test("a gap in trade ids is reported once the watermark has passed it, not while it can still fill", () => {
    const e = new Engine({ intervals: ["1m"], rules: { default: { gap: {} } } });
    e.ingestMany([trade(1, "1", "1", T0), trade(5, "1", "1", T0 + 1_000)]);
    expect(of(e.ingest(trade(3, "1", "1", T0 + 500)), "alert")).toEqual([]);
    const alerts = of(e.ingest(trade(6, "1", "1", T0 + 20_000)), "alert").map((a) => a.alert);
    expect(alerts.map((a) => [a.id, a.value])).toEqual([["gap:BTCUSDT:2-2", 1], ["gap:BTCUSDT:4-4", 1]]);
  });

  test.each([
    [{ price: "abc" }, "price"], [{ price: "-1" }, "price"], [{ price: "0" }, "price"], [{ price: 1 }, "price"],
    [{ qty: "0" }, "qty"], [{ qty: "-0.5" }, "qty"], [{ qty: "1e5" }, "qty"], [{ ts: Number.NaN }, "ts"],
    [{ ts: 12 }, "ts"], [{ ts: 1e25 }, "ts"], [{ symbol: "" }, "symbol"], [{ side: "up" }, "side"],
    [{ id: -1 }, "id"], [{ id: 1.5 }, "id"], [{ count: 0 }, "count"], [{ price: "1.1234567890123456789" }, "precision"],
  ] as const)("rejects %p as %s, and keeps going", (patch, reason) => {
    const e = new Engine({ intervals: ["1m"] });
    const out = e.ingestMany([{ ...trade(1, "1", "1", T0), ...patch } as Trade, trade(2, "1", "1", T0 + 1)]);
    expect(of(out, "rejected").map((r) => r.reason)).toEqual([reason]);
    expect(e.stats()).toMatchObject({ rejected: 1, trades: 1 });
  });

  test("garbage that is not even an object is rejected, not thrown", () => {
    const e = new Engine();
    const out = e.ingestMany([null, 42, "x", {}] as unknown as Trade[]);
    expect(of(out, "rejected")).toHaveLength(4);
  });
});

describe("alerts", () => {
  test("whale: notional at or above the threshold, compared exactly", () => {
    const e = new Engine({ intervals: ["1m"], rules: { default: { whale: { notional: "100000" } } } });
    const out = e.ingestMany([trade(1, "50000", "2", T0), trade(2, "49999.99", "2", T0 + 1)]);
    expect(of(out, "alert").map((a) => a.alert.id)).toEqual(["whale:BTCUSDT:1"]);
  });

  test("per-symbol rules override the default", () => {
    const e = new Engine({
      intervals: ["1m"],
      rules: { default: { whale: { notional: 10 } }, symbols: { ETHUSDT: { whale: { notional: 1000 } } } },
    });
    const out = e.ingestMany([trade(1, "100", "1", T0, "buy", "BTCUSDT"), trade(1, "100", "1", T0, "buy", "ETHUSDT")]);
    expect(of(out, "alert").map((a) => a.alert.symbol)).toEqual(["BTCUSDT"]);
  });

  test("default rules hold for every other symbol, whichever came first, in every engine and after a restore", () => {
    const rules = (whale: number) => ({ default: { whale: { notional: whale } }, symbols: { ETHUSDT: { whale: { notional: 1000 } } } });
    const low = new Engine({ intervals: ["1m"], rules: rules(10) });
    const high = new Engine({ intervals: ["1m"], rules: rules(500) });
    const whales = (out: EngineEvent[]) => of(out, "alert").map((a) => `${a.alert.symbol}>${a.alert.threshold}`);
    // The symbol with rules of its own comes first, then two that take the defaults.
    const first = [trade(1, "600", "1", T0, "buy", "ETHUSDT"), trade(1, "100", "1", T0, "buy", "BTCUSDT")];
    expect(whales(low.ingestMany(first))).toEqual(["BTCUSDT>10"]);
    expect(whales(high.ingestMany(first))).toEqual([]);
    const later = [trade(1, "600", "1", T0 + 1, "buy", "SOLUSDT"), trade(2, "1200", "1", T0 + 2, "buy", "ETHUSDT")];
    expect(whales(Engine.restore(low.snapshot()).ingestMany(later))).toEqual(["SOLUSDT>10", "ETHUSDT>1000"]);
    expect(whales(high.ingestMany(later))).toEqual(["SOLUSDT>500", "ETHUSDT>1000"]);
  });

  test("price move, z-score and volume spike fire on final candles with stable ids", () => {
    const e = new Engine({
      intervals: ["1m"],
      rules: { default: { priceMove: { percent: 5, zScore: 3, lookback: 4 }, volumeSpike: { factor: 3, lookback: 4 } } },
    });
    const closes = ["100", "100.1", "100", "100.1", "100", "120"];
    const vols = ["1", "1", "1", "1", "1", "10"];
    closes.forEach((p, i) => e.ingest(trade(i + 1, p, vols[i]!, T0 + i * 60_000)));
    const ids = of(e.flush(), "alert").map((a) => a.alert.id);
    const last = T0 + 5 * 60_000;
    expect(ids).toEqual([`zscore:BTCUSDT:1m:${last}`, `volume_spike:BTCUSDT:1m:${last}`]);
    const e2 = new Engine({ intervals: ["1m"], rules: { default: { priceMove: { percent: 5 } } } });
    e2.ingestMany([trade(1, "100", "1", T0), trade(2, "106", "1", T0 + 1)]);
    expect(of(e2.flush(), "alert").map((a) => [a.alert.rule, a.alert.value])).toEqual([["price_move", 6]]);
  });
});

describe("options", () => {
  test.each([
    [{ intervals: [] }, /non-empty/], [{ intervals: ["1m", "1m"] }, /repeat/], [{ intervals: ["7x"] }, /interval/],
    [{ outOfOrderness: -1 }, /outOfOrderness/], [{ empty: "fill" }, /empty/], [{ updates: "later" }, /updates/],
  ])("rejects %p", (options, message) => {
    expect(() => new Engine(options as never)).toThrow(message);
  });
});
