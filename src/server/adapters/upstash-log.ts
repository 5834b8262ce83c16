/**
 * Redis Streams as the edge trade log, through Upstash's REST API.
 *
 * - One stream per partition, `<prefix>trades:<p>`; a symbol's partition is Kafka's (murmur2
 *   of the key, as the Java client computes it), so both logs agree on where a symbol lives.
 * - Offsets are stream ids: offset n is id `0-n`. Appends use `XADD … 0-*`, where Redis picks
 *   the next sequence number itself, atomically per entry: offsets come out contiguous,
 *   strictly increasing and safe integers with no counter key, script or transaction, and a
 *   read at offset n is `XRANGE <key> 0-n + COUNT max`. (Time-based ids, `<ms>-<seq>`, would
 *   give no high watermark before the append and no fixed record count for retention.)
 * - Retention: `XADD MAXLEN ~ <retention>` trims whole stream nodes cheaply; the log holds
 *   exactly the last `retention` offsets logically (older entries still present until their
 *   node goes are out of range), so every reader agrees on the low watermark.
 * - The partition count and retention are stored once (`<prefix>trades:meta`, HSETNX): every
 *   instance uses those of the first, as a Kafka topic keeps its own.
 * - Groups: `assigned()` is a lease per partition (`SET PX`) held by live members of the group
 *   (a sorted set scored by expiry), split by a Lua script on Redis's clock.
 */
import type { Alert } from "../../lib/types.ts";
import { AdapterError } from "./errors.ts";
import { run, session, type UpstashOptions } from "./upstash-client.ts";
import type { TradeBatch } from "../../lib/batch.ts";
import type { DeadLetter, LogBatch, LogBatchRows, LogRecord, PoisonRecord, TradeLog } from "./types.ts";
import { RAW_LIMIT, tradeInto, tradeRecord } from "./wire.ts";

/** Options of the Upstash log. */
export interface UpstashLogOptions extends UpstashOptions {
  /** Partitions (streams) when the log is new; default 3. An existing log keeps its own. */
  partitions?: number;
  /** Records kept per partition when the log is new; default 1 000 000. An existing log keeps its own. */
  retention?: number;
  /** Group to share partitions with: `assigned()` then answers this member's share. Without it, the reader owns every partition. */
  groupId?: string;
  /** A member silent this long loses its partitions to the others, ms; default 10 000. */
  sessionTimeoutMs?: number;
  /** This member's name in the group; default a random one. */
  memberId?: string;
}

/** A `TradeLog` on Upstash Redis Streams, with dead-letter and alerts streams beside it. */
export interface UpstashLog extends TradeLog {
  /** Appends alerts to `<prefix>alerts`: fields `symbol` and `alert` (its JSON). */
  appendAlerts(alerts: readonly Alert[]): Promise<void>;
  /** Appends refused inputs to `<prefix>trades:dlq`: fields `source` (`<partition>:<offset>`), `reason` and `raw`. */
  deadLetter(letters: readonly DeadLetter[]): Promise<void>;
}

/** Most bytes of commands per HTTP request; `append` splits larger calls, in order (Upstash caps request bodies). */
const SEND_BYTES = 512 * 1024;

/**
 * Balances a group's partitions: refreshes this member's expiry, drops expired members,
 * and gives partition p to the (p mod n)-th live member by name. A member renews the leases
 * of its share, takes those that are free, and releases those no longer its own; a share
 * still leased to another member is taken once that one releases it or its lease expires
 * (the XAUTOCLAIM rule: an entry idle past the timeout goes to whoever asks). On Redis's
 * clock, so members on different machines agree. KEYS[1] members, KEYS[2..] leases of
 * partitions 0..; ARGV member, lease ms, `join` | `leave`. Returns the partitions held.
 */
const LEASES = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local me, ttl = ARGV[1], tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if ARGV[3] == 'leave' then
  redis.call('ZREM', KEYS[1], me)
  for i = 2, #KEYS do
    if redis.call('GET', KEYS[i]) == me then redis.call('DEL', KEYS[i]) end
  end
  return {}
