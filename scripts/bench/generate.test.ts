import { describe, expect, test } from "bun:test";
import { decodeBinanceWs } from "../../src/lib/binance.ts";
import { decimal8, market, wsLine } from "./generate.ts";

describe("generated market", () => {
  const m = market({ symbols: 20, trades: 50_000, seed: 7 });

  test("the same seed gives the same trades, another seed others", () => {
    expect(market({ symbols: 20, trades: 50_000, seed: 7 }).trades).toEqual(m.trades);
    expect(market({ symbols: 20, trades: 1_000, seed: 8 }).trades).not.toEqual(m.trades.slice(0, 1_000));
  });

  test("about 2% arrive out of order, never later than the 10 s bound allows", () => {
    expect(m.trades).toHaveLength(50_000);
    expect(m.outOfOrderShare).toBeGreaterThan(0.015);
    expect(m.outOfOrderShare).toBeLessThan(0.025);
    let maxTs = 0;
    for (const t of m.trades) {
      maxTs = Math.max(maxTs, t.ts);
      expect(maxTs - t.ts).toBeLessThan(10_000);
    }
  });

  test("ids count up by one per symbol in event time, so nothing is missing or doubled", () => {
    const ordered = [...m.trades].sort((a, b) => a.ts - b.ts || a.id - b.id);
    const last = new Map<string, number>();
    for (const t of ordered) {
      const prev = last.get(t.symbol);
      if (prev !== undefined) expect(t.id).toBe(prev + 1);
      last.set(t.symbol, t.id);
    }
    expect(last.size).toBe(20);
  });

  test("prices and quantities are positive Binance decimals with 8 places", () => {
    for (const t of m.trades) {
      expect(t.price).toMatch(/^\d+\.\d{8}$/);
      expect(t.qty).toMatch(/^\d+\.\d{8}$/);
      expect(Number(t.price)).toBeGreaterThan(0);
      expect(Number(t.qty)).toBeGreaterThan(0);
    }
  });

  test("each symbol trades about 1 to 50 times per second of event time", () => {
    const perSymbol = new Map<string, number>();
    for (const t of m.trades) perSymbol.set(t.symbol, (perSymbol.get(t.symbol) ?? 0) + 1);
    for (const n of perSymbol.values()) {
      const rate = n / (m.spanMs / 1000);
      expect(rate).toBeGreaterThan(0.8);
      expect(rate).toBeLessThan(55);
    }
  });

  test("a duration stops the stream at that event time", () => {
    const short = market({ symbols: 50, durationMs: 60_000, start: 1_723_075_200_000 });
    const last = Math.max(...short.trades.map((t) => t.ts));
    expect(last).toBeLessThan(1_723_075_260_000);
    expect(last).toBeGreaterThan(1_723_075_259_000);
    expect(new Set(short.trades.map((t) => t.symbol)).size).toBe(50);
  });
});

test("decimal8 pads like the exchange", () => {
  expect(decimal8(6183763, 2)).toBe("61837.63000000");
  expect(decimal8(2, 2)).toBe("0.02000000");
  expect(decimal8(1412, 8)).toBe("0.00001412");
  expect(decimal8(1234, 0)).toBe("1234.00000000");
});

test("a WebSocket line decodes back to the trade it was made from", () => {
  for (const t of market({ symbols: 20, trades: 2_000, seed: 3 }).trades) {
    expect(decodeBinanceWs(wsLine(t, t.ts + 1))).toEqual(t);
  }
});
