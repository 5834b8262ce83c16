/**
 * What a processor is given and what it tells: its options, its status, and its methods.
 * The loop itself is `processor.ts`.
 */
import type { EngineOptions, EngineStats } from "../../lib/types.ts";
import type { Cache, CandleStore, TradeLog } from "../adapters/types.ts";
import type { CommitInfo } from "./partition.ts";
import type { SourceResume } from "./resume.ts";

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
  /** Checkpoint key prefix, one per processor group; keys are `<name>:<partition>`. Default `candleflow`. */
  name?: string;
  /** Partitions to process; default the log's assignment (`assigned`), else all of its partitions. */
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
   * offsets (e.g. where a replayed recording sits in time); read it back with `decodeResume`.
   */
  checkpointMeta?: () => SourceResume;
  /** Called after each commit. */
  onCommit?: (commit: CommitInfo) => void;
  /** Called with errors the pipeline survives: cache failures and retried adapter errors. */
  onError?: (error: unknown) => void;
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
  /** Median and 99th percentile wall time of the last 256 commits (dead letters, alerts and the store transaction), ms. */
  commitMs: { p50: number; p99: number };
  /** Records read since start. */
  trades: number;
  /** Records read per second over the last ten seconds. */
  tradesPerSecond: number;
  /** Engine counters summed over partitions (they survive restarts). */
  engine: EngineStats;
  /** Cache writes or publishes that failed (the store commit had succeeded). */
  cacheErrors: number;
  /** Candle events published through the cache, by kind. */
  published: { update: number; final: number; revision: number };
  /** Inputs sent to the dead letters: undecodable records and trades the engine refused. */
  deadLetters: number;
  /** Partitions dropped because another processor committed them first (a rebalance raced this one). */
  fenced: number;
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
  /** Symbols of the trades the engines accepted, sorted (never raw input that failed validation). */
  symbols(): string[];
}
