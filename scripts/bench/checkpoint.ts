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

/**
 * Untimed round trips before the timed ones. The code is still being compiled well after the
 * first: back-to-back snapshots of 1,000 symbols in a fresh process took 20–23, 6, 5, 4.5 ms,
 * and only after about twenty settled near 3 ms (restores likewise: 11.5, 7, 5, …, 3 ms). A
 * server checkpoints every few seconds, so the figure is that of compiled code.
 */
const WARMUP = 20;

/** Section 4: time `runs` snapshots and restores after {@link WARMUP} untimed round trips; checks that a restore snapshots to the same bytes. */
export function timeCheckpoint(
  engine: Engine,
  runs: number,
  offsets: string,
): { snapshotMs: number[]; restoreMs: number[]; bytes: number } {
  const snapshotMs: number[] = [];
  const restoreMs: number[] = [];
  const bytes = engine.snapshot(offsets);
  // Untimed round trips first: they warm both paths and prove the bytes are worth timing.
  for (let i = 0; i < WARMUP; i++) {
    const again = Engine.restore(engine.snapshot(offsets)).snapshot(offsets);
    if (again.length !== bytes.length || again.some((b, j) => b !== bytes[j])) {
      throw new Error("restore then snapshot gave different bytes");
    }
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
