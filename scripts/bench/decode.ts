import { decodeAggTradesCsvInto, decodeBinanceWs, decodeBinanceWsInto } from "../../src/lib/binance.ts";
import { Engine, TradeBatch } from "../../src/lib/index.ts";
import type { Trade } from "../../src/lib/types.ts";
import { CONFIG, count, tally, type Run } from "./core.ts";

/** Section 2, object API: raw Binance WebSocket lines decoded to trade objects, fed in batches, then `flush`. */
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

/** Section 2, batch API: the same lines decoded straight into one reused `TradeBatch`. */
export function runDecodeBatch(lines: readonly string[], batchSize: number): Run {
  return intoBatches(lines, batchSize, (line, batch) => decodeBinanceWsInto(line, batch));
}

/** Section 3: data.binance.vision aggTrades rows (`symbols[i]` is row i's file) into batches. */
export function runCsvBatch(rows: readonly string[], symbols: readonly string[], batchSize: number): Run {
  let i = 0;
  return intoBatches(rows, batchSize, (row, batch) => decodeAggTradesCsvInto(row, symbols[i++]!, batch));
}

function intoBatches(lines: readonly string[], batchSize: number, decode: (line: string, batch: TradeBatch) => boolean): Run {
  const engine = new Engine(CONFIG);
  const t = tally();
  const batch = new TradeBatch(batchSize);
  const t0 = performance.now();
  for (const line of lines) {
    decode(line, batch);
    if (batch.length === batchSize) {
      count(engine.ingestBatch(batch), t);
      batch.clear();
    }
  }
  if (batch.length > 0) count(engine.ingestBatch(batch), t);
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

/** The CSV floor: `split(",")` of every row and nothing else. */
export function runSplit(rows: readonly string[]): { ms: number; kept: unknown } {
  let kept: string[] = [];
  let n = 0;
  const t0 = performance.now();
  for (const row of rows) {
    kept = row.split(",");
    n += kept.length;
  }
  const ms = performance.now() - t0;
  if (n < rows.length) throw new Error("split run lost rows");
  return { ms, kept };
}
