import type { Trade } from "../../src/lib/types.ts";

/**
 * Seeded synthetic market for the benchmark: Binance-shaped trades for many symbols,
 * merged in event time, with a share delivered late (but within the out-of-orderness
 * bound). Same options → same trades, on every run and runtime.
 */

/** How to generate a market. */
export interface MarketOptions {
  /** Number of symbols; the first 20 are real pairs, the rest synthetic names. */
  symbols: number;
  /** Stop after this many trades (the default stop is 1,000,000 trades). */
  trades?: number;
  /** Stop once event time reaches `start + durationMs` instead of a trade count. */
  durationMs?: number;
  /** PRNG seed; default 42. */
  seed?: number;
  /** Event time of the first second, epoch ms; default 2024-08-08T00:00:00Z. */
  start?: number;
  /** Share of trades delivered late; default 0.02. */
  outOfOrder?: number;
  /** Longest delivery delay, ms; default 9000 (inside the engine's 10 s bound). */
  maxDelayMs?: number;
}

/** A generated market: trades in arrival order plus facts about them. */
export interface Market {
  trades: Trade[];
  symbols: string[];
  /** Share of trades whose time is below the largest time delivered before them. */
  outOfOrderShare: number;
  /** Event-time span of the stream, ms. */
  spanMs: number;
}

interface Spec {
  name: string;
  price: number;
  /** Decimals of the price tick. */
  tick: number;
  /** Decimals of the quantity step. */
  step: number;
  /** Median notional of one trade, quote currency. */
  notional: number;
}

const REAL: Spec[] = [
  { name: "BTCUSDT", price: 61837.63, tick: 2, step: 5, notional: 400 },
  { name: "ETHUSDT", price: 2612.45, tick: 2, step: 4, notional: 300 },
  { name: "SOLUSDT", price: 145.67, tick: 2, step: 3, notional: 200 },
  { name: "BNBUSDT", price: 512.34, tick: 2, step: 3, notional: 200 },
  { name: "XRPUSDT", price: 0.5732, tick: 4, step: 0, notional: 150 },
  { name: "DOGEUSDT", price: 0.10234, tick: 5, step: 0, notional: 120 },
  { name: "ETHBTC", price: 0.04223, tick: 5, step: 4, notional: 0.004 },
  { name: "ADAUSDT", price: 0.3412, tick: 4, step: 1, notional: 100 },
  { name: "PEPEUSDT", price: 0.00000812, tick: 8, step: 0, notional: 90 },
  { name: "AVAXUSDT", price: 21.43, tick: 2, step: 2, notional: 100 },
  { name: "LINKUSDT", price: 10.23, tick: 2, step: 2, notional: 100 },
  { name: "TRXUSDT", price: 0.1302, tick: 4, step: 1, notional: 80 },
  { name: "SHIBUSDT", price: 0.00001412, tick: 8, step: 0, notional: 80 },
  { name: "TONUSDT", price: 6.123, tick: 3, step: 2, notional: 80 },
  { name: "DOTUSDT", price: 4.512, tick: 3, step: 2, notional: 70 },
  { name: "LTCUSDT", price: 62.14, tick: 2, step: 3, notional: 70 },
  { name: "NEARUSDT", price: 4.123, tick: 3, step: 1, notional: 60 },
  { name: "UNIUSDT", price: 6.543, tick: 3, step: 2, notional: 60 },
  { name: "BCHUSDT", price: 312.41, tick: 2, step: 3, notional: 60 },
  { name: "FETUSDT", price: 1.0123, tick: 4, step: 1, notional: 50 },
];

/** sfc32: small, fast, seedable; good enough for synthetic data. */
export function prng(seed: number): () => number {
  let a = 0x9e3779b9, b = 0x243f6a88, c = 0xb7e15162, d = seed >>> 0;
  const next = (): number => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
    const t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    const r = (t + d) | 0;
    c = (c + r) | 0;
    return (r >>> 0) / 4294967296;
  };
  for (let i = 0; i < 16; i++) next();
  return next;
}

function synthetic(i: number, rand: () => number): Spec {
  const price = 10 ** (rand() * 7 - 4);
  // About five significant digits in the price, two to eight decimals.
  const tick = Math.min(8, Math.max(2, 4 - Math.floor(Math.log10(price))));
  const step = Math.min(6, Math.max(0, Math.floor(Math.log10(price)) + 2));
  return { name: `ALT${String(i).padStart(4, "0")}USDT`, price, tick, step, notional: 20 + rand() * 80 };
}

const ZEROS = ["", "0", "00", "000", "0000", "00000", "000000", "0000000", "00000000"];
const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8];

/**
 * The string as a decoder hands it over: flat. Template literals build ropes, and even
 * once resolved, Bun reads them about 15 ns slower per parse than the flat strings that
 * JSON.parse or the WebSocket decoder produce, a cost no real input carries.
 */
function flat(s: string): string {
  return JSON.parse(`"${s}"`) as string;
}

/** An integer count of 10^-dec units as a Binance decimal string with 8 decimals. */
export function decimal8(units: number, dec: number): string {
  if (dec === 0) return `${units}.00000000`;
  const p = POW10[dec]!;
  const int = Math.floor(units / p);
  const frac = units - int * p;
  return `${int}.${String(frac + p).slice(1)}${ZEROS[8 - dec]}`;
}

/**
 * Generate a market. Trades per symbol run at ~1-50 per second of event time (a
 * power law over symbols, with slow random regime changes), ids increase per symbol,
 * prices follow a random walk around a bid/ask of one tick, quantities are log-normal
 * (rare whales included), and `outOfOrder` of the trades arrive up to `maxDelayMs` late.
 */
