/**
 * The processor: log → engine → store (+ cache), one engine per log partition, with an
 * exactly-once effect on the store. This file is the loop; a partition's own state and
 * its commit live in `partition.ts`, where a checkpoint resumes in `resume.ts`.
 */
import type { EngineEvent, EngineStats } from "../../lib/types.ts";
import { AdapterError } from "../adapters/errors.ts";
import { TradeBatch } from "../../lib/batch.ts";
import { collect, collectPoison, commitPartition, openPartition, type PartitionContext, type PartitionState } from "./partition.ts";
import { publisher } from "./publisher.ts";
import { sleeper } from "./sleeper.ts";
import type { Pipeline, PipelineOptions, PipelineStatus } from "./types.ts";

export { channels } from "./publisher.ts";
export type { CommitInfo } from "./partition.ts";
export type { PartitionStatus, Pipeline, PipelineOptions, PipelineStatus } from "./types.ts";

/** Median and 99th percentile of `xs` (NaN when empty). */
function quantiles(xs: Float64Array): { p50: number; p99: number } {
  const sorted = Float64Array.from(xs).sort();
  const at = (q: number) => (sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!);
  return { p50: at(0.5), p99: at(0.99) };
}

const ZERO: EngineStats = { trades: 0, rejected: 0, duplicates: 0, late: 0, revisions: 0, finals: 0, alerts: 0, gapsEvicted: 0 };

/**
 * Builds a processor over the ports. Exactly-once effect: each commit writes the candles
 * and alerts produced since the last one together with `engine.snapshot(offsets)` in one
 * store transaction, so after a crash `start` restores an engine and offsets that match
 * the store exactly, and re-reading the log reproduces what was lost. Pub/sub and the
 * latest cache are updated after the commit: at least once, possibly repeated after a crash.
 *
 * On a log shared by a consumer group (`TradeLog.assigned`), the processor follows the
 * assignment: a partition it gains is restored from its checkpoint, one it loses is
 * committed if it still can be and dropped. Commits are fenced (see `StoredCheckpoint.previous`),
 * so two processors that both think they own a partition never interleave its state.
 *
 * @example
 * const p = pipeline({ log: fileLog({ path, decode: decodeBinanceWs }), store: sqliteStore({ path: "candles.sqlite" }) })
 * await p.start()
 * await p.finish()
 */
