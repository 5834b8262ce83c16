/**
 * Reads of the Kafka log: raw fetches at the offset the processor asks for, decoded into
 * trades and poison records, with a per-partition buffer so that a read resumed at `next`
 * is served from what the last fetch (or a prefetch) already brought.
 */
import { findErrorBy, IS_CONTROL, type Consumer } from "@platformatic/kafka";
import { AdapterError } from "./errors.ts";
import type { TradeBatch } from "../../lib/batch.ts";
import type { LogBatch, LogBatchRows, LogRecord, PoisonRecord } from "./types.ts";
import { tradeInto, tradeRecord } from "./wire.ts";

/** How long a watermark learnt from a fetch or a list-offsets call is trusted. */
const FRESH_MS = 1000;
/** The fetch response (the package exports its type under a versioned namespace only). */
type FetchResponse = Awaited<ReturnType<Consumer["fetch"]>>;

/** A record with no value: poison, whatever its key. */
function tombstone(offset: number): PoisonRecord {
  return { offset, raw: "", reason: "no value (a tombstone)" };
}

/** One record as the log holds it: a trade, or the reason it is none. */
export function decode(offset: number, value: Buffer | null): LogRecord | PoisonRecord {
  return value === null ? tombstone(offset) : tradeRecord(offset, value.toString("utf8"));
}

/** What the reader needs from the adapter around it. */
export interface ReaderContext {
  /** Adapter name, for errors. */
  name: string;
  /** Topic of the trades. */
  topic: string;
  /** The consumer client that fetches (created lazily by the adapter). */
  consumer: () => Promise<Consumer>;
  /** Longest wait of a fetch at the end of a partition, ms. */
  maxWaitMs: number;
  /** Most bytes one fetch brings per partition. */
  fetchBytes: number;
  /** Maps client failures to adapter errors. */
  fail: (cause: unknown, what: string) => AdapterError;
}

/** A record as fetched, decoded only when read (into a trade object or into a batch). */
interface Fetched {
  offset: number;
  value: Buffer | null;
}

interface Buffered {
  /** Offset the next read continues from. */
  at: number;
  items: Fetched[];
  index: number;
  /** Offset to fetch from once `items` are used up (past control records too). */
  end: number;
}

