import { Engine, TradeBatch } from "../../src/lib/index.ts";
import type { EngineEvent, EngineOptions, Trade } from "../../src/lib/types.ts";

/** The engine configuration every timed section uses: four intervals, every rule on. */
export const CONFIG: EngineOptions = {
  intervals: ["1m", "5m", "15m", "1h"],
  rules: {
    default: {
      whale: { notional: "100000" },
      priceMove: { percent: 2, zScore: 4, lookback: 20 },
      volumeSpike: { factor: 5, lookback: 20 },
      gap: {},
    },
  },
};

/** What one run emitted, by kind; a cheap check that runs did the same work. */
export interface Tally {
  updates: number;
  finals: number;
  alerts: number;
  late: number;
  other: number;
}

/** An empty tally. */
export function tally(): Tally {
  return { updates: 0, finals: 0, alerts: 0, late: 0, other: 0 };
}

/** Add a call's events to a tally. */
export function count(events: readonly EngineEvent[], into: Tally): void {
  for (const e of events) {
    if (e.type === "update") into.updates++;
    else if (e.type === "final") into.finals++;
    else if (e.type === "alert") into.alerts++;
    else if (e.type === "late") into.late++;
    else into.other++;
  }
}

/** Cut items into arrays of `size` (the last may be shorter). */
export function batches<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** One timed run. */
export interface Run {
  ms: number;
  tally: Tally;
  engine: Engine;
}

/** Section 1: pre-decoded trades through a fresh engine with `ingestMany` per batch, then `flush`. */
export function runCore(input: readonly Trade[][]): Run {
  const engine = new Engine(CONFIG);
  const t = tally();
  const t0 = performance.now();
  for (const batch of input) count(engine.ingestMany(batch), t);
  count(engine.flush(), t);
  return { ms: performance.now() - t0, tally: t, engine };
}

/** Section 1, batch API: the same trades as columns (filled before timing), `ingestBatch` per batch, then `flush`. */
export function runBatch(input: readonly TradeBatch[]): Run {
  const engine = new Engine(CONFIG);
  const t = tally();
  const t0 = performance.now();
  for (const batch of input) count(engine.ingestBatch(batch), t);
  count(engine.flush(), t);
  return { ms: performance.now() - t0, tally: t, engine };
}

/** The object batches as columnar batches (not timed: the decoders fill batches directly). */
export function columns(input: readonly Trade[][]): TradeBatch[] {
  return input.map((b) => TradeBatch.from(b));
}
