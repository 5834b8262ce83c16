import { once } from "node:events";
import { open, type FileHandle } from "node:fs/promises";
import { basename } from "node:path";
import { parseArgs } from "node:util";
import {
  decodeAggTradesCsvInto, decodeBinanceWsInto, decodeTradesCsvInto, detectFormat, scanAggTradesCsvBytes, scanTradesCsvBytes, type Format,
} from "../../lib/binance.ts";
import { CandleflowError, Engine, TradeBatch, type Candle, type EngineEvent } from "../../lib/index.ts";
import { readRows, type RowReader } from "./read-rows.ts";

/** One line for `candleflow --help`. */
export const summary = "replay a recorded trades file into final candles, one JSON object per line";

/** The command's help text. */
export const usage = `usage: bun run candleflow candles --input <file> [--format auto|binance-ws|binance-trades-csv|binance-aggtrades-csv]
         [--symbol S] [--interval 1m[,5m,...]] [--empty skip|flat] [--out <file>|-]

  --input     the recorded file, one message or row per line; gzip is recognised by its first bytes
  --format    line format; auto (default) tells it from the first line
  --symbol    CSV input: the symbol (default: the file name before its first "-", e.g. XRPETH-aggTrades.csv)
              WebSocket input: keep only this symbol
  --interval  comma-separated candle sizes in output order (default 1m)
  --empty     windows without trades: skip (default) or flat (O=H=L=C=previous close, volume 0)
  --out       output file, or - for stdout (default)

Writes one JSON object per final candle, ordered by interval (as given) then open time.
Bad lines are reported on stderr as "line N: reason" and counted in a closing summary line.
Exit code 0 when the file was replayed (bad lines included), 2 for bad arguments or unreadable input.`;

const FORMATS = ["auto", "binance-ws", "binance-trades-csv", "binance-aggtrades-csv"];
const BATCH = 4096;
const GZIP = [0x1f, 0x8b];

/** Bad arguments or unreadable input: exit code 2 with this message. */
class Usage extends Error {
  constructor(message: string, readonly hint = false) {
    super(message);
  }
}

interface Args {
  input: string;
  format: string;
  symbol: string | undefined;
  intervals: string[];
  empty: "skip" | "flat";
  out: string;
}

