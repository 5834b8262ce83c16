import { decodeBinanceWs } from "../../src/lib/binance.ts";
import { Engine } from "../../src/lib/index.ts";
import type { Trade } from "../../src/lib/types.ts";
import { CONFIG, count, tally, type Run } from "./core.ts";

/** Section 2: raw Binance WebSocket lines decoded and fed to a fresh engine in batches, then `flush`. */
export function runDecode(lines: readonly string[], batchSize: number): Run {
  const engine = new Engine(CONFIG);
  const t = tally();
  const t0 = performance.now();
  let batch: Trade[] = [];
  for (const line of lines) {
    const trade = decodeBinanceWs(line);
    if (trade === null) continue;
    batch.push(trade);
    if (batch.length === batchSize) {
      count(engine.ingestMany(batch), t);
      batch = [];
    }
  }
  if (batch.length > 0) count(engine.ingestMany(batch), t);
  count(engine.flush(), t);
  return { ms: performance.now() - t0, tally: t, engine };
}

/** The floor to compare with: `JSON.parse` of every line and nothing else. */
export function runJsonParse(lines: readonly string[]): { ms: number; kept: unknown } {
  let kept: unknown = null;
  let n = 0;
  const t0 = performance.now();
  for (const line of lines) {
    kept = JSON.parse(line);
    n++;
  }
  const ms = performance.now() - t0;
  // The parse results must look used, or an optimiser could skip them.
  if (n !== lines.length || kept === null) throw new Error("JSON.parse run lost lines");
  return { ms, kept };
}