/** The reads of one adapter: `read`, the watermarks, and a hook to forget cached watermarks after appends. */
export function reader(ctx: ReaderContext) {
  const buffers = new Map<number, Buffered>();
  const marks = new Map<number, { high: number; low: number; at: number }>();
  const prefetches = new Map<number, { from: number; done: Promise<Buffered> }>();
  // One fetch at a time: the client keeps one incremental fetch session per broker (KIP-227),
  // and concurrent fetches through it fight over the session epoch.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(run: () => Promise<T>): Promise<T> => {
    const next = queue.then(run, run);
    queue = next.catch(() => {});
    return next;
  };

  const fetchAt = (partition: number, from: number) => serial(async (): Promise<Buffered> => {
    const consumer = await ctx.consumer();
    let response: FetchResponse;
    try {
      const meta = (await consumer.metadata({ topics: [ctx.topic] })).topics.get(ctx.topic)!;
      response = await consumer.fetch({
        node: meta.partitions[partition]!.leader, maxWaitTime: ctx.maxWaitMs, minBytes: 1, maxBytes: ctx.fetchBytes, isolationLevel: 0,
        topics: [{ topicId: meta.id, partitions: [{ partition, fetchOffset: BigInt(from), partitionMaxBytes: ctx.fetchBytes, currentLeaderEpoch: -1, lastFetchedEpoch: -1 }] }],
      });
    } catch (cause) {
      if (findErrorBy(cause as Error, "apiId", "OFFSET_OUT_OF_RANGE")) {
        marks.delete(partition);
        const held = await watermarks(partition).then((m) => ` (it holds ${m.low}..${m.high})`, () => "");
        throw new AdapterError(ctx.name, "OFFSET_OUT_OF_RANGE", `partition ${partition} has no offset ${from}${held}`, { cause });
      }
      throw ctx.fail(cause, `fetch of partition ${partition} at ${from}`);
    }
    const part = response.responses.flatMap((t) => t.partitions).find((p) => p.partitionIndex === partition);
    const items: Fetched[] = [];
    let end = from;
    if (part) {
      marks.set(partition, { high: Number(part.highWatermark), low: Number(part.logStartOffset), at: Date.now() });
      for (const batch of part.records ?? []) {
        end = Math.max(end, Number(batch.firstOffset) + batch.lastOffsetDelta + 1);
        if (batch.attributes & IS_CONTROL) continue;
        for (const record of batch.records) {
          const offset = Number(batch.firstOffset) + record.offsetDelta;
          if (offset >= from) items.push({ offset, value: record.value });
        }
      }
    }
    return { at: from, items, index: 0, end };
  });

  const watermarks = async (partition: number) => {
    const known = marks.get(partition);
    if (known && Date.now() - known.at < FRESH_MS) return known;
    const consumer = await ctx.consumer();
    const ask = (timestamp: bigint) => consumer.listOffsets({ topics: [ctx.topic], partitions: { [ctx.topic]: [partition] }, timestamp, isolationLevel: 0 });
    try {
      // -1: the end of the partition, -2: its first offset still held.
      const [high, low] = await Promise.all([ask(-1n), ask(-2n)]);
      const mark = { high: Number(high.get(ctx.topic)![partition]), low: Number(low.get(ctx.topic)![partition]), at: Date.now() };
      marks.set(partition, mark);
      return mark;
    } catch (cause) {
      throw ctx.fail(cause, `list offsets of partition ${partition}`);
    }
  };

  const buffered = async (partition: number, from: number): Promise<Buffered> => {
    const held = buffers.get(partition);
    if (held && held.at === from) return held;
    const ahead = prefetches.get(partition);
    prefetches.delete(partition);
    if (ahead && ahead.from === from) {
      const got = await ahead.done.catch(() => undefined);
      if (got) return got;
    }
    return fetchAt(partition, from);
  };

  /** Hands up to `max` records at offsets ≥ `from` to `each`, in order; returns where to read next. */
  const take = async (partition: number, from: number, max: number, each: (item: Fetched) => void): Promise<number> => {
    if (!Number.isSafeInteger(from) || from < 0) throw new AdapterError(ctx.name, "OFFSET_OUT_OF_RANGE", `partition ${partition} has no offset ${from}`);
    const buf = await buffered(partition, from);
    let next = from;
    for (let n = 0; buf.index < buf.items.length && n < max; n++) {
      const item = buf.items[buf.index++]!;
      each(item);
      next = item.offset + 1;
    }
    if (buf.index >= buf.items.length) {
      next = buf.end;
      buffers.delete(partition);
      // Bring the next range while the caller processes this one; only when more is known
      // to be there, since a fetch at the end waits up to maxWaitMs.
      const high = marks.get(partition)?.high ?? 0;
      if (next < high) {
        const done = fetchAt(partition, next);
        done.catch(() => {});
        prefetches.set(partition, { from: next, done });
      }
    } else {
      buf.at = next;
      buffers.set(partition, buf);
    }
    return next;
  };

  return {
    async read(partition: number, from: number, max: number): Promise<LogBatch> {
      const records: LogRecord[] = [];
      const poison: PoisonRecord[] = [];
      const next = await take(partition, from, max, (item) => {
        const got = decode(item.offset, item.value);
        if ("trade" in got) records.push(got);
        else poison.push(got);
      });
      return poison.length > 0 ? { records, next, poison } : { records, next };
    },
    /** `read` into a batch: trade records scanned in place, one row each. */
    async readInto(partition: number, from: number, max: number, batch: TradeBatch): Promise<LogBatchRows> {
      const offsets: number[] = [];
      const poison: PoisonRecord[] = [];
      const next = await take(partition, from, max, (item) => {
        const bad = item.value === null ? tombstone(item.offset) : tradeInto(item.offset, item.value.toString("utf8"), batch);
        if (bad === undefined) offsets.push(item.offset);
        else poison.push(bad);
      });
      return poison.length > 0 ? { offsets, next, poison } : { offsets, next };
    },
    highWatermark: async (partition: number) => (await watermarks(partition)).high,
    lowWatermark: async (partition: number) => (await watermarks(partition)).low,
    /** Forgets cached watermarks (after this adapter appended) and buffers (after a failure). */
    forget(all = false) {
      marks.clear();
      if (all) {
        buffers.clear();
        prefetches.clear();
      }
    },
    /** Resolves once no fetch is running. */
    idle: () => serial(async () => {}),
  };
}
