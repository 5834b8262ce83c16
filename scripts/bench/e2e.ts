/**
 * Section 5 of the benchmark: the server end to end, on its embedded defaults (in-process
 * log and cache, SQLite in a temp dir). Three processes: this one drives and samples; the
 * server runs this file with `--serve`; the WebSocket clients run `clients.ts`, so they do
 * not share the server's event loop (they do share the machine's cores).
 *
 * Latency needs the time a trade entered the server on the client's side. The bench source
 * writes it into the trade's price: "1000." then the wall clock in 0.1 ms units modulo 100 s
 * (`stampPrice`). A candle `update` frame's `close` is the price of the newest trade it
 * reflects, so the client reads that trade's age from it; both processes read the same
 * clock (`performance.timeOrigin + now`). The price stays near 1000 with ten significant
 * digits, so the engine's arithmetic stays on the fast path a real price takes.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import type { Trade } from "../../src/lib/types.ts";
import type { CandleStore } from "../../src/server/adapters/types.ts";
import type { Sink, Source, SourceStatus } from "../../src/server/sources/types.ts";
import { decimal8, market, prng } from "./generate.ts";
import { figure, median, type Figure } from "./report.ts";

/** Epoch ms with sub-ms precision; every process of one machine reads the same clock. */
export const wallMs = (): number => performance.timeOrigin + performance.now();

/** Stamps are 0.1 ms units modulo this: they repeat every 100 s, far above any latency measured here. */
const PERIOD = 1_000_000;

/** A Binance-shaped price ("1000.12345600") whose six decimals are `ms` in 0.1 ms units modulo 100 s. */
export function stampPrice(ms: number): string {
  return `1000.${String(Math.floor(ms * 10) % PERIOD).padStart(6, "0")}00`;
}

/** The stamp a price carries, in 0.1 ms units; accepts canonical candle prices ("1000.12") and snapshot numbers. */
export function stampOf(price: string | number): number {
  const text = String(price);
  const dot = text.indexOf(".");
  return dot < 0 ? 0 : Number(text.slice(dot + 1, dot + 7).padEnd(6, "0"));
}

/** Milliseconds from a stamp to `nowMs`, assuming less than 100 s passed. */
export function sinceStamp(stamp: number, nowMs: number): number {
  const d = (nowMs * 10 - stamp) % PERIOD;
  return (d < 0 ? d + PERIOD : d) / 10;
}

const FLOOR = 0.01;
const GROWTH = 1.01;
const BUCKETS = 2000;
const LOG_GROWTH = Math.log(GROWTH);

/** Latencies in log buckets 1% wide from 0.01 ms up (to about 70 minutes); weights may be fractional. */
export class Histogram {
  /** Weight per bucket; bucket i holds values in (FLOOR·1.01^(i-1), FLOOR·1.01^i]. */
  readonly counts = new Float64Array(BUCKETS);
  /** Sum of the weights. */
  total = 0;

  /** Adds `weight` samples of `ms`. */
  add(ms: number, weight = 1): void {
    const i = ms <= FLOOR ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log(ms / FLOOR) / LOG_GROWTH - 1e-9));
    this.counts[i]! += weight;
    this.total += weight;
  }

  /** Adds another histogram's samples. */
  merge(other: Histogram): void {
    for (let i = 0; i < BUCKETS; i++) this.counts[i]! += other.counts[i]!;
    this.total += other.total;
  }

  /** The p-th percentile (0-100): the upper edge of the bucket holding that rank, so at most 1% high; NaN when empty. */
  percentile(p: number): number {
    if (this.total === 0) return Number.NaN;
    const rank = (p / 100) * this.total;
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank && this.counts[i]! > 0) return FLOOR * GROWTH ** i;
    }
    return FLOOR * GROWTH ** (BUCKETS - 1);
  }

  /** Non-empty buckets as `[index, weight, ...]`, for IPC. */
  toSparse(): number[] {
    const out: number[] = [];
    for (let i = 0; i < BUCKETS; i++) if (this.counts[i] !== 0) out.push(i, this.counts[i]!);
    return out;
  }

  /** The inverse of {@link Histogram.toSparse}. */
  static fromSparse(sparse: readonly number[]): Histogram {
    const h = new Histogram();
    for (let i = 0; i < sparse.length; i += 2) {
      h.counts[sparse[i]!]! += sparse[i + 1]!;
      h.total += sparse[i + 1]!;
    }
    return h;
  }
}

