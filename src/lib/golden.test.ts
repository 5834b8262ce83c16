import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { decodeAggTradesCsv, decodeBinanceWs } from "./binance.ts";
import { Engine } from "./index.ts";
import type { Candle, EngineEvent, Trade } from "./types.ts";

// Golden checks against real recorded exchange data: the exchange's own klines (XRPETH), and
// exact BigInt arithmetic done here, independently of the engine (BTCUSDT).

const SHARED = join(import.meta.dir, "..", "..", "..", "shared", "fixtures");
const XRP = join(SHARED, "binance-spot-xrpeth-2019-10");
const BTC = join(SHARED, "binance-spot-btcusdt-2024-08-08", "trades.ws.jsonl");
const hasShared = existsSync(join(XRP, "XRPETH-aggTrades.csv")) && existsSync(BTC);
if (!hasShared) console.warn(`golden.test.ts: ${SHARED} is absent; skipping the golden tests`);

/** Every final candle (latest revision) of a run over `trades`, then `flush`. */
function finals(trades: Trade[], intervals: string[], empty: "skip" | "flat"): Candle[] {
  const engine = new Engine({ intervals, empty, updates: false });
  const events: EngineEvent[] = [];
  for (let i = 0; i < trades.length; i += 4096) events.push(...engine.ingestMany(trades.slice(i, i + 4096)));
  events.push(...engine.flush());
  const unexpected = events.filter((e) => e.type !== "final" && e.type !== "revision");
  expect(unexpected).toEqual([]);
  const byKey = new Map<string, Candle>();
  for (const e of events) {
    if (e.type !== "final" && e.type !== "revision") continue;
    const key = `${e.candle.interval} ${e.candle.openTime}`;
    const had = byKey.get(key);
    if (had === undefined || e.candle.rev >= had.rev) byKey.set(key, e.candle);
  }
  return [...byKey.values()];
}

/** A JSON number's text as a canonical decimal ("1482.0" → "1482", "1e-05" → "0.00001"). */
function canonical(token: string): string {
  const m = /^(\d+)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(token.trim());
  if (!m) throw new Error(`not an unsigned JSON number: ${token}`);
  let digits = m[1]! + (m[2] ?? "");
  let point = m[1]!.length + Number(m[3] ?? 0);
  if (point <= 0) {
    digits = "0".repeat(1 - point) + digits;
    point = 1;
  }
  if (point > digits.length) digits += "0".repeat(point - digits.length);
  const int = digits.slice(0, point).replace(/^0+(?=\d)/, "");
  const frac = digits.slice(point).replace(/0+$/, "");
  return frac === "" ? int : `${int}.${frac}`;
}

/** Exchange kline rows `[openTime, o, h, l, c, v]`, read as raw text tokens (never as floats). */
function klines(path: string): { openTime: number; ohlcv: string[] }[] {
  const text = readFileSync(path, "utf8").trim();
  expect(text.startsWith("[[") && text.endsWith("]]")).toBe(true);
  return text.slice(2, -2).split(/\]\s*,\s*\[/).map((row) => {
    const cells = row.split(",");
    expect(cells.length).toBe(6);
    return { openTime: Number(cells[0]), ohlcv: cells.slice(1).map(canonical) };
  });
}

/** Exact decimal → integer at `scale` places. */
function scaled(text: string, scale: number): bigint {
  const [int, frac = ""] = text.split(".") as [string, string?];
  if (frac.length > scale) throw new Error(`${text} has more than ${scale} decimals`);
  return BigInt(int + frac.padEnd(scale, "0"));
}

/** Integer at `scale` places → canonical decimal string. */
function render(value: bigint, scale: number): string {
  const text = value.toString().padStart(scale + 1, "0");
  const int = text.slice(0, text.length - scale);
  const frac = text.slice(text.length - scale).replace(/0+$/, "");
  return frac === "" ? int : `${int}.${frac}`;
}

/** a ÷ b rounded half-to-even to an integer. */
function divideEven(a: bigint, b: bigint): bigint {
  const q = a / b;
  const twice = 2n * (a % b);
  return twice > b || (twice === b && q % 2n === 1n) ? q + 1n : q;
}

const P = 8; // Binance sends 8 decimals for price and quantity
const VWAP = 12; // Candle.vwap: 12 places, half-to-even

describe("golden: XRPETH aggTrades against the exchange's own klines", () => {
  test.skipIf(!hasShared)("1m and 5m candles equal the exchange's on open time and O/H/L/C/V", () => {
    const lines = readFileSync(join(XRP, "XRPETH-aggTrades.csv"), "utf8").split("\n").filter((l) => l !== "");
    const trades = lines.map((l) => decodeAggTradesCsv(l, "XRPETH")!);
    const candles = finals(trades, ["1m", "5m"], "flat");

    for (const [interval, file, rows, minOverlap] of [
      ["1m", "XRPETH-1m.candles.json", 3_560, 3_500],
      ["5m", "XRPETH-5m.candles.json", 712, 700],
    ] as const) {
      const exchange = klines(join(XRP, file));
      expect(exchange.length).toBe(rows);
      const ours = new Map(candles.filter((c) => c.interval === interval).map((c) => [c.openTime, c]));
      // The trades and the klines were downloaded separately, so their spans may differ at the
      // edges: compare the windows both have, and require that to be nearly the whole file.
      // The file's last row may be a candle that was still forming when it was downloaded: it
      // is the one row allowed to differ.
      const overlap = exchange.filter((k) => ours.has(k.openTime));
      expect(overlap.length).toBeGreaterThanOrEqual(minOverlap);
      const last = exchange[exchange.length - 1]!.openTime;
      const mismatches: string[] = [];
      for (const k of overlap) {
        if (k.openTime === last) continue;
        const c = ours.get(k.openTime)!;
        const got = [c.open, c.high, c.low, c.close, c.volume];
        if (got.join() !== k.ohlcv.join()) {
          mismatches.push(`${interval} ${new Date(k.openTime).toISOString()}: exchange ${k.ohlcv.join(" ")} vs ours ${got.join(" ")}`);
        }
      }
      expect(mismatches.slice(0, 10)).toEqual([]);
    }
  });
});

