/**
 * The server's ports: one small interface per dependency. Every adapter (memory, file,
 * SQLite, and later Kafka, Redis, Postgres) implements one of these and passes the
 * matching suite in `conformance.ts`. All calls are async so network adapters fit.
 */
import type { TradeBatch } from "../../lib/batch.ts";
import type { Alert, Candle, Trade } from "../../lib/types.ts";

/** What `health()` answers; `ok: false` makes dependent routes answer 503. */
export interface Health {
  /** Adapter name, e.g. `sqlite`. */
  adapter: string;
  /** True when the adapter can serve calls now. */
  ok: boolean;
  /** One line for people when something is wrong (or worth saying). */
  detail?: string;
}

/** One trade at its place in a log partition. */
export interface LogRecord {
  /** Position in the partition; strictly increasing, not necessarily contiguous. */
  offset: number;
  /** The trade as appended (or decoded from the recording). */
  trade: Trade;
}

/** A log record that could not be decoded into a trade; skipped, counted and dead-lettered, never a stall. */
export interface PoisonRecord {
  /** Position in the partition. */
  offset: number;
  /** The record's bytes as text (cut to a few KB). */
  raw: string;
  /** Why it was refused, for people. */
  reason: string;
}

/** What one `readInto` returns; the trades themselves are in the batch it was given. */
export interface LogBatchRows {
  /** The log offset of each batch row it added, in row order. */
  offsets: number[];
  /** The offset to read from next (past skipped positions too). */
  next: number;
  /** Records in this range that were not trades; `next` is past them. */
  poison?: PoisonRecord[];
}

/** What one `read` returns. */
export interface LogBatch {
  /** Records in offset order; empty when the reader is caught up. */
  records: LogRecord[];
  /** The offset to read from next (past skipped positions too). */
  next: number;
  /** Records in this range that were not trades (logs fed by other producers); `next` is past them. */
  poison?: PoisonRecord[];
}

/** A refused input, with where it came from and why: what a dead-letter topic receives. */
export interface DeadLetter {
  /** Log partition it was read from. */
  partition: number;
  /** Its offset there. */
  offset: number;
  /** The input as text: the raw record, or the trade the engine refused as JSON. */
  raw: string;
  /** Why it was refused. */
  reason: string;
}

/** Append-only log of trades, split into partitions keyed by symbol. */
export interface TradeLog {
  /** Adapter name, e.g. `memory-log`. */
  readonly name: string;
  /** Partition numbers this log holds (embedded logs: `[0]`). */
  partitions(): Promise<number[]>;
  /**
   * Partitions this reader owns now, for logs shared by a consumer group (Kafka): the answer
   * changes on rebalance, and a processor opens and drops partitions to follow it. Logs
   * without groups leave it out: a reader owns every partition.
   */
  assigned?(): Promise<number[]>;
  /** Keeps refused inputs apart with their reason (Kafka: a dead-letter topic). At least once. */
  deadLetter?(letters: readonly DeadLetter[]): Promise<void>;
  /** Publishes alerts beside the trades (Kafka: an alerts topic) for other consumers. At least once: consumers dedupe by `Alert.id`. */
  appendAlerts?(alerts: readonly Alert[]): Promise<void>;
  /** Appends trades in order; each symbol always lands in the same partition. Throws `READ_ONLY` on recorded logs. */
  append(trades: readonly Trade[]): Promise<void>;
  /** Up to `max` records at offsets ≥ `from`. Throws `OFFSET_OUT_OF_RANGE` when `from` fell out of retention. */
  read(partition: number, from: number, max: number): Promise<LogBatch>;
  /**
   * `read`, with the trades decoded straight into `batch` (appended, one row per trade,
   * valid or rejected) instead of into trade objects: for logs that hold text, which can be
   * scanned in place. Optional; a processor uses it when there.
   */
  readInto?(partition: number, from: number, max: number, batch: TradeBatch): Promise<LogBatchRows>;
  /** Offset the next appended record of `partition` will get (= end of the partition). */
  highWatermark(partition: number): Promise<number>;
  /** Oldest offset of `partition` still held (retention drops older ones). */
  lowWatermark(partition: number): Promise<number>;
  /** Whether the log can serve reads now. */
  health(): Promise<Health>;
  /** Releases connections or files; later calls throw `CLOSED`. */
  close(): Promise<void>;
}