/**
 * Adds `n` trades first seen in one frame: the newest is `newest` ms old, and the others were
 * sent after the previous frame's newest trade (`oldest` ms ago). Their own send times are
 * unknown, so they are spread evenly between the two (at most 8 points, weights summing to n).
 */
export function spread(h: Histogram, newest: number, oldest: number, n: number): void {
  const points = Math.min(n, 8);
  for (let j = 0; j < points; j++) h.add(newest + ((oldest - newest) * (j + 0.5)) / points, n / points);
}

/** A pipeline commit: wall ms, and the log offset committed (= trades committed so far). */
/** A pipeline checkpoint: wall time after it, log offset, and how long the store's commit took (ms). */
export type Commit = readonly [number, number, number?];

/**
 * Samples this process's event-loop lag until `stopped()`: [wall time, ms late] of a 20 ms
 * timer. A late timer means everything else on the loop (frames, commits) waited as long.
 */
export function loopLag(stopped: () => boolean): [number, number][] {
  const lags: [number, number][] = [];
  let due = wallMs() + 20;
  const tick = () => {
    const now = wallMs();
    lags.push([now, Math.max(0, now - due)]);
    due = now + 20;
    if (!stopped()) setTimeout(tick, 20);
  };
  setTimeout(tick, 20);
  return lags;
}

/** Trades committed by wall time `t`, linear between the commits around it; NaN outside the commits. */
export function committedAt(commits: readonly Commit[], t: number): number {
  const i = commits.findIndex(([at]) => at >= t);
  if (i < 0 || (i === 0 && commits[0]![0] > t)) return Number.NaN;
  if (i === 0) return commits[0]![1];
  const [t0, c0] = commits[i - 1]!;
  const [t1, c1] = commits[i]!;
  return c0 + ((c1 - c0) * (t - t0)) / (t1 - t0);
}

/** Trades per second committed between wall times `from` and `to` (commits in time order). */
export function rateOver(commits: readonly Commit[], from: number, to: number): number {
  return ((committedAt(commits, to) - committedAt(commits, from)) * 1000) / (to - from);
}

/** One load phase of the bench source: `rate` trades/s (0: as fast as the server takes them) for `ms`. */
export interface Phase {
  rate: number;
  ms: number;
}

/** Event-time trades per second of the whole market (20 symbols): what a busy exchange prints. */
const EVENT_RATE = 300;
const EVENT_START = 1_723_075_200_000;
const BATCH = 1000;
const CYCLE = 1 << 16;

/** The bench source: the server's `Source` port plus the start signal and the phase marks. */
interface BenchSource extends Source {
  /** Settles once the priming trades (one per symbol) are in the log. */
  primed: Promise<void>;
  /** Runs the phases; resolves to their wall start times followed by the end time. */
  go(phases: Phase[]): Promise<number[]>;
}

/**
 * Endless Binance-shaped trades for `symbols`, in event-time order (so a candle's close is
 * its newest trade), each priced with its send time. Paced phases stamp each trade with the
 * time it was due, not the time it went out: a source held up by the server does not hide
 * that wait (no coordinated omission). Unpaced phases stamp each batch as it goes out.
 */
