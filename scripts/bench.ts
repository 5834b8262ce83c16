import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { Trade } from "../src/lib/types.ts";
import { ccxtBuilder, toCcxt, type CcxtTrade } from "./bench/ccxt.ts";
import { loaded, timeCheckpoint } from "./bench/checkpoint.ts";
import { batches, columns, CONFIG, runBatch, runCore, type Tally } from "./bench/core.ts";
import { runCsvBatch, runCsvFiles, runDecode, runDecodeBatch, runFileSplit, runJsonParse, runSplit, type CsvFile } from "./bench/decode.ts";
import { runE2e, type E2eReport } from "./bench/e2e.ts";
import { csvAggRow, market, wsAggLine, wsLine } from "./bench/generate.ts";
import { limitLoop } from "./bench/limit.ts";
import { steady, steadyMs } from "./bench/steady.ts";
import { measureMemory } from "./bench/memory.ts";
import { intervalMs } from "../src/lib/interval.ts";
import { figure, machine, peakRssMb, ratio, table, writeJson, type Figure } from "./bench/report.ts";

const OPTIONS = {
  trades: { type: "string", default: "5000000" },
  lines: { type: "string", default: "2000000" },
  runs: { type: "string", default: "3" },
  seed: { type: "string", default: "42" },
  out: { type: "string", default: join(import.meta.dir, "..", "artifacts", "bench.json") },
  "skip-e2e": { type: "boolean" },
  "only-e2e": { type: "boolean" },
  "only-stack": { type: "boolean" },
  "e2e-clients": { type: "string", default: "1000" },
  "e2e-rate": { type: "string", default: "200000" },
  "e2e-prof": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

const USAGE = `usage: bun run bench [--trades N] [--lines N] [--runs N] [--seed N] [--out PATH]
                     [--skip-e2e | --only-e2e] [--e2e-clients N] [--e2e-rate N] [--e2e-prof DIR]

  --trades  generated trades, 20 symbols (default 5000000)
  --lines   raw WebSocket lines for the decode section, the first N trades (default 2000000)
  --runs    runs per figure; the table shows median, min and max (default 3)
  --seed    PRNG seed of the generated market (default 42)
  --out     JSON report (default artifacts/bench.json)

  Section 5, end to end: the server on embedded defaults with WebSocket clients in a second
  process, about 50 s. --only-e2e runs just it (the other sections' results in --out are kept);
  --skip-e2e leaves it out (its previous result in --out is kept).
  --e2e-clients  WebSocket clients (default 1000)
  --e2e-rate     trades/s of the paced phase (default 200000)
  --only-stack   the local stack end to end instead (Kafka, PostgreSQL, Redis must be up; see
                 bench/stack.ts): processors as real processes, one and two, and live latency
                 to 1,000 WebSocket clients through an API process
  --e2e-prof     write a CPU profile of the server process into DIR (bun --cpu-prof, .cpuprofile and .md)`;

/** One line for the command list of the candleflow CLI. */
export const summary = "benchmark the core (throughput, decode, ccxt baseline, checkpoints) and the server end to end; writes artifacts/bench.json";

/**
 * `bun run bench`: in one process, on one seeded set of generated trades, measure the core
 * against its targets and against ccxt, print a table and write artifacts/bench.json.
 *
 * Options: `--trades N` (default 5,000,000), `--lines N` WebSocket lines for the decode
 * section, the first N trades (default 2,000,000: all 5M lines next to the trades would
 * need over 4 GB), `--runs N` (default 3), `--seed N`, `--out PATH`. Section 5 (the server
 * end to end, see bench/e2e.ts) runs after the others: `--skip-e2e` leaves it out,
 * `--only-e2e` runs it alone, `--e2e-clients N`, `--e2e-rate N`, `--e2e-prof DIR`.
 * Resolves to the process exit code.
 */
export async function run(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: OPTIONS }));
  } catch (e) {
    console.error(`bench: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help === true) {
    console.log(USAGE);
    return 0;
  }
  const total = Number(values.trades);
  const runs = Math.max(1, Number(values.runs));
  const seed = Number(values.seed);
  const lineCount = Math.min(total, Number(values.lines));
  if (![total, runs, seed, lineCount].every(Number.isSafeInteger) || total < 1 || lineCount < 1) {
    console.error(`bench: --trades, --lines, --runs and --seed take positive integers\n\n${USAGE}`);
    return 2;
  }
  const e2eClients = Number(values["e2e-clients"]);
  const e2eRate = Number(values["e2e-rate"]);
  if (![e2eClients, e2eRate].every((v) => Number.isSafeInteger(v) && v >= 1) || (values["skip-e2e"] === true && values["only-e2e"] === true)) {
    console.error(`bench: --e2e-clients and --e2e-rate take positive integers; --skip-e2e and --only-e2e exclude each other\n\n${USAGE}`);
    return 2;
  }
  const batchSize = 4096;
  const log = (msg: string): void =>
    console.error(`[bench] ${msg} (rss ${Math.round(process.memoryUsage().rss / 2 ** 20)} MB, peak ${peakRssMb()} MB)`);
  const gc = (): void => Bun.gc(true);
  const info = machine();
  let failed = false;
  // Section 5 prints its own table; a failure is reported and recorded, the other sections still count.
  const e2e = async (): Promise<E2eReport["json"]> => {
    try {
      const result = await runE2e({ clients: e2eClients, rate: e2eRate, profileDir: values["e2e-prof"], log });
      console.log(result.lines[0]);
      console.log(table(result.figures));
      for (const line of result.lines.slice(1)) console.log(line);
      return result.json;
    } catch (e) {
      failed = true;
      const message = e instanceof Error ? e.message : String(e);
      console.error(`bench: the end-to-end section failed: ${message}`);
      return { error: message };
    }
  };
  if (values["only-stack"] === true) {
    const child = Bun.spawn(["bun", join(import.meta.dir, "bench", "stack.ts")], { stdout: "inherit", stderr: "inherit" });
    return await child.exited;
  }
  if (values["only-e2e"] === true) {
    const json = await e2e();
    writeJson(values.out, { ...previous(values.out), e2e: json });
    log(`wrote the e2e section into ${values.out}`);
    return failed ? 1 : 0;
  }

  // 4 and 5 first, in a process that has not yet held the gigabytes of sections 1 and 2 (a
  // server holds some hundreds of megabytes): snapshot and restore of engines holding open
  // windows, then the memory of open state.
  const checkpointRuns = Math.max(runs, 9);
  const offsets = JSON.stringify({ source: "binance-ws", log: "trades", partitions: { "0": 48_213_377, "1": 48_190_052 } });
  const checkpoint: Figure[] = [];
  const checkpointState: Record<string, { trades: number; bytes: number }> = {};
  for (const symbols of [20, 1000]) {
    // 5.5 minutes of event time: mid-window for every interval.
    const state = loaded(symbols, 330_000, seed + symbols);
    const timed = timeCheckpoint(state.engine, checkpointRuns, offsets);
    checkpointState[symbols] = { trades: state.trades, bytes: timed.bytes };
    const big = symbols === 1000;
    checkpoint.push(
      figure(`snapshot, ${symbols} symbols`, "ms", timed.snapshotMs, big ? { target: "< 5", goal: (m) => m < 5 } : {}),
      figure(`restore, ${symbols} symbols`, "ms", timed.restoreMs),
      figure(`snapshot size, ${symbols} symbols`, "KB", [timed.bytes / 1024]),
    );
    log(`checkpoint at ${symbols} symbols (${state.trades.toLocaleString("en")} trades in): ${timed.bytes.toLocaleString("en")} bytes`);
  }

  const memory = measureMemory(10_000);
  log(`memory: ${memory.symbols} symbols × ${memory.intervals} intervals hold ${(memory.heapBytes / 2 ** 20).toFixed(1)} MB`);

  log(`generating ${total.toLocaleString("en")} trades, 20 symbols, seed ${seed}`);
  const t0 = performance.now();
  const gen = market({ symbols: 20, trades: total, seed });
  const genMs = performance.now() - t0;
  let trades: Trade[] = gen.trades;
  log(`generated in ${(genMs / 1000).toFixed(1)} s: ${(gen.spanMs / 3.6e6).toFixed(2)} h of event time, ` +
    `${(gen.outOfOrderShare * 100).toFixed(2)}% out of order`);

  // 1 and 3. Core throughput: the object API, the batch API, ccxt and a bare typed-array
  // loop on the same trades, interleaved round by round so load from elsewhere hits all alike.
  // No separate warm-up: each figure's untimed first pass (`steady`) compiles its code.
  const objects = batches(trades, batchSize);
  const cols = columns(objects);
  let groups: CcxtTrade[][] = toCcxt(trades);
  const build = await ccxtBuilder();
  const timeframes = ["1m", "5m", "15m"];
  const sizes = CONFIG.intervals!.map(intervalMs);
  const coreRates: number[] = [];
  const batchRates: number[] = [];
  const limitRates: number[] = [];
  const ccxtRates: number[] = [];
  let coreTally: Tally | undefined;
  let ccxtCandles: Record<string, number> = {};
  for (let r = 0; r < runs; r++) {
    const run = steady(() => runCore(objects));
    if (run.engine.stats().trades !== total) log(`warning: engine aggregated ${run.engine.stats().trades} of ${total} trades`);
    coreTally ??= run.tally;
    coreRates.push((total / run.ms) * 1000);
    const batched = steady(() => runBatch(cols));
    if (JSON.stringify(batched.tally) !== JSON.stringify(run.tally)) log("warning: the batch API emitted other events than the object API");
    batchRates.push((total / batched.ms) * 1000);
    limitRates.push((total / steadyMs(() => limitLoop(cols, sizes))) * 1000);
    const ccxtMs = steadyMs(() => (ccxtCandles = build(groups, timeframes)));
    ccxtRates.push((total / ccxtMs) * 1000);
    log(`core round ${r + 1}/${runs}: objects ${(run.ms / 1000).toFixed(2)} s, batch ${(batched.ms / 1000).toFixed(2)} s, ccxt ${(ccxtMs / 1000).toFixed(2)} s`);
  }
  objects.length = 0;
  cols.length = 0;
  groups = [];

  // Build the inputs of section 2, then let the trades go: holding everything at once
  // would double the peak memory. Every other symbol streams @aggTrade, the rest @trade.
  let maxTs = 0;
  const lines = trades.slice(0, lineCount).map((t) => {
    maxTs = Math.max(maxTs, t.ts);
    // Event time is when the exchange sent it: a late trade is sent late.
    return gen.symbols.indexOf(t.symbol) % 2 === 1 ? wsAggLine(t, maxTs + (t.id % 3), 1 + (t.id % 3)) : wsLine(t, maxTs + (t.id % 3));
  });
  const rows = trades.slice(0, lineCount).map((t) => csvAggRow(t, 1 + (t.id % 3)));
  const rowSymbols = trades.slice(0, lineCount).map((t) => t.symbol);
  // The same rows as files, one per symbol (as data.binance.vision serves them), in bytes.
  const bySymbol = new Map<string, string[]>();
  rows.forEach((row, i) => (bySymbol.get(rowSymbols[i]!) ?? bySymbol.set(rowSymbols[i]!, []).get(rowSymbols[i]!)!).push(row));
  const files: CsvFile[] = [...bySymbol].map(([symbol, own]) => ({ symbol, bytes: new TextEncoder().encode(own.join("\n") + "\n") }));
  bySymbol.clear();
  // Template literals build ropes: resolve lines and rows before timing, or the first round of
  // whichever runs first pays for it (the CSV rows used to: split then read them resolved).
  for (const line of lines) line.charCodeAt(0);
  for (const row of rows) row.charCodeAt(0);
  gen.trades = [];
  trades = [];

  // 2. Decode + core from raw lines (objects, then straight into batches), next to bare
  // JSON.parse of the same lines; CSV rows into batches next to bare split(",").
  const fileRates: number[] = [];
  const fileSplitRates: number[] = [];
  const decodeRates: number[] = [];
  const decodeBatchRates: number[] = [];
  const parseRates: number[] = [];
  const csvRates: number[] = [];
  const splitRates: number[] = [];
  for (let r = 0; r < runs; r++) {
    const run = steady(() => runDecode(lines, batchSize));
    if (run.engine.stats().trades !== lineCount) log(`warning: decode run aggregated ${run.engine.stats().trades} of ${lineCount}`);
    decodeRates.push((lineCount / run.ms) * 1000);
    const batched = steady(() => runDecodeBatch(lines, batchSize));
    if (batched.engine.stats().trades !== lineCount) log(`warning: batch decode run aggregated ${batched.engine.stats().trades} of ${lineCount}`);
    decodeBatchRates.push((lineCount / batched.ms) * 1000);
    const parsed = steady(() => runJsonParse(lines));
    parseRates.push((lineCount / parsed.ms) * 1000);
    const csv = steady(() => runCsvBatch(rows, rowSymbols, batchSize));
    if (csv.engine.stats().trades !== lineCount) log(`warning: CSV run aggregated ${csv.engine.stats().trades} of ${lineCount}`);
    csvRates.push((lineCount / csv.ms) * 1000);
    const split = steady(() => runSplit(rows));
    splitRates.push((lineCount / split.ms) * 1000);
    const file = steady(() => runCsvFiles(files, batchSize));
    if (file.engine.stats().trades !== lineCount) log(`warning: CSV file run aggregated ${file.engine.stats().trades} of ${lineCount}`);
    fileRates.push((lineCount / file.ms) * 1000);
    const fileSplit = steady(() => runFileSplit(files));
    fileSplitRates.push((lineCount / fileSplit.ms) * 1000);
    log(`decode round ${r + 1}/${runs}: objects ${(run.ms / 1000).toFixed(2)} s, batch ${(batched.ms / 1000).toFixed(2)} s, JSON.parse ${(parsed.ms / 1000).toFixed(2)} s, ` +
      `CSV ${(csv.ms / 1000).toFixed(2)} s, split ${(split.ms / 1000).toFixed(2)} s, CSV files ${(file.ms / 1000).toFixed(2)} s, file split ${(fileSplit.ms / 1000).toFixed(2)} s`);
  }
  lines.length = 0;
  rows.length = 0;
  files.length = 0;
  gc();

  const core = figure("1 core, object API (4 intervals, all rules)", "trades/s", coreRates);
  const batch = figure("1 core, batch API (4 intervals, all rules)", "trades/s", batchRates, { target: ">= 10M", goal: (m) => m >= 10e6 });
  const limit = figure("1 bare typed-array loop (floats, the limit)", "trades/s", limitRates);
  const decode = figure("2 WS lines → objects → core", "msgs/s", decodeRates);
  const decodeBatch = figure("2 WS lines → batch → core", "msgs/s", decodeBatchRates);
  const parse = figure("2 bare JSON.parse", "msgs/s", parseRates);
  const csv = figure("2 CSV rows → batch → core", "rows/s", csvRates);
  const split = figure("2 bare split(\",\")", "rows/s", splitRates);
  const file = figure("2 CSV file bytes → batch → core", "rows/s", fileRates);
  const fileSplit = figure("2 bare file decode + split", "rows/s", fileSplitRates);
  const ccxt = figure("3 ccxt buildOHLCVC 1m+5m+15m", "trades/s", ccxtRates);
  const figures: Figure[] = [
    core,
    batch,
    limit,
    ratio("1 batch / object API", batch, core, { paired: true }),
    decode,
    decodeBatch,
    parse,
    ratio("2 objects decode+core / JSON.parse", decode, parse, { paired: true }),
    ratio("2 batch decode+core / JSON.parse", decodeBatch, parse, { paired: true, target: ">= 1.5", goal: (m) => m >= 1.5 }),
    csv,
    split,
    ratio("2 CSV decode+core / split", csv, split, { paired: true, target: ">= 1.5", goal: (m) => m >= 1.5 }),
    file,
    fileSplit,
    ratio("2 CSV file bytes+core / decode+split", file, fileSplit, { paired: true }),
    ccxt,
    ratio("3 object API / ccxt", core, ccxt, { paired: true }),
    ratio("3 batch API / ccxt", batch, ccxt, { paired: true, target: ">= 3", goal: (m) => m >= 3 }),
    ...checkpoint.map((f) => ({ ...f, name: `4 ${f.name}` })),
    figure("5 heap, 10k symbols × 4 intervals open", "MB", [memory.heapBytes / 2 ** 20], { target: "< 100", goal: (m) => m < 100 }),
    figure("5 heap per open symbol × interval", "bytes", [memory.bytesPerSeries]),
  ];
  const peak = peakRssMb();

  console.log(`candleflow bench — ${info.cpu}, ${info.cores} cores, ${info.memoryGb} GB, ${info.runtime}, ${info.os}`);
  console.log(`${total.toLocaleString("en")} trades (20 symbols, ${(gen.outOfOrderShare * 100).toFixed(2)}% out of order, ` +
    `generated in ${(genMs / 1000).toFixed(1)} s); ${lineCount.toLocaleString("en")} WS lines; ` +
    `median of ${runs} interleaved rounds (checkpoint: ${checkpointRuns}); ratios are round by round`);
  console.log(table(figures));
  console.log(`core run events: ${JSON.stringify(coreTally)}; ccxt candles: ${JSON.stringify(ccxtCandles)}; ` +
    `ccxt folds floats, so its volumes are not exact; peak RSS ${peak} MB`);

  writeJson(values.out, {
    machine: info,
    config: { trades: total, symbols: 20, seed, runs, checkpointRuns, batchSize, wsLines: lineCount, outOfOrderShare: gen.outOfOrderShare, eventSpanMs: gen.spanMs, generateMs: genMs },
    figures,
    checks: { coreEvents: coreTally, ccxtCandles, checkpointState, memory },
    notes: [
      "ccxt buildOHLCVC folds JavaScript floats: its volumes drift from exact decimal sums",
      "ccxt input was grouped per symbol and sorted by time before timing; one trade counts once for three timeframes",
    ],
    peakRssMb: peak,
    e2e: values["skip-e2e"] === true ? previous(values.out).e2e : await e2e(),
  });
  log(`wrote ${values.out}`);
  return failed ? 1 : 0;
}

/** The report at `path` from an earlier run, or an empty one. */
function previous(path: string): Record<string, unknown> {
  try {
    return existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

if (import.meta.main) process.exitCode = await run(Bun.argv.slice(2));
