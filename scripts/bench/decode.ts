import { decodeAggTradesCsvInto, decodeBinanceWs, decodeBinanceWsInto, scanAggTradesCsvBytes } from "../../src/lib/binance.ts";
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

/** One symbol's aggTrades file, as read from disk. */
export interface CsvFile {
  symbol: string;
  bytes: Uint8Array;
}

/**
 * Section 2, whole files: each file's bytes scanned into batches (the replay command's way),
 * any row the scanner leaves decoded as text, then `flush`.
 */
export function runCsvFiles(files: readonly CsvFile[], batchSize: number): Run {
  const text = new TextDecoder("utf-8", { ignoreBOM: true });
  let f = 0;
  let at = 0;
  return batched(batchSize, (batch) => {
    if (f === files.length) return false;
    const { symbol, bytes } = files[f]!;
    at = scanAggTradesCsvBytes(bytes, at, bytes.length, symbol, batch, batchSize - batch.length);
    if (batch.length < batchSize && at < bytes.length) {
      const nl = bytes.indexOf(10, at);
      const stop = nl < 0 ? bytes.length : nl;
      decodeAggTradesCsvInto(text.decode(bytes.subarray(at, stop)), symbol, batch);
      at = stop + 1;
    }
    if (at >= bytes.length) {
      f++;
      at = 0;
    }
    return true;
  });
}

/** The whole-file floor: each file's bytes decoded to text, split into lines, each line `split(",")`. */
export function runFileSplit(files: readonly CsvFile[]): { ms: number; kept: unknown } {
  let kept: string[] = [];
  let n = 0;
  const t0 = performance.now();
  for (const { bytes } of files) {
    for (const row of new TextDecoder().decode(bytes).split("\n")) {
      kept = row.split(",");
      n += kept.length;
    }
  }
  const ms = performance.now() - t0;
  if (n < files.length) throw new Error("file split run lost rows");
  return { ms, kept };
}

function intoBatches(lines: readonly string[], batchSize: number, decode: (line: string, batch: TradeBatch) => boolean): Run {
  let i = 0;
  return batched(batchSize, (batch) => i < lines.length && (decode(lines[i++]!, batch), true));
}

/** One reused batch filled by `fill` (false once the input is done), each full batch ingested, then `flush`. */
function batched(batchSize: number, fill: (batch: TradeBatch) => boolean): Run {
  const engine = new Engine(CONFIG);
  const t = tally();
  const batch = new TradeBatch(batchSize);
  const t0 = performance.now();
  while (fill(batch)) {
    if (batch.length >= batchSize) {
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