function benchSource(symbols: string[], seed: number): BenchSource {
  const rand = prng(seed);
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  // Busy symbols first, as on an exchange; a cycle of templates keeps making a trade cheap.
  const weights = symbols.map((_, i) => 50 / (i + 1) ** 0.8);
  const total = weights.reduce((a, b) => a + b, 0);
  const sym = new Uint8Array(CYCLE);
  const dt = new Float64Array(CYCLE);
  const buy = new Uint8Array(CYCLE);
  const qty: string[] = [];
  for (let k = 0; k < CYCLE; k++) {
    let r = rand() * total;
    let s = 0;
    while (s < symbols.length - 1 && (r -= weights[s]!) > 0) s++;
    sym[k] = s;
    dt[k] = (-Math.log(1 - rand()) * 1000) / EVENT_RATE;
    buy[k] = rand() < 0.5 ? 1 : 0;
    // About 100 USDT a trade at 1000: a whale (>= 50,000) is rare but happens. Two decimals keep
    // quote sums as small as a real pair's (BTCUSDT: 2 + 5), so they stay off the BigInt path.
    qty.push(decimal8(Math.max(1, Math.round(0.1 * Math.exp(1.6 * normal()) * 100)), 2));
  }
  const ids = symbols.map((_, i) => (i + 1) * 1_000_000_000);
  let at = EVENT_START;
  let k = 0;
  const next = (price: string): Trade => {
    const j = k++ & (CYCLE - 1);
    at += dt[j]!;
    const s = sym[j]!;
    return { symbol: symbols[s]!, id: ++ids[s]!, price, qty: qty[j]!, ts: Math.floor(at), side: buy[j] === 1 ? "buy" : "sell" };
  };

  const status: SourceStatus = { connected: false, reconnects: 0, backfilled: 0, gaps: 0, errors: 0 };
  let stopped = false;
  let running: Promise<void> | undefined;
  let primedDone!: () => void;
  const primed = new Promise<void>((r) => (primedDone = r));
  let release!: (phases: Phase[]) => void;
  const started = new Promise<Phase[]>((r) => (release = r));
  let finished!: (marks: number[]) => void;
  const marks = new Promise<number[]>((r) => (finished = r));
  const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

  const play = async (sink: Sink): Promise<void> => {
    const send = async (batch: Trade[]) => {
      status.lastTradeTs = batch.at(-1)!.ts;
      await sink(batch);
    };
    const price = stampPrice(wallMs());
    await send(symbols.map((symbol, s) => ({ symbol, id: ++ids[s]!, price, qty: "0.10000000", ts: EVENT_START, side: "buy" })));
    primedDone();
    const phases = await started;
    const times: number[] = [];
    for (const { rate, ms } of phases) {
      const t0 = wallMs();
      times.push(t0);
      const end = t0 + ms;
      const per = rate > 0 ? 1000 / rate : 0;
      for (let sent = 0; !stopped;) {
        if (rate > 0) {
          const due = t0 + (sent + BATCH) * per;
          if (due > end) break;
          if (due > wallMs()) await sleep(due - wallMs());
        } else if (wallMs() >= end) break;
        if (stopped) break;
        const batch = new Array<Trade>(BATCH);
        let unit = -1;
        let p = stampPrice(wallMs());
        for (let j = 0; j < BATCH; j++) {
          if (rate > 0) {
            const due = t0 + (sent + j + 1) * per;
            // One string per 0.1 ms tick, shared by the trades due within it.
            if (Math.floor(due * 10) !== unit) {
              unit = Math.floor(due * 10);
              p = stampPrice(due);
            }
          }
          batch[j] = next(p);
        }
        sent += BATCH;
        await send(batch);
      }
    }
    times.push(wallMs());
    finished(times);
  };

  return {
    name: "bench",
    primed,
    go(phases) {
      release(phases);
      return marks;
    },
    start(sink) {
      if (running) throw new Error("bench source: already started");
      status.connected = true;
      running = play(sink).finally(() => void (status.connected = false));
      return running;
    },
    async stop() {
      stopped = true;
      release([]);
      await running?.catch(() => {});
    },
    status: () => ({ ...status }),
  };
}