export function pipeline(options: PipelineOptions): Pipeline {
  const { log, store, cache } = options;
  const batch = options.batch ?? 1000;
  const commitTrades = options.commitTrades ?? 5000;
  const commitMs = options.commitMs ?? 250;
  const clock = options.clock ?? Date.now;
  const idleMs = options.idleMs ?? 50;
  const onError = options.onError ?? (() => {});
  const ctx: PartitionContext = { log, store, group: options.name ?? "candleflow", engine: options.engine, clock };
  const live = publisher(cache, { clock, everyMs: options.publishMs ?? 20, onError });
  const idle = sleeper();
  let parts: PartitionState[] = [];
  const samples: [number, number][] = [];
  let state: PipelineStatus["state"] = "new";
  let started: Promise<void> | undefined;
  let queue: Promise<unknown> = Promise.resolve();
  let trades = 0;
  let commits = 0;
  let deadLetters = 0;
  /** Wall time of the last 256 commits, ms (a ring). */
  const durations = new Float64Array(256);
  let fenced = 0;
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

  const feed = (part: PartitionState, events: EngineEvent[], offsetOf?: (trade: unknown) => number | undefined) => {
    collect(part, events, offsetOf);
    live.queue(events);
  };

  /** The open candles a partition's engine changed since the last pull, for the store and subscribers. */
  const pull = (part: PartitionState) => feed(part, part.engine.pullUpdates());

  const commit = async (part: PartitionState) => {
    pull(part);
    try {
      const began = performance.now();
      const info = await commitPartition(ctx, part, options.checkpointMeta?.(), clock());
      durations[commits % durations.length] = performance.now() - began;
      lastCommitAt = part.lastCommit;
      commits++;
      deadLetters += info.deadLetters;
      options.onCommit?.(info);
    } catch (e) {
      if (!(e instanceof AdapterError && e.code === "CONFLICT" && log.assigned)) throw e;
      // Another member of the group committed this partition after us: its state is the
      // newer one. Drop ours, and reopen from its checkpoint if the partition is still ours.
      parts = parts.filter((p) => p !== part);
      fenced++;
      moved = true;
      onError(e);
      await follow();
    }
  };

  const owned = async () => options.partitions ?? (log.assigned ? await log.assigned() : await log.partitions());

  /** Opens partitions newly owned and drops those no longer owned, committing them first when it still can. */
  const follow = async () => {
    const wanted = new Set(await owned());
    for (const part of parts.filter((p) => !wanted.has(p.partition))) {
      if (part.dirty || part.candles.size > 0) await commit(part).catch(onError);
      parts = parts.filter((p) => p !== part);
    }
    const have = new Set(parts.map((p) => p.partition));
    for (const p of [...wanted].sort((a, b) => a - b)) if (!have.has(p)) parts.push(await openPartition(ctx, p));
    parts.sort((a, b) => a.partition - b.partition);
  };

  const ensure = (): Promise<void> => {
    started ??= (async () => {
      await follow();
      state = "running";
    })().catch((e) => {
      started = undefined;
      if (e instanceof AdapterError && e.retryable) throw e;
      return fatal(e);
    });
    return started;
  };

  // Logs that hold text decode it straight into this batch (the processor runs one step at a time).
  const rows = new TradeBatch(batch);

  /** One read of `part` through trade objects, fed to its engine; how many trades it fed. */
  const readRecords = async (part: PartitionState) => {
    const got = await log.read(part.partition, part.next, batch);
    const { records } = got;
    if (records.length > 0) feed(part, part.engine.ingestMany(records.map((r) => r.trade)), (t) => records.find((r) => r.trade === t)?.offset);
    return { next: got.next, poison: got.poison, fed: records.length };
  };

  /** One read of `part` decoded straight into `rows`, fed to its engine. */
  const readRows = async (part: PartitionState) => {
    rows.clear();
    const got = await log.readInto!(part.partition, part.next, batch, rows);
    if (rows.length > 0) {
      const { offsets } = got;
      const offsetOf = (t: unknown) => {
        const r = rows.rejected.find((x) => x.trade === t);
        return r === undefined ? undefined : offsets[r.row];
      };
      feed(part, part.engine.ingestBatch(rows), offsetOf);
    }
    return { next: got.next, poison: got.poison, fed: rows.length };
  };

  const stepOnce = async (): Promise<number> => {
    if (log.assigned && !options.partitions) await follow();
    let read = 0;
    moved = false;
    for (const part of [...parts]) {
      const got = log.readInto ? await readRows(part) : await readRecords(part);
      part.uncommitted += got.fed;
      read += got.fed;
      if (got.poison) collectPoison(part, got.poison);
      if (got.next !== part.next) {
        part.dirty = true;
        moved = true;
      }
      part.next = got.next;
      part.high = await log.highWatermark(part.partition);
      const now = options.eventTime?.();
      if (now !== undefined) feed(part, part.engine.advance(now));
      if (part.dirty && (part.uncommitted >= commitTrades || clock() - part.lastCommit >= commitMs)) await commit(part);
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
    for (const part of [...parts]) {
      pull(part);
      if (part.dirty) await commit(part);
    }
    await live.flush();
  };

  // After a fatal error the engines may be ahead of the store; only a fresh start is safe.
  const guarded = <T>(body: () => Promise<T>) =>
    serial(async () => {
      if (state === "failed") throw failure;
      await ensure();
      try {
        return await body();
      } catch (e) {
        if (e instanceof AdapterError && e.retryable) throw e;
        if (e instanceof AdapterError && e.code === "CONFLICT") {
          return fatal(new AdapterError(e.adapter, "CONFLICT", `${e.message.replace(/^[^:]*: /, "")}; is a second processor running on the same store without a shared log?`, { cause: e }));
        }
        return fatal(e);
      }
    });

  const drainSteps = async () => {
    do await stepOnce();
    while (more());
  };

  const self: Pipeline = {
    start: () => serial(ensure),
    step: () => guarded(stepOnce),
    commit: () => guarded(commitAll),
    drain: () => guarded(async () => {
      await drainSteps();
      await commitAll();
    }),
    finish: () => guarded(async () => {
      // A partition fenced while finishing comes back at another member's checkpoint: finish it again.
      for (let round = 0, before = -1; before !== fenced; round++) {
        if (round === 5) throw new AdapterError("pipeline", "CONFLICT", "partitions keep moving between processors while finishing");
        before = fenced;
        await drainSteps();
        for (const part of parts) feed(part, part.engine.flush());
        await commitAll();
      }
      state = "done";
    }),
    async run(signal) {
      let backoff = idleMs;
      const retry = async (e: unknown, wait: AbortSignal | undefined) => {
        if (!(e instanceof AdapterError && e.retryable)) throw e;
        onError(e);
        await idle.sleep(backoff, wait);
        backoff = Math.min(backoff * 2, 30_000);
      };
      while (!signal?.aborted) {
        try {
          const read = await self.step();
          backoff = idleMs;
          if (read === 0 && caughtUp()) await idle.sleep(idleMs, signal);
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
    wake: idle.wake,
    symbols: () => [...new Set(parts.flatMap((p) => Object.keys(p.engine.positions())))].sort(),
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
        commits, commitMs: quantiles(durations.subarray(0, Math.min(commits, durations.length))), trades, tradesPerSecond: span > 0 ? ((last![1] - first![1]) * 1000) / span : 0,
        engine, cacheErrors: live.errors, published: { ...live.published }, deadLetters, fenced,
        ...(state === "failed" ? { error: failure instanceof Error ? failure.message : String(failure) } : {}),
      };
    },
  };
  return self;
}
