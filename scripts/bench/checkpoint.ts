import { Engine } from "../../src/lib/index.ts";
import { CONFIG, batches } from "./core.ts";
import { market } from "./generate.ts";

/** An engine mid-stream: windows open, watermarks, dedupe and rule state all populated. */
export interface Loaded {
  engine: Engine;
  symbols: number;
  trades: number;
}

/**
 * Feed `symbols` symbols for `durationMs` of event time (no flush), so the engine holds
 * open 1m, 5m, 15m and 1h windows, as a running server would at checkpoint time.
 */
export function loaded(symbols: number, durationMs: number, seed: number): Loaded {
  const { trades } = market({ symbols, durationMs, seed });
  const engine = new Engine(CONFIG);
  for (const batch of batches(trades, 4096)) engine.ingestMany(batch);
  return { engine, symbols, trades: trades.length };
}

/** Section 4: time `runs` snapshots and restores; checks that a restore snapshots to the same bytes. */
export function timeCheckpoint(
  engine: Engine,
  runs: number,
  offsets: string,
): { snapshotMs: number[]; restoreMs: number[]; bytes: number } {
  const snapshotMs: number[] = [];
  const restoreMs: number[] = [];
  const bytes = engine.snapshot(offsets);
  // Untimed round trip first: it warms both paths and proves the bytes are worth timing.
  const again = Engine.restore(bytes).snapshot(offsets);
  if (again.length !== bytes.length || again.some((b, i) => b !== bytes[i])) {
    throw new Error("restore then snapshot gave different bytes");
  }
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    engine.snapshot(offsets);
    snapshotMs.push(performance.now() - t0);
  }
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    Engine.restore(bytes);
    restoreMs.push(performance.now() - t0);
  }
  return { snapshotMs, restoreMs, bytes: bytes.length };
}