/** The store, noting the wall time and log offset of each pipeline checkpoint it commits. */
function noting(inner: CandleStore, commits: Commit[]): CandleStore {
  return {
    name: inner.name,
    async commit(batch) {
      const t0 = wallMs();
      await inner.commit(batch);
      const cp = batch.checkpoint;
      // SQLite commits synchronously: their duration is time the event loop could do nothing else.
      if (cp?.key === "candleflow:0") commits.push([wallMs(), Number((JSON.parse(cp.offsets) as Record<string, number>)["0"]), wallMs() - t0]);
    },
    candles: (symbol, interval, query) => inner.candles(symbol, interval, query),
    latest: (symbol, interval) => inner.latest(symbol, interval),
    symbols: () => inner.symbols(),
    alerts: (query) => inner.alerts(query),
    loadCheckpoint: (key) => inner.loadCheckpoint(key),
    health: () => inner.health(),
    close: () => inner.close(),
  };
}

/** Messages between the processes (JSON over Bun's IPC). */
type Message = { type: string; [key: string]: unknown };

const SYMBOLS = market({ symbols: 20, trades: 1 }).symbols;

/** The server process: the real composition and socket, with the bench source and a noting store. */
async function serve(dir: string): Promise<void> {
  const [{ startServer }, { listen }, { loadConfig }, { sqliteStore }] = await Promise.all([
    import("../../src/server/server.ts"),
    import("../../src/server/runtime/bun.ts"),
    import("../../src/server/config.ts"),
    import("../../src/server/adapters/sqlite.ts"),
  ]);
  const send = (m: Message) => process.send?.(m);
  // Flags only, no environment: the embedded defaults, whatever the shell exports.
  const loaded = loadConfig(["--port", "0", "--speed", "0", "--db", join(dir, "candles.sqlite")], {});
  if (!loaded.ok) throw new Error(`bench server: bad configuration: ${JSON.stringify(loaded)}`);
  const commits: Commit[] = [];
  const store = noting(sqliteStore({ path: loaded.config.db }), commits);
  const source = benchSource(SYMBOLS, 42);
  const running = await startServer(loaded.config, { source, store });
  await source.primed;
  const listening = await listen(running, { port: 0, host: "127.0.0.1", development: false });
  let marks: number[] = [];
  let stopping = false;
  const lags = loopLag(() => stopping);
  process.on("message", (m: Message) => {
    if (m.type === "go") {
      void source.go(m.phases as Phase[]).then((t) => send({ type: "done", marks: (marks = t) }));
    } else if (m.type === "stop") {
      void (async () => {
        stopping = true;
        const hub = running.hub.stats();
        await listening.stop();
        await running.stop();
        await store.close();
        send({ type: "report", commits, marks, hub, lags });
      })();
    } else if (m.type === "clock") {
      send({ type: "clock", t: wallMs() });
    } else if (m.type === "exit") {
      process.exit(0);
    }
  });
  send({ type: "listening", port: Number(listening.url.port) });
}

/** A child bun process on IPC, with a mailbox that waits for a message type. */
function child(cmd: string[]) {
  const inbox: Message[] = [];
  let wake = () => {};
  const proc = Bun.spawn({
    cmd,
    stdio: ["ignore", "inherit", "inherit"],
    serialization: "json",
    ipc(m: Message) {
      inbox.push(m);
      wake();
    },
  });
  let exited = false;
  void proc.exited.then(() => ((exited = true), wake()));
  return {
    proc,
    send: (m: Message) => void proc.send(m),
    async next(type: string, ms: number): Promise<Message> {
      const until = Date.now() + ms;
      for (;;) {
        const i = inbox.findIndex((m) => m.type === type);
        if (i >= 0) return inbox.splice(i, 1)[0]!;
        if (exited) throw new Error(`${cmd.at(-1)} exited (code ${proc.exitCode}) before "${type}"`);
        if (Date.now() >= until) throw new Error(`no "${type}" from ${cmd.at(-1)} within ${ms / 1000} s`);
        await new Promise<void>((r) => {
          const timer = setTimeout(r, Math.min(250, until - Date.now()));
          wake = () => (clearTimeout(timer), r());
        });
      }
    },
  };
}