function parse(argv: string[]): Args | "help" {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        input: { type: "string" },
        format: { type: "string", default: "auto" },
        symbol: { type: "string" },
        interval: { type: "string", default: "1m" },
        empty: { type: "string", default: "skip" },
        out: { type: "string", default: "-" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (e) {
    throw new Usage((e as Error).message, true);
  }
  if (values.help) return "help";
  if (!values.input) throw new Usage("--input <file> is required", true);
  if (!FORMATS.includes(values.format)) throw new Usage(`--format must be one of ${FORMATS.join(", ")}; got "${values.format}"`, true);
  if (values.empty !== "skip" && values.empty !== "flat") throw new Usage(`--empty must be skip or flat; got "${values.empty}"`, true);
  if (values.symbol === "") throw new Usage("--symbol must not be empty", true);
  return {
    input: values.input,
    format: values.format,
    symbol: values.symbol,
    intervals: values.interval.split(",").map((s) => s.trim()),
    empty: values.empty,
    out: values.out,
  };
}

/** True when the file starts with the gzip magic bytes. */
async function gzipped(path: string): Promise<boolean> {
  const file = await open(path, "r");
  try {
    const head = new Uint8Array(2);
    const { bytesRead } = await file.read(head, 0, 2, 0);
    return bytesRead === 2 && head[0] === GZIP[0] && head[1] === GZIP[1];
  } finally {
    await file.close();
  }
}

/** The symbol of a CSV file: --symbol, else its name up to the first "-". */
function csvSymbol(args: Args): string {
  if (args.symbol !== undefined) return args.symbol;
  const name = basename(args.input);
  const dash = name.indexOf("-");
  if (dash <= 0) throw new Usage(`cannot tell the symbol of ${name} (expected a name like XRPETH-aggTrades.csv): pass --symbol`);
  return name.slice(0, dash);
}

/** How one format's lines go into a batch. */
interface Decoder {
  /** Adds the line's trade to the batch (a rejected one as a rejected row); false when the line holds no trade. */
  line(text: string): boolean;
  /** CSV only: takes whole usual rows straight from the bytes (see `scanAggTradesCsvBytes`). */
  bytes?: (bytes: Uint8Array, at: number, end: number, maxRows: number) => number;
}

/**
 * The decoder for `format`. Prices and quantities are scanned into mantissas in place, with
 * no trade object or decimal string per line; CSV rows are read from the file's bytes.
 */
function decoder(format: Format, args: Args, batch: TradeBatch): Decoder {
  if (format === "binance-ws") return { line: (line) => decodeBinanceWsInto(line, batch) };
  const symbol = csvSymbol(args);
  return format === "binance-trades-csv"
    ? { line: (line) => decodeTradesCsvInto(line, symbol, batch), bytes: (b, at, end, max) => scanTradesCsvBytes(b, at, end, symbol, batch, max) }
    : { line: (line) => decodeAggTradesCsvInto(line, symbol, batch), bytes: (b, at, end, max) => scanAggTradesCsvBytes(b, at, end, symbol, batch, max) };
}

/** The output object, keys in the documented order. */
function row(c: Candle): object {
  return {
    symbol: c.symbol,
    interval: c.interval,
    openTime: c.openTime,
    open: c.open,
    high: c.high,
    low: c.low,
    close: c.close,
    volume: c.volume,
    quoteVolume: c.quoteVolume,
    trades: c.trades,
    takerBuyVolume: c.takerBuyVolume,
    takerBuyQuoteVolume: c.takerBuyQuoteVolume,
    vwap: c.vwap,
  };
}

/** Writes all of `text` to stdout, waiting when the pipe is full. */
async function toStdout(text: string): Promise<void> {
  if (!process.stdout.write(text)) await once(process.stdout, "drain");
}

async function replay(args: Args): Promise<number> {
  const engine = new Engine({ intervals: args.intervals, empty: args.empty, updates: false });
  let gzip: boolean;
  try {
    gzip = await gzipped(args.input);
  } catch (e) {
    throw new Usage(`cannot read ${args.input}: ${(e as Error).message}`);
  }

  let file: FileHandle | undefined;
  if (args.out !== "-") {
    try {
      file = await open(args.out, "w");
    } catch (e) {
      throw new Usage(`cannot write ${args.out}: ${(e as Error).message}`);
    }
  }
  try {
    return await aggregate(args, engine, gzip, file);
  } finally {
    await file?.close();
  }
}

async function aggregate(args: Args, engine: Engine, gzip: boolean, file: FileHandle | undefined): Promise<number> {
  // Latest revision of every final candle, by interval, symbol and open time.
  const finals = new Map<string, Candle>();
  let bad = 0;
  let lineNo = 0;
  let notTrades = 0;
  let filtered = 0;
  const batch = new TradeBatch(BATCH);
  // The file line of each batch row, for reporting the rows the batch rejected.
  const rowLines: number[] = [];
  // Decode errors wait for their batch's rejections, so stderr lists bad lines in file order.
  let reports: [number, string][] = [];
  const report = (n: number, reason: string) => {
    bad++;
    reports.push([n, reason]);
  };
  const printReports = () => {
    if (reports.length === 0) return;
    reports.sort((a, b) => a[0] - b[0]);
    console.error(reports.map(([n, reason]) => `line ${n}: ${reason}`).join("\n"));
    reports = [];
  };
  const take = (events: EngineEvent[]) => {
    for (const e of events) {
      if (e.type === "final" || e.type === "revision") {
        const c = e.candle;
        const key = `${c.interval}\u0000${c.symbol}\u0000${c.openTime}`;
        const had = finals.get(key);
        if (had === undefined || c.rev >= had.rev) finals.set(key, c);
      }
    }
  };
  const feed = () => {
    if (batch.length > 0) {
      // The engine emits the batch's rejected rows as `rejected` events; the rows say which lines.
      for (const r of batch.rejected) report(rowLines[r.row]!, `rejected (${r.reason}): ${r.detail}`);
      take(engine.ingestBatch(batch));
      batch.clear();
      rowLines.length = 0;
    }
    printReports();
  };

  const reader: RowReader = {
    line(text) {
      let line = text;
      lineNo++;
      if (line.endsWith("\r")) line = line.slice(0, -1);
      if (lineNo === 1 && line.startsWith("\uFEFF")) line = line.slice(1);
      if (line.trim() === "") return;
      if (decode === undefined) {
        let format: Format;
        try {
          format = detectFormat(line);
        } catch (e) {
          throw new Usage(`${args.input} line ${lineNo}: ${(e as Error).message}; pass --format`);
        }
        start(decoder(format, args, batch));
      }
      let added: boolean;
      try {
        added = decode!.line(line);
      } catch (e) {
        if (!(e instanceof CandleflowError)) throw e;
        report(lineNo, e.message);
        return;
      }
      if (!added) notTrades++;
      else if (args.symbol !== undefined && batch.symbolAt(batch.length - 1) !== args.symbol) {
        // Another symbol's trade (a CSV row's symbol is --symbol itself): not kept, not judged.
        batch.pop();
        filtered++;
      } else {
        rowLines.push(lineNo);
        if (batch.length >= BATCH) feed();
      }
    },
  };
  let decode: Decoder | undefined;
  const start = (d: Decoder) => {
    decode = d;
    const bytes = d.bytes;
    if (bytes === undefined) return;
    // Each row the scanner takes is one line and one batch row.
    reader.scan = (b, at, end) => {
      for (;;) {
        const before = batch.length;
        const room = BATCH - before;
        const next = bytes(b, at, end, room);
        const taken = batch.length - before;
        for (let n = taken; n > 0; n--) rowLines.push(++lineNo);
        if (batch.length >= BATCH) feed();
        // Stopped at a row it does not take, or at the end; else the batch was full: go on.
        if (taken < room || next >= end) return next;
        at = next;
      }
    };
  };
  if (args.format !== "auto") start(decoder(args.format as Format, args, batch));
  try {
    await readRows(args.input, gzip, reader);
  } catch (e) {
    // System and zlib errors carry a string code (ENOENT, EISDIR, Z_DATA_ERROR): the input is unreadable.
    if (e instanceof Usage || e instanceof CandleflowError || typeof (e as { code?: unknown }).code !== "string") throw e;
    throw new Usage(`cannot read ${args.input}: ${(e as Error).message}`);
  }
  feed();
  take(engine.flush());
  printReports();

  const order = new Map(args.intervals.map((label, i) => [label, i]));
  const candles = [...finals.values()].sort(
    (a, b) => order.get(a.interval)! - order.get(b.interval)! || a.openTime - b.openTime || (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0),
  );
  const text = candles.map((c) => `${JSON.stringify(row(c))}\n`);
  if (file !== undefined) await file.writeFile(text.join(""));
  else for (let i = 0; i < text.length; i += 1024) await toStdout(text.slice(i, i + 1024).join(""));

  const s = engine.stats();
  const extra = [notTrades > 0 ? `, ${notTrades} not trades` : "", filtered > 0 ? `, ${filtered} other symbols` : ""].join("");
  console.error(
    `candles: ${lineNo} lines, ${s.trades} trades, ${candles.length} candles, ${bad} bad lines, ${s.late} late, ${s.duplicates} duplicates${extra}`,
  );
  return 0;
}

/**
 * `candles`: replays a recorded trades file (Binance WebSocket lines or data.binance.vision
 * CSV, plain or gzip) through the engine and writes its final candles as JSON lines.
 * Resolves to the exit code: 0 when replayed, 2 for bad arguments or unreadable input.
 */
export async function run(argv: string[]): Promise<number> {
  try {
    const args = parse(argv);
    if (args === "help") {
      console.log(usage);
      return 0;
    }
    return await replay(args);
  } catch (e) {
    if (!(e instanceof Usage) && !(e instanceof CandleflowError)) throw e;
    console.error(`candles: ${e.message}`);
    if (e instanceof Usage && e.hint) console.error("run `bun run candleflow candles --help` for the options");
    return 2;
  }
}
