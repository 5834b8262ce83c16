import { Engine } from "../lib/engine.ts";
import type { Alert, Candle, EngineEvent, EngineOptions, EngineStats } from "../lib/types.ts";
import { AdapterError } from "./adapters/errors.ts";
import type { Cache, CandleStore, TradeLog } from "./adapters/types.ts";
import { publisher } from "./publisher.ts";

export { channels } from "./publisher.ts";

/** Options of the processor. Only the ports are required. */
export interface PipelineOptions {
  /** Where trades come from. */
  log: TradeLog;
  /** Where candles, alerts and checkpoints are committed together. */
  store: CandleStore;
  /**
   * Latest candles and pub/sub, updated as soon as a step produces events (live charts
   * should not wait for the durable commit). At least once: after a crash, the events
   * since the last commit are produced again, identical, and published again.
   */
  cache?: Cache;
  /** Engine options for partitions without a checkpoint (a checkpoint carries its own). */
  engine?: EngineOptions;
  /** Checkpoint key prefix; keys are `<name>:<partition>`. Default `candleflow`. */
  name?: string;
  /** Partitions to process; default all of the log's. */
  partitions?: number[];
  /** Most records per read. Default 1000. */
  batch?: number;
  /** Commit once this many trades of a partition are uncommitted. Default 5000. */
  commitTrades?: number;
  /** Commit uncommitted work at least this often, ms of `clock`. Default 250. */
  commitMs?: number;
  /** Wall clock for commit cadence and status, ms. Default `Date.now`. */
  clock?: () => number;
  /**
   * Event-time "now" at the source, passed to `Engine.advance` every step so quiet symbols'
   * windows close (e.g. `Date.now` for a live feed). Omit for replays: the trades alone drive time.
   */
  eventTime?: () => number | undefined;
  /**
   * While busy, publish at most this often, ms of `clock`: candle events are coalesced to
   * the latest per window (a final replaces its updates), so fan-out stays bounded. When
   * caught up, pending events go out at once. Default 20.
   */
  publishMs?: number;
  /** Longest pause of `run` when caught up, ms (`wake` ends it sooner). Default 50. */
  idleMs?: number;
  /**
   * Driver state committed with every checkpoint, in its offsets string beside the log
   * offsets (e.g. where a replayed recording sits in time); read it back with `loadCheckpoint`.
   */
  checkpointMeta?: () => Record<string, unknown>;
  /** Called after each commit. */
  onCommit?: (commit: CommitInfo) => void;
  /** Called with errors the pipeline survives: cache failures and retried adapter errors. */
  onError?: (error: unknown) => void;
}

/** What one commit wrote. */
export interface CommitInfo {
  /** Log partition committed. */
  partition: number;
  /** Log offset the partition resumes from after this commit. */
  offset: number;
  /** Candle rows written (one per window touched since the last commit). */
  candles: number;
  /** Alerts written. */
  alerts: number;
}

/** Progress of one partition. */
export interface PartitionStatus {
  /** Log partition. */
  partition: number;
  /** Next offset to read. */
  offset: number;
  /** Offset of the last commit's checkpoint. */
  committed: number;
  /** End of the partition when last looked at. */
  highWatermark: number;
  /** `highWatermark − offset`: records not yet read. */
  lag: number;
}

/** Health and metrics of the processor. */
export interface PipelineStatus {
  /** `new` before start, `running`, `stopped` after run returns, `done` after finish, `failed` on a fatal error. */
  state: "new" | "running" | "stopped" | "done" | "failed";
  /** Progress of each partition. */
  partitions: PartitionStatus[];
  /** Sum of the partitions' lag. */
  lag: number;
  /** Wall time of the last commit, ms; undefined before the first. */
  lastCommitAt?: number;
  /** Commits since start. */
  commits: number;
  /** Records read since start. */
  trades: number;
  /** Records read per second over the last ten seconds. */
  tradesPerSecond: number;
  /** Engine counters summed over partitions (they survive restarts). */
  engine: EngineStats;
  /** Cache writes or publishes that failed (the store commit had succeeded). */
  cacheErrors: number;
  /** The fatal error, when `state` is `failed`. */
  error?: string;
}

/** The processor: log → engine → store (+ cache), with exactly-once effect on the store. */
export interface Pipeline {
  /** Restores each partition's checkpoint (or starts fresh at the log's low watermark). */
  start(): Promise<void>;
  /** Reads one batch per partition, feeds the engines, commits when due. Resolves to records read. */
  step(): Promise<number>;
  /** Commits every partition with uncommitted work now. */
  commit(): Promise<void>;
  /** Steps until every partition has reached its high watermark, then commits. */
  drain(): Promise<void>;
  /** End of a finite input: drains, flushes every engine (all windows final) and commits. */
  finish(): Promise<void>;
  /** Steps until `signal` aborts, pausing when caught up and retrying retryable adapter errors; commits on the way out. */
  run(signal?: AbortSignal): Promise<void>;
  /** Ends a caught-up `run`'s pause now: call it after appending to the log, so trades wait for no timer. */
  wake(): void;
  /** Current health and metrics. */
  status(): PipelineStatus;
}


