import { expect, test } from "bun:test";
import { field, symbolsOf } from "./clients.ts";
import { committedAt, Histogram, rateOver, sinceStamp, spread, stampOf, stampPrice } from "./e2e.ts";

test("a stamped price is a Binance-shaped decimal that gives its time back, canonical or as a snapshot number", () => {
  const sent = 1_723_075_212_345.67;
  const price = stampPrice(sent);
  expect(price).toMatch(/^1000\.\d{8}$/);
  expect(sinceStamp(stampOf(price), sent + 12.5)).toBeCloseTo(12.5 + 0.07, 3);
  // "1000.12340000" is rendered "1000.1234" in candles and 1000.1234 in snapshots.
  expect(stampOf("1000.1234")).toBe(123_400);
  expect(stampOf(1000.1234)).toBe(123_400);
  expect(stampOf("1000")).toBe(0);
});

test("the age of a stamp survives the 100 s wrap of the stamp", () => {
  const sent = 1_723_075_299_999.9;
  const stamp = stampOf(stampPrice(sent));
  expect(stamp).toBe(999_999);
  expect(sinceStamp(stamp, sent + 3)).toBeCloseTo(3, 3);
});

test("percentiles of the histogram are within 1% above the true value", () => {
  const h = new Histogram();
  for (let ms = 1; ms <= 1000; ms++) h.add(ms);
  for (const [p, exact] of [[50, 500], [99, 990], [100, 1000]] as const) {
    expect(h.percentile(p)).toBeGreaterThanOrEqual(exact);
    expect(h.percentile(p)).toBeLessThanOrEqual(exact * 1.01);
  }
  expect(new Histogram().percentile(50)).toBeNaN();
});

test("histograms merge and cross IPC as sparse arrays without losing weight", () => {
  const a = new Histogram();
  a.add(2, 3);
  a.add(40);
  const b = Histogram.fromSparse(a.toSparse());
  b.merge(a);
  expect(b.total).toBe(8);
  expect(b.percentile(75)).toBeLessThan(2.03);
  expect(b.percentile(100)).toBeGreaterThanOrEqual(40);
});

test("a frame's trades are spread between its newest and the previous frame's newest", () => {
  const h = new Histogram();
  spread(h, 10, 30, 100);
  expect(h.total).toBeCloseTo(100, 9);
  expect(h.percentile(1)).toBeGreaterThan(10);
  expect(h.percentile(50)).toBeCloseTo(20, -0.5);
  expect(h.percentile(100)).toBeLessThan(30);
});

test("committed trades are read between commits, and rates over a window use them", () => {
  const commits = [[1000, 0], [1500, 5000], [2500, 10_000], [3000, 20_000]] as const;
  expect(committedAt(commits, 1250)).toBe(2500);
  expect(committedAt(commits, 2500)).toBe(10_000);
  expect(committedAt(commits, 999)).toBeNaN();
  expect(committedAt(commits, 3001)).toBeNaN();
  expect(rateOver(commits, 1000, 3000)).toBe(10_000);
  expect(rateOver(commits, 2500, 3000)).toBe(20_000);
});

test("the client reads fields of a candle frame without parsing it", () => {
  const frame = JSON.stringify({
    type: "candle", kind: "update",
    candle: { symbol: "BTCUSDT", interval: "1m", openTime: 1_723_075_200_000, close: "1000.1234", trades: 17, final: false },
  });
  expect(field(frame, '"symbol":')).toBe("BTCUSDT");
  expect(field(frame, '"openTime":')).toBe("1723075200000");
  expect(field(frame, '"close":')).toBe("1000.1234");
  expect(field(frame, '"trades":')).toBe("17");
  expect(field(frame, '"final":')).toBe("false");
  expect(field(frame, '"vwap":')).toBeUndefined();
});

test("clients take 1 to 3 distinct symbols and cover all 20 about evenly", () => {
  const symbols = Array.from({ length: 20 }, (_, i) => `S${i}`);
  const per = new Map<string, number>();
  for (let i = 0; i < 1000; i++) {
    const mine = symbolsOf(i, symbols);
    expect(mine.length).toBe(1 + (i % 3));
    expect(new Set(mine).size).toBe(mine.length);
    for (const s of mine) per.set(s, (per.get(s) ?? 0) + 1);
  }
  expect(per.size).toBe(20);
  expect(Math.min(...per.values())).toBeGreaterThanOrEqual(80);
  expect(Math.max(...per.values())).toBeLessThanOrEqual(120);
});
