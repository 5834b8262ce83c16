import { heapStats } from "bun:jsc";
import { Engine } from "../../src/lib/index.ts";
import { CONFIG } from "./core.ts";

/** What open state costs: heap bytes held by an engine with every symbol × interval open. */
export interface Memory {
  symbols: number;
  intervals: number;
  heapBytes: number;
  bytesPerSeries: number;
}

function heap(): number {
  Bun.gc(true);
  Bun.gc(true);
  return heapStats().heapSize;
}

/**
 * Section 5: an engine with `symbols` symbols, each with one open window in each of the
 * four intervals (and its id, watermark and rule state), measured as the heap it adds.
 */
export function measureMemory(symbols: number): Memory {
  const names = Array.from({ length: symbols }, (_, i) => `S${String(i).padStart(5, "0")}USDT`);
  const before = heap();
  const engine = new Engine(CONFIG);
  const t0 = 1_723_075_200_000 + 30_000;
  for (let round = 0; round < 3; round++) {
    engine.ingestMany(names.map((symbol, i) => ({
      symbol, id: 1000 + round, price: `${100 + (i % 97)}.${round}1`, qty: `0.0${round + 1}5`, ts: t0 + round * 1000, side: round % 2 === 0 ? "buy" : "sell",
    })));
  }
  const heapBytes = heap() - before;
  if (engine.symbols().length !== symbols) throw new Error("memory run lost symbols");
  const intervals = engine.options.intervals.length;
  return { symbols, intervals, heapBytes, bytesPerSeries: heapBytes / (symbols * intervals) };
}