end
redis.call('ZADD', KEYS[1], now + ttl, me)
redis.call('PEXPIRE', KEYS[1], ttl * 2)
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
table.sort(members)
local index = 0
for i, m in ipairs(members) do
  if m == me then index = i - 1 end
end
local held = {}
for i = 2, #KEYS do
  local p = i - 2
  local holder = redis.call('GET', KEYS[i])
  if p % #members == index then
    if holder == me then
      redis.call('PEXPIRE', KEYS[i], ttl)
      held[#held + 1] = p
    elseif not holder then
      redis.call('SET', KEYS[i], me, 'PX', ttl)
      held[#held + 1] = p
    end
  elseif holder == me then
    redis.call('DEL', KEYS[i])
  end
end
return held
`;

/**
 * Kafka's murmur2 (the Java client's `Utils.murmur2`) of `bytes`, as a signed 32-bit integer.
 * The Java partitioner takes `hash & 0x7fffffff` modulo the partition count.
 */
export function murmur2(bytes: Uint8Array): number {
  const m = 0x5bd1e995;
  const length = bytes.length;
  let h = 0x9747b28c ^ length;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  const rest = length & 3;
  if (rest > 0) {
    if (rest === 3) h ^= bytes[whole + 2]! << 16;
    if (rest >= 2) h ^= bytes[whole + 1]! << 8;
    h ^= bytes[whole]!;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

const utf8 = new TextEncoder();

/** Partition of `symbol` among `count`, the one Kafka's Java client (and the Kafka log) picks. */
export function kafkaPartition(symbol: string, count: number): number {
  return (murmur2(utf8.encode(symbol)) & 0x7fffffff) % count;
}

/** The offset of stream id `0-n`; other ids were not written by this log. */
function offsetOf(id: unknown): number {
  const at = typeof id === "string" ? /^0-(\d+)$/.exec(id) : null;
  const n = at ? Number(at[1]) : NaN;
  if (!Number.isSafeInteger(n)) throw new AdapterError("upstash-log", "CORRUPT", `stream id ${String(id)} is not one of this log's (0-<offset>)`);
  return n;
}

/** One stream entry (`[id, [field, value, …]]`): its offset, and its trade field's text or why it has none. */
function fieldOf(entry: unknown): { offset: number; text: string } | PoisonRecord {
  const [id, fields] = entry as [string, string[]];
  const offset = offsetOf(id);
  const at = fields.indexOf("trade");
  if (at < 0 || at % 2 !== 0) return { offset, raw: JSON.stringify(fields).slice(0, RAW_LIMIT), reason: "no trade field" };
  return { offset, text: fields[at + 1]! };
}

/** One stream entry as a trade, or the reason it is none. */
function decode(entry: unknown): LogRecord | PoisonRecord {
  const field = fieldOf(entry);
  return "text" in field ? tradeRecord(field.offset, field.text) : field;
}

/**
 * The Upstash `TradeLog` (see the file's notes for the stream layout). Each call is one HTTP
 * request: `append` pipelines one XADD per trade (split only past 512 KB), `read` pipelines
 * its XRANGE with the two one-entry ranges that give the watermarks, `deadLetter` and
 * `appendAlerts` one XADD each in one pipeline. The processor owns its offsets, so the
 * streams carry no consumer-group cursors for trades: a group's pending-entries list would
 * be a second offset store to keep acknowledged, beside the checkpoint that already is one.
 *
 * @example
 * const log = upstashLog({ url, token, groupId: "candleflow" })
 * await log.append(trades)
 * for (const p of await log.assigned!()) await log.read(p, from, 1000)
 */
export function upstashLog(options: UpstashLogOptions): UpstashLog {
  const name = "upstash-log";
  const prefix = options.prefix ?? "candleflow:";
  const wanted = { partitions: options.partitions ?? 3, retention: options.retention ?? 1_000_000 };
  for (const [k, v] of Object.entries(wanted)) {
    if (!Number.isSafeInteger(v) || v < 1) throw new AdapterError(name, "INVALID_ARGUMENT", `${k} must be a positive integer`);
  }
  const sessionMs = options.sessionTimeoutMs ?? 10_000;
  const member = options.memberId ?? crypto.randomUUID();
  const stream = (p: number) => `${prefix}trades:${p}`;
  const dlq = `${prefix}trades:dlq`;
  const alertsKey = `${prefix}alerts`;
  const { redis, call, ...link } = session(name, "log", options);
  let closed = false;
  let meta: Promise<{ partitions: number; retention: number }> | undefined;
  // First use: store this instance's settings unless the log has some, and use what is stored.
  const settings = () => {
    meta ??= call("reading the log's settings", async (r) => {
      const key = `${prefix}trades:meta`;
      const got = await r.pipeline()
        .hsetnx(key, "partitions", String(wanted.partitions))
        .hsetnx(key, "retention", String(wanted.retention))
        .hmget(key, "partitions", "retention")
        .exec();
      // Raw replies: HMGET answers a flat array of values.
      const [partitions, retention] = (got[2] as unknown as string[]).map(Number);
      if (!Number.isSafeInteger(partitions) || !Number.isSafeInteger(retention)) throw new AdapterError(name, "CORRUPT", `${key} holds no partition count and retention`);
      return { partitions: partitions!, retention: retention! };
    }).catch((e) => {
      meta = undefined;
      throw e;
    });
    return meta;
  };
  const partition = async (p: number) => {
    const { partitions, retention } = await settings();
    if (!Number.isInteger(p) || p < 0 || p >= partitions) throw new AdapterError(name, "INVALID_ARGUMENT", `no partition ${p}`);
    return retention;
  };
  // The watermarks from the first and last entries (`XRANGE - + COUNT 1`, `XREVRANGE + - COUNT 1`).
  const marks = (first: unknown, last: unknown, retention: number) => {
    const f = (first as unknown[])[0] as [string] | undefined;
    const l = (last as unknown[])[0] as [string] | undefined;
    const high = l ? offsetOf(l[0]) + 1 : 1;
    return { high, low: Math.max(f ? offsetOf(f[0]) : high, high - retention) };
  };
  const watermarks = async (p: number) => {
    const retention = await partition(p);
    const [first, last] = await call(`watermarks of partition ${p}`, (r) => r.pipeline().xrange(stream(p), "-", "+", 1).xrevrange(stream(p), "+", "-", 1).exec());
    return marks(first, last, retention);
  };
  // Sends XADDs in requests of at most SEND_BYTES, in order.
  const send = async (what: string, adds: { key: string; id: string; fields: Record<string, string>; trim: number }[]) => {
    for (let at = 0; at < adds.length;) {
      const p = redis().pipeline();
      let bytes = 0;
      for (; at < adds.length && (bytes === 0 || bytes < SEND_BYTES); at++) {
        const a = adds[at]!;
        p.xadd(a.key, a.id, a.fields, { trim: { type: "MAXLEN", comparison: "~", threshold: a.trim } });
        for (const v of Object.values(a.fields)) bytes += v.length + 16;
        bytes += a.key.length + 48;
      }
      await call(what, () => p.exec());
    }
  };

  /** Up to `max` stream entries of partition `p` from offset `from` (checked against what the stream holds). */
  const entries = async (p: number, from: number, max: number): Promise<unknown[]> => {
    const retention = await partition(p);
    if (!Number.isSafeInteger(from) || from < 0) throw new AdapterError(name, "OFFSET_OUT_OF_RANGE", `partition ${p} has no offset ${from}`);
    const count = Math.max(1, Math.floor(max));
    const [range, first, last] = await call(`read of partition ${p}`, (r) =>
      r.pipeline().xrange(stream(p), `0-${from}`, "+", count).xrange(stream(p), "-", "+", 1).xrevrange(stream(p), "+", "-", 1).exec());
    const { low, high } = marks(first, last, retention);
    if (from < low || from > high) {
      throw new AdapterError(name, "OFFSET_OUT_OF_RANGE", `partition ${p} holds offsets ${low}..${high}, asked for ${from}${from < low ? " (dropped by retention: the reader fell behind)" : ""}`);
    }
    return max >= 1 ? (range as unknown as unknown[]) : [];
  };

  const log: UpstashLog = {
    name,
    async partitions() {
      const { partitions } = await settings();
      return Array.from({ length: partitions }, (_, i) => i);
    },
    async append(trades) {
      redis();
      if (trades.length === 0) return;
      const { partitions, retention } = await settings();
      await send("append", trades.map((t) => ({ key: stream(kafkaPartition(t.symbol, partitions)), id: "0-*", fields: { trade: JSON.stringify(t) }, trim: retention })));
    },
    async read(p, from, max): Promise<LogBatch> {
      const records: LogRecord[] = [];
      const poison: PoisonRecord[] = [];
      let next = from;
      for (const entry of await entries(p, from, max)) {
        const item = decode(entry);
        if ("trade" in item) records.push(item);
        else poison.push(item);
        next = item.offset + 1;
      }
      return poison.length > 0 ? { records, next, poison } : { records, next };
    },
    /** `read` into a batch: each trade field scanned in place, one row each. */
    async readInto(p, from, max, batch: TradeBatch): Promise<LogBatchRows> {
      const offsets: number[] = [];
      const poison: PoisonRecord[] = [];
      let next = from;
      for (const entry of await entries(p, from, max)) {
        const field = fieldOf(entry);
        const bad = "text" in field ? tradeInto(field.offset, field.text, batch) : field;
        if (bad === undefined) offsets.push(field.offset);
        else poison.push(bad);
        next = field.offset + 1;
      }
      return poison.length > 0 ? { offsets, next, poison } : { offsets, next };
    },
    highWatermark: async (p) => (await watermarks(p)).high,
    lowWatermark: async (p) => (await watermarks(p)).low,
    async deadLetter(letters) {
      redis();
      if (letters.length === 0) return;
      const { retention } = await settings();
      await send("deadLetter", letters.map((l) => ({ key: dlq, id: "*", fields: { source: `${l.partition}:${l.offset}`, reason: l.reason, raw: l.raw }, trim: retention })));
    },
    async appendAlerts(alerts) {
      redis();
      if (alerts.length === 0) return;
      const { retention } = await settings();
      await send("appendAlerts", alerts.map((a) => ({ key: alertsKey, id: "*", fields: { symbol: a.symbol, alert: JSON.stringify(a) }, trim: retention })));
    },
    health: link.health,
    async close() {
      if (closed) return;
      closed = true;
      // Leaving hands this member's partitions to the others at once, not after the timeout.
      if (options.groupId !== undefined && link.used()) await leases("leave").catch(() => {});
      link.close();
    },
  };

  const groupKey = `${prefix}trades:group:${options.groupId}`;
  const leases = async (mode: "join" | "leave"): Promise<number[]> => {
    const { partitions } = await settings();
    const keys = [groupKey, ...Array.from({ length: partitions }, (_, p) => `${groupKey}:lease:${p}`)];
    const held = await call(`${mode} group ${options.groupId}`, (r) => run(r, LEASES, keys, [member, String(sessionMs), mode]));
    return (held as number[]).map(Number).sort((a, b) => a - b);
  };

  if (options.groupId !== undefined) {
    // The processor asks on every step; the leases are renewed a few times per timeout, not per step.
    const every = Math.max(50, Math.floor(sessionMs / 3));
    let owned: number[] = [];
    let renewed = -Infinity;
    let renewing: Promise<number[]> | undefined;
    log.assigned = async () => {
      redis();
      if (Date.now() - renewed < every) return owned;
      renewing ??= leases("join").then(
        (held) => {
          owned = held;
          renewed = Date.now();
          return held;
        },
        (e) => {
          // Past the timeout without a renewal the leases are gone: claim nothing until one succeeds.
          if (Date.now() - renewed >= sessionMs) owned = [];
          throw e;
        },
      ).finally(() => (renewing = undefined));
      return renewing;
    };
  }
  return log;
}