export function market(opts: MarketOptions): Market {
  const rand = prng(opts.seed ?? 42);
  const n = opts.symbols;
  if (n < 1 || n > 4096) throw new Error("symbols must be 1..4096");
  const limit = opts.durationMs === undefined ? (opts.trades ?? 1_000_000) : Infinity;
  const start = opts.start ?? 1_723_075_200_000;
  const end = opts.durationMs === undefined ? Infinity : start + opts.durationMs;
  const share = opts.outOfOrder ?? 0.02;
  const maxDelay = opts.maxDelayMs ?? 9_000;

  const normal = (): number => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const specs = Array.from({ length: n }, (_, i) => (i < REAL.length ? REAL[i]! : synthetic(i, rand)));
  const names = specs.map((s) => s.name);
  const mid = specs.map((s) => s.price);
  const nextId = specs.map(() => 1_000_000 + Math.floor(rand() * 3_000_000_000));
  const base = specs.map((_, i) => Math.min(50, Math.max(1, 50 / (i + 1) ** 0.8)));
  const rate = base.slice();
  const perSecondVol = 0.006 / 60;

  const trades: Trade[] = [];
  const pending: Trade[] = [];
  const release: number[] = [];
  let generated = 0;
  let lastTs = start;
  const deliver = (t: Trade): void => {
    while (release.length > 0 && release[0]! <= t.ts) {
      release.shift();
      trades.push(pending.shift()!);
    }
    trades.push(t);
  };

  const keys: number[] = [];
  for (let sec = start; generated < limit && sec < end; sec += 1000) {
    keys.length = 0;
    for (let s = 0; s < n; s++) {
      if ((sec / 1000) % 30 === 0) rate[s] = Math.min(50, Math.max(1, base[s]! * Math.exp(0.5 * normal())));
      // Rare jumps give the price-move rules something to find.
      const jump = rand() < 2e-5 ? 0.03 * normal() : 0;
      mid[s] = mid[s]! * Math.exp(perSecondVol * normal() + jump);
      // Poisson count by multiplying uniforms (rates are at most 50).
      const limitP = Math.exp(-rate[s]!);
      for (let p = rand(); p > limitP; p *= rand()) keys.push(Math.floor(rand() * 1000) * 4096 + s);
    }
    keys.sort((x, y) => x - y);
    for (const key of keys) {
      if (generated >= limit) break;
      const s = key & 4095;
      const ts = sec + Math.floor(key / 4096);
      const spec = specs[s]!;
      const tickSize = 10 ** -spec.tick;
      const bid = Math.max(1, Math.floor(mid[s]! / tickSize));
      const buy = rand() < 0.5;
      const qtySteps = Math.max(1, Math.round((spec.notional * Math.exp(1.6 * normal())) / mid[s]! * POW10[spec.step]!));
      // Big takers walk the book a few ticks.
      const sweep = qtySteps / POW10[spec.step]! * mid[s]! > 20 * spec.notional ? Math.floor(rand() * 4) : 0;
      const ticks = buy ? bid + 1 + sweep : Math.max(1, bid - sweep);
      const t: Trade = {
        symbol: names[s]!,
        id: nextId[s]!++,
        price: flat(decimal8(ticks, spec.tick)),
        qty: flat(decimal8(qtySteps, spec.step)),
        ts,
        side: buy ? "buy" : "sell",
      };
      generated++;
      lastTs = ts;
      if (rand() < share) {
        const at = ts + 50 + Math.floor(rand() * (maxDelay - 50));
        let i = release.length;
        while (i > 0 && release[i - 1]! > at) i--;
        release.splice(i, 0, at);
        pending.splice(i, 0, t);
      } else {
        deliver(t);
      }
    }
  }
  for (const t of pending) trades.push(t);

  let maxTs = -Infinity;
  let behind = 0;
  for (const t of trades) {
    if (t.ts < maxTs) behind++;
    else maxTs = t.ts;
  }
  return { trades, symbols: names, outOfOrderShare: behind / trades.length, spanMs: lastTs - start };
}

/** One trade as a raw Binance combined-stream spot message (`<symbol>@trade`). */
export function wsLine(t: Trade, eventTime: number): string {
  return `{"stream":"${t.symbol.toLowerCase()}@trade","data":{"e":"trade","E":${eventTime},"s":"${t.symbol}","t":${t.id},"p":"${t.price}","q":"${t.qty}","T":${t.ts},"m":${t.side === "sell"},"M":true}}`;
}

/** One trade as a raw Binance combined-stream spot aggregate trade (`<symbol>@aggTrade`), standing for `count` trades. */
export function wsAggLine(t: Trade, eventTime: number, count = 1): string {
  const first = t.id * 4;
  return `{"stream":"${t.symbol.toLowerCase()}@aggTrade","data":{"e":"aggTrade","E":${eventTime},"s":"${t.symbol}","a":${t.id},"p":"${t.price}","q":"${t.qty}","f":${first},"l":${first + count - 1},"T":${t.ts},"m":${t.side === "sell"},"M":true}}`;
}

/** One trade as a data.binance.vision aggTrades CSV row (no symbol: files are per symbol). */
export function csvAggRow(t: Trade, count = 1): string {
  const first = t.id * 4;
  return `${t.id},${t.price},${t.qty},${first},${first + count - 1},${t.ts},${t.side === "sell" ? "True" : "False"},True`;
}
