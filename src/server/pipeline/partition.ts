/**
 * One log partition in a processor: its engine, what it produced since the last commit,
 * and the commit that writes it all with the engine's snapshot in one store transaction.
 * A partition moves between processors whole: `openPartition` restores it from its
 * checkpoint; a commit is fenced on the checkpoint it continues, so a processor that lost
 * the partition cannot overwrite the new owner's state.
 */
import { Engine } from "../../lib/engine.ts";
import type { Alert, EngineEvent, EngineOptions } from "../../lib/types.ts";
import { AdapterError } from "../adapters/errors.ts";
import type { CandleStore, DeadLetter, PoisonRecord, TradeLog } from "../adapters/types.ts";
import { isCandleEvent, windowKey, type CandleEvent } from "./events.ts";
import { checkpointKey, decodeResume, encodeResume, type SourceResume } from "./resume.ts";

/** A partition being processed. */
export interface PartitionState {
  partition: number;
  /** Checkpoint key, `<group>:<partition>`. */
  key: string;
  engine: Engine;
  /** Next offset to read. */
  next: number;
  /** Offset the last commit resumes from. */
  committed: number;
  /** Offsets string of the stored checkpoint this state continues (`null`: none yet): the fence of the next commit. */
  fence: string | null;
  /** End of the partition when last looked at. */
  high: number;
  /** Latest event per window since the last commit, in first-touch order. */
  candles: Map<string, CandleEvent>;
  alerts: Alert[];
  /** Poison records and refused trades since the last commit, dead-lettered with it. */
  letters: DeadLetter[];
  /** Records read since the last commit. */
  uncommitted: number;
  /** Whether a commit would write anything (events, or offsets that moved). */
  dirty: boolean;
  /** Clock time of the last commit (or of opening). */
  lastCommit: number;
}

/** What opening and committing partitions needs. */
export interface PartitionContext {
  log: TradeLog;
  store: CandleStore;
  /** Checkpoint key prefix: one per processor group. */
  group: string;
  /** Engine options of a partition without a checkpoint. */
  engine?: EngineOptions;
  clock: () => number;
}

/** Opens `partition` where its checkpoint left it, or fresh at the log's low watermark. */
export async function openPartition(ctx: PartitionContext, partition: number): Promise<PartitionState> {
  const key = checkpointKey(ctx.group, partition);
  const cp = await ctx.store.loadCheckpoint(key);
  let engine: Engine;
  let next: number;
  if (cp) {
    engine = Engine.restore(cp.bytes);
    const resume = decodeResume(partition, cp.offsets);
    if (engine.offsets !== cp.offsets || resume === undefined) {
      throw new AdapterError(ctx.store.name, "CORRUPT", `checkpoint ${key}: offsets ${cp.offsets} do not match its snapshot (${engine.offsets})`);
    }
    next = resume.next;
  } else {
    // Open candles are rendered when they are published or committed, not on every read.
    engine = new Engine({ ...ctx.engine, updates: "pull" });
    next = await ctx.log.lowWatermark(partition);
  }
  return {
    partition, key, engine, next, committed: next, fence: cp?.offsets ?? null, high: await ctx.log.highWatermark(partition),
    candles: new Map(), alerts: [], letters: [], uncommitted: 0, dirty: false, lastCommit: ctx.clock(),
  };
}

/** Keeps what `events` bring for the next commit; refused trades become dead letters at their log offset (`offsetOf`). */
export function collect(part: PartitionState, events: readonly EngineEvent[], offsetOf?: (trade: unknown) => number | undefined): void {
  for (const e of events) {
    if (isCandleEvent(e)) part.candles.set(windowKey(e.candle), e);
    else if (e.type === "alert") part.alerts.push(e.alert);
    else if (e.type === "rejected") {
      const offset = offsetOf?.(e.trade) ?? part.next;
      part.letters.push({ partition: part.partition, offset, raw: JSON.stringify(e.trade) ?? String(e.trade), reason: `${e.reason}: ${e.detail}` });
    }
  }
  if (events.length > 0) part.dirty = true;
}

/** Records the log could not decode, to be dead-lettered with the next commit. */
export function collectPoison(part: PartitionState, poison: readonly PoisonRecord[]): void {
  for (const p of poison) part.letters.push({ partition: part.partition, offset: p.offset, raw: p.raw, reason: p.reason });
  if (poison.length > 0) part.dirty = true;
}

/** Whether the store already holds exactly `checkpoint`. */
async function committedAlready(store: CandleStore, checkpoint: { key: string; bytes: Uint8Array; offsets: string }): Promise<boolean> {
  const held = await store.loadCheckpoint(checkpoint.key);
  return held !== undefined && held.offsets === checkpoint.offsets && held.bytes.length === checkpoint.bytes.length && held.bytes.every((b, i) => b === checkpoint.bytes[i]);
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
  /** Inputs dead-lettered. */
  deadLetters: number;
}

/**
 * Writes the partition's candles, alerts and snapshot in one store transaction, fenced on
 * the checkpoint it continues. Dead letters and alerts go to the log first (at least once:
 * a failure there leaves the commit to be retried, and nothing is lost).
 */
export async function commitPartition(ctx: PartitionContext, part: PartitionState, source: SourceResume | undefined, now: number): Promise<CommitInfo> {
  const offsets = encodeResume(part.partition, part.next, source);
  const candles = [...part.candles.values()].map((e) => e.candle);
  const { alerts, letters } = part;
  if (letters.length > 0 && ctx.log.deadLetter) await ctx.log.deadLetter(letters);
  if (alerts.length > 0 && ctx.log.appendAlerts) await ctx.log.appendAlerts(alerts);
  const checkpoint = { key: part.key, bytes: part.engine.snapshot(offsets), offsets, previous: part.fence };
  try {
    await ctx.store.commit({ candles, alerts, checkpoint });
  } catch (e) {
    // A commit whose connection died while committing may have landed: then the stored
    // checkpoint is this very one, and the retry that lost the fence is our own success.
    if (!(e instanceof AdapterError && e.code === "CONFLICT") || !(await committedAlready(ctx.store, checkpoint))) throw e;
  }
  part.candles = new Map();
  part.alerts = [];
  part.letters = [];
  part.uncommitted = 0;
  part.dirty = false;
  part.committed = part.next;
  part.fence = offsets;
  part.lastCommit = now;
  return { partition: part.partition, offset: part.next, candles: candles.length, alerts: alerts.length, deadLetters: letters.length };
}