/** A child's clock minus ours, ms: from the quickest of a few IPC pings, against the ping's midpoint. */
async function offsetOf(k: ReturnType<typeof child>): Promise<number> {
  let best = Infinity;
  let offset = Number.NaN;
  for (let i = 0; i < 5; i++) {
    const t0 = wallMs();
    k.send({ type: "clock" });
    const { t } = (await k.next("clock", 5000)) as unknown as { t: number };
    const t1 = wallMs();
    if (t1 - t0 < best) [best, offset] = [t1 - t0, t - (t0 + t1) / 2];
  }
  return offset;
}

/** One reading of the two children from /proc (Linux); undefined elsewhere. */
interface Sample {
  t: number;
  /** Server resident set and its high-water mark, MB. */
  rss: number;
  hwm: number;
  /** CPU seconds (user + system) of the server, of the clients, and of the whole machine. */
  serverCpu: number;
  clientCpu: number;
  machineCpu: number;
}

/** Busy CPU seconds of the whole machine since boot, so other work on it shows in the report. */
function machineCpu(): number {
  try {
    const [user, nice, system, , , irq, softirq, steal] = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
    return (user! + nice! + system! + irq! + softirq! + steal!) / 100;
  } catch {
    return Number.NaN;
  }
}

function readProc(pid: number): { rss: number; hwm: number; cpu: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? Number.NaN);
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime, in clock ticks (100 per second on Linux).
    return { rss: kb("VmRSS") / 1024, hwm: kb("VmHWM") / 1024, cpu: (Number(fields[11]) + Number(fields[12])) / 100 };
  } catch {
    return undefined;
  }
}

/** Options of {@link runE2e}. */
export interface E2eOptions {
  /** WebSocket clients (default 1000). */
  clients: number;
  /** Trades per second of the paced phase (default 200,000: the target rate). */
  rate: number;
  /** Write a CPU profile of the server process (`bun --cpu-prof`, also as markdown) into this folder. */
  profileDir?: string;
  /** Progress lines (stderr). */
  log: (message: string) => void;
}

/** What section 5 measured: figures for the table, lines to print, and the JSON record. */
export interface E2eReport {
  figures: Figure[];
  lines: string[];
  json: Record<string, unknown>;
}

/** Warm-up and steady windows of the two phases, ms. The whole section stays under {@link CAP_MS}. */
const PACED = { warm: 4000, steady: 12_000 };
const FULL = { warm: 3000, steady: 20_000 };
const CAP_MS = 60_000;
const CLIENTS_FILE = join(import.meta.dir, "clients.ts");

/**
 * Section 5. Starts the server process on embedded defaults and a temp dir, primes the 20
 * symbols, connects `clients` WebSocket clients from a second process (1-3 symbols × 1m
 * each), then feeds trades paced at `rate` (latency at that load) and then as fast as the
 * server takes them (sustained throughput). Everything is stopped and the temp dir removed
 * on the way out, also on failure; past {@link CAP_MS} the children are killed.
 */