/** Latest-candle cache plus pub/sub fan-out to API instances. Not durable. */
export interface Cache {
  /** Adapter name, e.g. `memory-cache`. */
  readonly name: string;
  /** Keeps each candle as its (symbol, interval)'s latest unless an equal or newer one is held (see `supersedes`). */
  setLatest(candles: readonly Candle[]): Promise<void>;
  /** The newest candle held for (symbol, interval). */
  latest(symbol: string, interval: string): Promise<Candle | undefined>;
  /** Sends `message` to every current subscriber of `channel`; at most once, no replay. */
  publish(channel: string, message: string): Promise<void>;
  /** Calls `handler` for each later message on `channel`; resolves to an unsubscribe function. */
  subscribe(channel: string, handler: (message: string) => void): Promise<() => Promise<void>>;
  /** Whether the cache can serve calls now. */
  health(): Promise<Health>;
  /** Drops subscriptions and connections; later calls throw `CLOSED`. */
  close(): Promise<void>;
}

/** An engine checkpoint and the log offsets it has consumed. */
export interface StoredCheckpoint {
  /** One key per processor and partition, e.g. `candleflow:0`. */
  key: string;
  /** `Engine.snapshot(offsets)` bytes. */
  bytes: Uint8Array;
  /** Opaque offsets string of the driver (the same string the snapshot carries). */
  offsets: string;
  /**
   * Fencing for shared partitions: when set, the commit succeeds only if the stored
   * checkpoint under `key` still has these offsets (`null`: none stored yet); otherwise it
   * fails with `CONFLICT` and writes nothing, because another processor took the partition
   * over. Never stored, never returned by `loadCheckpoint`.
   */
  previous?: string | null;
}

/** Everything one commit writes, all or nothing. */
export interface CommitBatch {
  /** Upserted on (symbol, interval, openTime), guarded as `supersedes` says; applied in order. */
  candles: readonly Candle[];
  /** Inserted once per `id`; an id already stored is left as is. */
  alerts: readonly Alert[];
  /** Replaces the checkpoint under its key. */
  checkpoint?: StoredCheckpoint;
}

/** Query of `candles`: `from ≤ openTime < to`, ascending, at most `limit` rows. */
export interface CandleQuery {
  /** Smallest openTime, inclusive (ms). */
  from?: number;
  /** openTime bound, exclusive (ms). */
  to?: number;
  /** Rows per page; default 500, at most 5000. */
  limit?: number;
  /** The `cursor` of the previous page. */
  cursor?: string;
}

/** One page of candles; `cursor` is set when more rows may follow. */
export interface CandlePage {
  /** Candles by ascending openTime. */
  candles: Candle[];
  /** Pass as `CandleQuery.cursor` for the next page; absent on the last page. */
  cursor?: string;
}

/** Query of `alerts`: `ts ≥ since`, ascending by (ts, id), at most `limit` (default 100, at most 5000). */
export interface AlertQuery {
  /** Only this symbol's alerts. */
  symbol?: string;
  /** Smallest alert `ts`, inclusive (ms). */
  since?: number;
  /** Most alerts returned. */
  limit?: number;
}

/** Durable candle, alert and checkpoint store. */
export interface CandleStore {
  /** Adapter name, e.g. `sqlite`. */
  readonly name: string;
  /** Writes candles, alerts and the checkpoint in one transaction: after a crash, all of it or none. */
  commit(batch: CommitBatch): Promise<void>;
  /** A page of a (symbol, interval)'s candles by ascending openTime. */
  candles(symbol: string, interval: string, query?: CandleQuery): Promise<CandlePage>;
  /** The candle of a (symbol, interval) with the largest openTime. */
  latest(symbol: string, interval: string): Promise<Candle | undefined>;
  /** Symbols with at least one candle, sorted. */
  symbols(): Promise<string[]>;
  /** Alerts, oldest first. */
  alerts(query?: AlertQuery): Promise<Alert[]>;
  /** The checkpoint last committed under `key`. */
  loadCheckpoint(key: string): Promise<StoredCheckpoint | undefined>;
  /** Whether the store can serve calls now. */
  health(): Promise<Health>;
  /** Closes connections or files; later calls throw `CLOSED`. */
  close(): Promise<void>;
}