interface Part {
  partition: number;
  key: string;
  engine: Engine;
  next: number;
  committed: number;
  high: number;
  /** Latest event per window since the last commit, in first-touch order. */
  candles: Map<string, Extract<EngineEvent, { candle: Candle }>>;
  alerts: Alert[];
  uncommitted: number;
  dirty: boolean;
  lastCommit: number;
}

const ZERO: EngineStats = { trades: 0, rejected: 0, duplicates: 0, late: 0, revisions: 0, finals: 0, alerts: 0, gapsEvicted: 0 };

/**
 * Builds a processor over the ports. Exactly-once effect: each commit writes the candles
 * and alerts produced since the last one together with `engine.snapshot(offsets)` in one
 * store transaction, so after a crash `start` restores an engine and offsets that match
 * the store exactly, and re-reading the log reproduces what was lost. Pub/sub and the
 * latest cache are updated after the commit: at least once, possibly repeated after a crash.
 *
 * @example
 * const p = pipeline({ log: fileLog({ path, decode: decodeBinanceWs }), store: sqliteStore({ path: "candles.sqlite" }) })
 * await p.start()
 * await p.finish()
 */
export function pipeline(options: PipelineOptions): Pipeline {
  const { log, store, cache } = options;
  const name = options.name ?? "candleflow";
  const batch = options.batch ?? 1000;
  const commitTrades = options.commitTrades ?? 5000;
  const commitMs = options.commitMs ?? 250;
  const clock = options.clock ?? Date.now;
  const idleMs = options.idleMs ?? 50;
  const onError = options.onError ?? (() => {});
  const live = publisher(cache, { clock, everyMs: options.publishMs ?? 20, onError });
  const parts: Part[] = [];
  const samples: [number, number][] = [];
  let state: PipelineStatus["state"] = "new";
  let started: Promise<void> | undefined;
  let queue: Promise<unknown> = Promise.resolve();
  let trades = 0;
  let commits = 0;
  let lastCommitAt: number | undefined;
  let failure: unknown;
  let moved = false;

  // Steps, commits and flushes never interleave: a snapshot must match what is committed with it.
  const serial = <T>(body: () => Promise<T>): Promise<T> => {
    const result = queue.then(body);
    queue = result.catch(() => {});
    return result;
  };

  const fatal = (e: unknown): never => {
    state = "failed";
    failure = e;
    throw e;
  };

  const open = async (partition: number): Promise<Part> => {
    const key = `${name}:${partition}`;
    const cp = await store.loadCheckpoint(key);
    let engine: Engine;
    let next: number;
    if (cp) {
      engine = Engine.restore(cp.bytes);
      let at: unknown;
      try {
        at = (JSON.parse(cp.offsets) as Record<string, unknown>)[String(partition)];
      } catch {
        at = undefined;
      }
      if (engine.offsets !== cp.offsets || typeof at !== "number" || !Number.isSafeInteger(at)) {
        throw new AdapterError(store.name, "CORRUPT", `checkpoint ${key}: offsets ${cp.offsets} do not match its snapshot (${engine.offsets})`);
      }
      next = at;
    } else {
      // Open candles are rendered when they are published or committed, not on every read.
      engine = new Engine({ ...options.engine, updates: "pull" });
      next = await log.lowWatermark(partition);
    }
    return {
      partition, key, engine, next, committed: next, high: await log.highWatermark(partition),
      candles: new Map(), alerts: [], uncommitted: 0, dirty: false, lastCommit: clock(),
    };
  };

  const take = (part: Part, events: EngineEvent[]) => {
    for (const e of events) {
      if (e.type === "update" || e.type === "final" || e.type === "revision") {
        const c = e.candle;
        part.candles.set(`${c.symbol}\u0000${c.interval}\u0000${c.openTime}`, e);
      } else if (e.type === "alert") {
        part.alerts.push(e.alert);
      }
    }
    if (events.length > 0) part.dirty = true;
  };

  const commitPart = async (part: Part) => {
    const offsets = JSON.stringify({ ...options.checkpointMeta?.(), [part.partition]: part.next });
    const events = [...part.candles.values()];
    const candles = events.map((e) => e.candle);
    const alerts = part.alerts;
    const checkpoint = { key: part.key, bytes: part.engine.snapshot(offsets), offsets };
    await store.commit({ candles, alerts, checkpoint });
    const now = clock();
    part.candles = new Map();
    part.alerts = [];
    part.uncommitted = 0;
    part.dirty = false;
    part.committed = part.next;
    part.lastCommit = now;
    lastCommitAt = now;
    commits++;
    options.onCommit?.({ partition: part.partition, offset: part.next, candles: candles.length, alerts: alerts.length });
  };

  /** The open candles a partition's engine changed since the last pull, for the store and subscribers. */
  const pull = (part: Part) => {
    const updates = part.engine.pullUpdates();
    take(part, updates);
    live.queue(updates);
  };

  const ensure = (): Promise<void> => {
    started ??= (async () => {
      const wanted = options.partitions ?? (await log.partitions());
      const opened: Part[] = [];
      for (const p of wanted) opened.push(await open(p));
      parts.push(...opened);
      state = "running";
    })().catch((e) => {
      started = undefined;
      if (e instanceof AdapterError && e.retryable) throw e;
      return fatal(e);
    });
    return started;
  };

  const stepOnce = async (): Promise<number> => {
    let read = 0;
    moved = false;
    for (const part of parts) {
      const got = await log.read(part.partition, part.next, batch);
      if (got.records.length > 0) {
        const events = part.engine.ingestMany(got.records.map((r) => r.trade));
        take(part, events);
        live.queue(events);
        part.uncommitted += got.records.length;
        read += got.records.length;
      }
      if (got.next !== part.next) {
        part.dirty = true;
        moved = true;
      }
      part.next = got.next;
      part.high = await log.highWatermark(part.partition);
      const now = options.eventTime?.();
      if (now !== undefined) {
        const events = part.engine.advance(now);
        take(part, events);
        live.queue(events);
      }
      if (part.dirty && (part.uncommitted >= commitTrades || clock() - part.lastCommit >= commitMs)) {
        pull(part);
        await commitPart(part);
      }
    }
    trades += read;
    if (read === 0 || caughtUp() || live.due()) {
      for (const part of parts) pull(part);
      await live.flush();
    }
    const t = clock();
    samples.push([t, trades]);
    while (samples.length > 2 && t - samples[0]![0] > 10_000) samples.shift();
    return read;
  };

  const caughtUp = () => parts.every((p) => p.next >= p.high);
  // Stops a drain on a log whose watermark runs ahead of what it can serve, instead of spinning.
  const more = () => moved && !caughtUp();

  const commitAll = async () => {
    for (const part of parts) {
      pull(part);
      if (part.dirty) await commitPart(part);
    }
    await live.flush();
  };

  let waking: (() => void) | undefined;
  const sleep = (ms: number, signal?: AbortSignal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const timer = setTimeout(done, ms);
      waking = done;
      function done() {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        if (waking === done) waking = undefined;
        resolve();
      }
      signal?.addEventListener("abort", done, { once: true });
    });

  // After a fatal error the engines may be ahead of the store; only a fresh start is safe.
  const guarded = <T>(body: () => Promise<T>) =>
    serial(async () => {
      if (state === "failed") throw failure;
      await ensure();
      try {
        return await body();
      } catch (e) {
        if (e instanceof AdapterError && e.retryable) throw e;
        return fatal(e);
      }
    });

  const self: Pipeline = {
    start: () => serial(ensure),
    step: () => guarded(stepOnce),
    commit: () => guarded(commitAll),
    async drain() {
      await guarded(async () => {
        do await stepOnce();
        while (more());
        await commitAll();
      });
    },
    async finish() {
      await guarded(async () => {
        do await stepOnce();
        while (more());
        for (const part of parts) {
          const events = part.engine.flush();
          take(part, events);
          live.queue(events);
        }
        await commitAll();
        state = "done";
      });
    },
    async run(signal) {
      let backoff = idleMs;
      const retry = async (e: unknown, wait: AbortSignal | undefined) => {
        if (!(e instanceof AdapterError && e.retryable)) throw e;
        onError(e);
        await sleep(backoff, wait);
        backoff = Math.min(backoff * 2, 30_000);
      };
      while (!signal?.aborted) {
        try {
          const read = await self.step();
          backoff = idleMs;
          if (read === 0 && caughtUp()) await sleep(idleMs, signal);
        } catch (e) {
          await retry(e, signal);
        }
      }
      // The last commit still gets a few retries, even though the caller asked to stop.
      for (let attempt = 1; ; attempt++) {
        try {
          await self.commit();
          break;
        } catch (e) {
          if (attempt >= 5) throw e;
          await retry(e, undefined);
        }
      }
      if (state === "running") state = "stopped";
    },
    wake() {
      waking?.();
    },
    status() {
      const engine = { ...ZERO };
      for (const part of parts) {
        const s = part.engine.stats();
        for (const k of Object.keys(engine) as (keyof EngineStats)[]) engine[k] += s[k];
      }
      const partitions = parts.map((p) => ({
        partition: p.partition, offset: p.next, committed: p.committed, highWatermark: p.high, lag: Math.max(0, p.high - p.next),
      }));
      const first = samples[0];
      const last = samples.at(-1);
      const span = first && last ? last[0] - first[0] : 0;
      return {
        state, partitions, lag: partitions.reduce((sum, p) => sum + p.lag, 0),
        ...(lastCommitAt === undefined ? {} : { lastCommitAt }),
        commits, trades, tradesPerSecond: span > 0 ? ((last![1] - first![1]) * 1000) / span : 0,
        engine, cacheErrors: live.errors,
        ...(state === "failed" ? { error: failure instanceof Error ? failure.message : String(failure) } : {}),
      };
    },
  };
  return self;
}