export async function runE2e(options: E2eOptions): Promise<E2eReport> {
  const { log } = options;
  const dir = mkdtempSync(join(tmpdir(), "candleflow-e2e-"));
  const prof = options.profileDir === undefined ? [] : ["--cpu-prof", "--cpu-prof-md", `--cpu-prof-dir=${options.profileDir}`];
  const kids: ReturnType<typeof child>[] = [];
  const samples: Sample[] = [];
  let sampler: ReturnType<typeof setInterval> | undefined;
  const killAll = () => {
    for (const k of kids) if (k.proc.exitCode === null) k.proc.kill("SIGKILL");
  };
  const cap = setTimeout(() => {
    log(`e2e: over ${CAP_MS / 1000} s, stopping the server and the clients`);
    killAll();
  }, CAP_MS);
  try {
    const server = child([process.execPath, ...prof, import.meta.path, "--serve", dir]);
    kids.push(server);
    const { port } = (await server.next("listening", 20_000)) as unknown as { port: number };
    log(`e2e: server pid ${server.proc.pid} on 127.0.0.1:${port}; connecting ${options.clients} clients`);
    const clients = child([process.execPath, CLIENTS_FILE]);
    kids.push(clients);
    clients.send({ type: "start", url: `ws://127.0.0.1:${port}/ws`, clients: options.clients, symbols: SYMBOLS, interval: "1m" });
    const ready = (await clients.next("ready", 20_000)) as unknown as { ready: number; pairs: number };
    log(`e2e: ${ready.ready} clients subscribed (${ready.pairs} symbol × interval pairs); paced ${options.rate.toLocaleString("en")}/s, then full speed`);

    const skew = (await offsetOf(server)) - (await offsetOf(clients));
    sampler = setInterval(() => {
      const s = readProc(server.proc.pid);
      const c = readProc(clients.proc.pid);
      if (s && c) samples.push({ t: wallMs(), rss: s.rss, hwm: s.hwm, serverCpu: s.cpu, clientCpu: c.cpu, machineCpu: machineCpu() });
    }, 250);
    const phases: Phase[] = [{ rate: options.rate, ms: PACED.warm + PACED.steady }, { rate: 0, ms: FULL.warm + FULL.steady }];
    server.send({ type: "go", phases });
    await server.next("done", phases.reduce((a, p) => a + p.ms, 0) + 15_000);
    clearInterval(sampler);
    clients.send({ type: "stop" });
    const result = (await clients.next("result", 15_000)) as unknown as ClientResult;
    clients.send({ type: "exit" });
    server.send({ type: "stop" });
    const report = (await server.next("report", 15_000)) as unknown as ServerReport;
    server.send({ type: "exit" });
    await Promise.race([Promise.all(kids.map((k) => k.proc.exited)), new Promise((r) => setTimeout(r, 5000))]);
    return summarize(options, { ...ready, skew }, result, report, samples);
  } finally {
    clearTimeout(cap);
    if (sampler) clearInterval(sampler);
    killAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What the client process sends back: counts and per-second latency histograms (sparse). */
interface ClientResult {
  counts: Record<string, number>;
  closes: Record<string, number>;
  errors: string[];
  /** Epoch second → [newest-trade histogram, every-trade histogram]. */
  seconds: Record<string, [number[], number[]]>;
  /** The client process's own event-loop lag: [wall time, ms late] of a 20 ms timer. */
  lags?: [number, number][];
}

/** What the server process sends back at the end. */
interface ServerReport {
  commits: Commit[];
  /** The server's event-loop lag (see `loopLag`). */
  lags?: [number, number][];
  /** Wall start of the paced phase, of the full-speed phase, and the end. */
  marks: number[];
  hub: Record<string, number>;
}

function summarize(
  options: E2eOptions,
  ready: { ready: number; pairs: number; skew: number },
  result: ClientResult,
  report: ServerReport,
  samples: Sample[],
): E2eReport {
  const [pacedAt, fullAt, endAt] = report.marks as [number, number, number];
  // The pipeline may have drained the log before the source noticed its time was up.
  const lastCommit = report.commits.at(-1)?.[0] ?? endAt;
  const windows = { paced: [pacedAt + PACED.warm, fullAt], full: [fullAt + FULL.warm, Math.min(endAt, lastCommit)] } as const;
  const latency = (from: number, to: number) => {
    const newest = new Histogram();
    const every = new Histogram();
    for (const [second, [n, e]] of Object.entries(result.seconds)) {
      const s = Number(second) * 1000;
      if (s >= from && s + 1000 <= to) {
        newest.merge(Histogram.fromSparse(n));
        every.merge(Histogram.fromSparse(e));
      }
    }
    return { newest, every };
  };
  const throughput = (from: number, to: number) => {
    const slices: number[] = [];
    for (let t = from; t + 1000 <= to; t += 1000) {
      const r = rateOver(report.commits, t, t + 1000);
      if (Number.isFinite(r)) slices.push(r);
    }
    return { rate: rateOver(report.commits, from, to), slices };
  };
  const during = (from: number, to: number) => samples.filter((s) => s.t >= from && s.t <= to);
  const cores = (list: Sample[], key: "serverCpu" | "clientCpu" | "machineCpu") =>
    list.length < 2 ? Number.NaN : (list.at(-1)![key] - list[0]![key]) / ((list.at(-1)!.t - list[0]!.t) / 1000);

  const paced = { ...throughput(...windows.paced), ...latency(...windows.paced), samples: during(...windows.paced) };
  const full = { ...throughput(...windows.full), ...latency(...windows.full), samples: during(...windows.full) };
  const steady = (list: Sample[]) => (list.length > 0 ? median(list.map((s) => s.rss)) : Number.NaN);
  // VmHWM from /proc, not getrusage: Linux carries ru_maxrss across execve, so a server
  // spawned by this (large) benchmark process would report the parent's peak as its own.
  const peakRss = Math.max(...samples.map((s) => s.hwm));
  const rateFigure = (name: string, t: { rate: number; slices: number[] }, extra: Parameters<typeof figure>[3]) => {
    const f = figure(name, "trades/s", [t.rate], extra);
    if (t.slices.length > 0) [f.min, f.max] = [Math.min(...t.slices), Math.max(...t.slices)];
    return f;
  };
  const ms = (name: string, value: number, extra: Parameters<typeof figure>[3] = {}) => figure(name, "ms", [value], extra);
  const rate = options.rate;
  const label = rate >= 1000 ? `${rate / 1000}k/s` : `${rate}/s`;
  const figures: Figure[] = [
    rateFigure(`5 e2e paced ${label}: committed`, paced, { note: `offered ${rate}/s; min/max: 1 s slices` }),
    ms(`5 e2e paced ${label}: latency p50`, paced.every.percentile(50), { note: "every trade, send to client" }),
    ms(`5 e2e paced ${label}: latency p99`, paced.every.percentile(99), { target: "< 50", goal: (m) => m < 50, note: "every trade, send to client" }),
    ms(`5 e2e paced ${label}: newest p99`, paced.newest.percentile(99), { note: "newest trade per frame" }),
    rateFigure("5 e2e full speed: committed", full, { target: ">= 200k", goal: (m) => m >= 200_000, note: "min/max: 1 s slices" }),
    ms("5 e2e full speed: latency p50", full.every.percentile(50), { note: "queueing: the source runs ahead of the pipeline" }),
    ms("5 e2e full speed: latency p99", full.every.percentile(99), { note: "queueing: the source runs ahead of the pipeline" }),
    figure("5 e2e server RSS peak", "MB", [peakRss], { target: "< 300", goal: (m) => m < 300 }),
    figure(`5 e2e server RSS paced ${label}`, "MB", [steady(paced.samples)], { target: "< 300", goal: (m) => m < 300, note: "median over the window" }),
    figure("5 e2e server RSS full speed", "MB", [steady(full.samples)], { target: "< 300", goal: (m) => m < 300, note: "median over the window" }),
  ];

  const counts = result.counts;
  const n = (v: number) => Math.round(v).toLocaleString("en");
  const cpu = (list: Sample[]) => {
    const [server, clients] = [cores(list, "serverCpu"), cores(list, "clientCpu")];
    return `server ${server.toFixed(2)}, clients ${clients.toFixed(2)}, everything else ${Math.max(0, cores(list, "machineCpu") - server - clients).toFixed(2)}`;
  };
  const inWindow = <T extends readonly [number, ...unknown[]]>(rows: readonly T[] | undefined, [from, to]: readonly [number, number]) =>
    (rows ?? []).filter((r) => r[0] >= from && r[0] <= to);
  const commitGap = (c: readonly Commit[], w: readonly [number, number]) => {
    const inside = inWindow(c, w);
    return inside.length > 1 ? (inside.at(-1)![0] - inside[0]![0]) / (inside.length - 1) : Number.NaN;
  };
  const spreadOf = (values: number[]) => {
    const sorted = values.sort((x, y) => x - y);
    const at = (q: number) => (sorted.length > 0 ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(1) : "n/a");
    return `p50 ${at(0.5)}, p99 ${at(0.99)}, max ${at(1)} ms`;
  };
  // A late timer means everything on that loop waited as long: in the client process, that is latency the harness adds.
  const lagOf = (lags: readonly (readonly [number, number])[] | undefined, w: readonly [number, number]) =>
    spreadOf(inWindow(lags, w).map(([, l]) => l));
  const commitTook = (c: readonly Commit[], w: readonly [number, number]) =>
    spreadOf(inWindow(c, w).flatMap(([, , d]) => (d === undefined ? [] : [d])));
  const lines = [
    `candleflow e2e — server and ${n(options.clients)} WebSocket clients on 127.0.0.1, in two processes sharing this machine's ${cpus().length} cores`,
    `embedded defaults (in-process log and cache, SQLite in a temp dir, commit every 5,000 trades or 1 s); source: generated ` +
      `Binance-shaped trades, 20 symbols, ~${EVENT_RATE} trades per event-time second; ${n(ready.ready)} clients × 1-3 symbols × 1m ` +
      `(${n(ready.pairs)} pairs); windows: paced ${PACED.warm / 1000} s warm-up + ${PACED.steady / 1000} s, full speed ` +
      `${FULL.warm / 1000} s warm-up + ${FULL.steady / 1000} s`,
    `latency: "every trade" = send to receipt of the first frame showing it, at each subscribed client; a frame's newest trade is ` +
      `exact (its price carries its send time), older ones in it are spread evenly back to the previous frame's newest`,
    `cores busy (of ${cpus().length}): paced ${cpu(paced.samples)}; full speed ${cpu(full.samples)}; ` +
      `commit every ${commitGap(report.commits, windows.paced).toFixed(1)} ms paced, ${commitGap(report.commits, windows.full).toFixed(1)} ms at full speed; ` +
      `clock of server − clients ${ready.skew.toFixed(3)} ms (IPC ping)`,
    `store commits took ${commitTook(report.commits, windows.paced)} paced, ${commitTook(report.commits, windows.full)} at full speed; ` +
      `event-loop lag of the server ${lagOf(report.lags, windows.paced)} paced, ${lagOf(report.lags, windows.full)} at full speed; ` +
      `of the client process ${lagOf(result.lags, windows.paced)} paced, ${lagOf(result.lags, windows.full)} at full speed`,
    `clients received ${n(counts.frames ?? 0)} frames: ${n(counts.updates ?? 0)} updates, ${n(counts.finals ?? 0)} finals, ` +
      `${n(counts.alerts ?? 0)} alerts, ${n(counts.resnapshots ?? 0)} re-snapshots after conflation; server hub: ` +
      `${n(report.hub.conflated ?? 0)} conflations, ${n(report.hub.closedSlow ?? 0)} slow closes; closes seen by clients: ` +
      `${JSON.stringify(result.closes)}${result.errors.length > 0 ? `; errors: ${result.errors.slice(0, 3).join(" | ")}` : ""}`,
  ];
  const pick = (h: Histogram) => ({ p50: h.percentile(50), p90: h.percentile(90), p99: h.percentile(99), p999: h.percentile(99.9), samples: h.total });
  return {
    figures,
    lines,
    json: {
      config: { clients: options.clients, rate, pairs: ready.pairs, paced: PACED, full: FULL, eventRate: EVENT_RATE, cores: cpus().length },
      figures,
      paced: { committed: paced.rate, slices: paced.slices, every: pick(paced.every), newest: pick(paced.newest) },
      full: { committed: full.rate, slices: full.slices, every: pick(full.every), newest: pick(full.newest) },
      rss: { peakMb: peakRss, pacedMb: steady(paced.samples), fullMb: steady(full.samples), timeline: samples.filter((_, i) => i % 4 === 0).map((s) => [Math.round(s.t - pacedAt), Math.round(s.rss)]) },
      clients: { counts, closes: result.closes, errors: result.errors },
      hub: report.hub,
      commits: report.commits.length,
      notes: lines.slice(1),
    },
  };
}

if (import.meta.main) {
  if (Bun.argv[2] !== "--serve" || Bun.argv[3] === undefined) {
    console.error("usage: bun scripts/bench/e2e.ts --serve <dir>   (started by `bun run bench`)");
    process.exit(2);
  }
  await serve(Bun.argv[3]);
}