describe("golden: BTCUSDT trades against exact arithmetic", () => {
  let run: { trades: Trade[]; candles: Candle[] } | undefined;
  const load = () => {
    if (run === undefined) {
      const trades = readFileSync(BTC, "utf8").split("\n").filter((l) => l !== "").map((l) => decodeBinanceWs(l)!);
      run = { trades, candles: finals(trades, ["1m", "5m"], "skip") };
    }
    return run;
  };
  const of = (interval: string) => load().candles.filter((c) => c.interval === interval).sort((a, b) => a.openTime - b.openTime);

  test.skipIf(!hasShared)("every complete 1m window equals BigInt aggregation of its trades", () => {
    const windows = new Map<number, Trade[]>();
    for (const t of load().trades) {
      const start = t.ts - (t.ts % 60_000);
      const list = windows.get(start);
      if (list) list.push(t);
      else windows.set(start, [t]);
    }
    const starts = [...windows.keys()].sort((a, b) => a - b);
    // The recording starts and ends mid-minute: those two windows are partial.
    const complete = starts.slice(1, -1);
    expect(complete.length).toBe(10);
    expect(complete[0]).toBe(Date.UTC(2024, 7, 8, 23, 55));

    const ours = new Map(of("1m").map((c) => [c.openTime, c]));
    for (const start of complete) {
      const ts = windows.get(start)!;
      const order = [...ts].sort((a, b) => a.ts - b.ts || a.id - b.id);
      const prices = ts.map((t) => scaled(t.price, P));
      let volume = 0n;
      let quote = 0n;
      let buyVolume = 0n;
      let buyQuote = 0n;
      for (const t of ts) {
        const q = scaled(t.qty, P);
        const pq = scaled(t.price, P) * q;
        volume += q;
        quote += pq;
        if (t.side === "buy") {
          buyVolume += q;
          buyQuote += pq;
        }
      }
      const expected = {
        openTime: start,
        open: render(scaled(order[0]!.price, P), P),
        high: render(prices.reduce((a, b) => (b > a ? b : a)), P),
        low: render(prices.reduce((a, b) => (b < a ? b : a)), P),
        close: render(scaled(order[order.length - 1]!.price, P), P),
        volume: render(volume, P),
        quoteVolume: render(quote, 2 * P),
        trades: ts.length,
        takerBuyVolume: render(buyVolume, P),
        takerBuyQuoteVolume: render(buyQuote, 2 * P),
        vwap: render(divideEven(quote * 10n ** BigInt(VWAP), volume * 10n ** BigInt(P)), VWAP),
      };
      const c = ours.get(start);
      expect(c === undefined ? undefined : {
        openTime: c.openTime, open: c.open, high: c.high, low: c.low, close: c.close, volume: c.volume,
        quoteVolume: c.quoteVolume, trades: c.trades, takerBuyVolume: c.takerBuyVolume,
        takerBuyQuoteVolume: c.takerBuyQuoteVolume, vwap: c.vwap,
      }).toEqual(expected);
    }
  });

  test.skipIf(!hasShared)("every 5m candle is the roll-up of its 1m candles", () => {
    const fives = of("5m");
    const ones = of("1m");
    expect(fives.length).toBe(4);
    const max = (a: string, b: string) => (scaled(b, P) > scaled(a, P) ? b : a);
    const min = (a: string, b: string) => (scaled(b, P) < scaled(a, P) ? b : a);
    const sum = (xs: string[], scale: number) => render(xs.reduce((s, x) => s + scaled(x, scale), 0n), scale);
    for (const five of fives) {
      const parts = ones.filter((c) => c.openTime >= five.openTime && c.openTime < five.openTime + 300_000);
      expect(parts.length).toBeGreaterThan(0);
      const volume = sum(parts.map((c) => c.volume), P);
      const quote = sum(parts.map((c) => c.quoteVolume), 2 * P);
      expect({
        open: five.open, high: five.high, low: five.low, close: five.close, volume: five.volume,
        quoteVolume: five.quoteVolume, trades: five.trades, takerBuyVolume: five.takerBuyVolume,
        takerBuyQuoteVolume: five.takerBuyQuoteVolume, vwap: five.vwap,
      }).toEqual({
        open: parts[0]!.open,
        high: parts.map((c) => c.high).reduce(max),
        low: parts.map((c) => c.low).reduce(min),
        close: parts[parts.length - 1]!.close,
        volume,
        quoteVolume: quote,
        trades: parts.reduce((n, c) => n + c.trades, 0),
        takerBuyVolume: sum(parts.map((c) => c.takerBuyVolume), P),
        takerBuyQuoteVolume: sum(parts.map((c) => c.takerBuyQuoteVolume), 2 * P),
        vwap: render(divideEven(scaled(quote, 2 * P) * 10n ** BigInt(VWAP), scaled(volume, P) * 10n ** BigInt(P)), VWAP),
      });
    }
    expect(fives.reduce((n, c) => n + c.trades, 0)).toBe(load().trades.length);
  });
});
