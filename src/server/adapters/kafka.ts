import { Admin, compatibilityPartitioner, Consumer, findErrorBy, Producer, stringSerializers, type MessageToProduce } from "@platformatic/kafka";
import type { Alert, Trade } from "../../lib/types.ts";
import { AdapterError } from "./errors.ts";
import { reader } from "./kafka-read.ts";
import type { DeadLetter, Health, TradeLog } from "./types.ts";

/** Options of the Kafka log. */
export interface KafkaLogOptions {
  /** Bootstrap brokers: `host:port`, a comma-separated list or an array. */
  brokers: string | readonly string[];
  /** Topic of the trades; default `candleflow.trades`. */
  topic?: string;
  /** Topic `appendAlerts` writes to; default `candleflow.alerts`. */
  alertsTopic?: string;
  /** Topic `deadLetter` writes to; default `<topic>.dlq`. */
  deadLetterTopic?: string;
  /** Partitions of each topic this log creates when it is missing; default 3. Existing topics keep theirs. */
  partitions?: number;
  /** Consumer group to join: `assigned()` then answers this member's share. Without it, the reader owns every partition. */
  groupId?: string;
  /** Group session timeout, ms: a member silent this long loses its partitions. Default 10 000 (the broker bounds it, by default from 6 000). */
  sessionTimeoutMs?: number;
  /** Client id the broker sees in its logs and quotas; default `candleflow`. */
  clientId?: string;
  /**
   * Longest wait of a read at the end of a partition, ms; default 0. A processor reads its
   * partitions one after another, so a read that waits at the end of one partition holds up
   * the others: it answers at once, and the processor paces its own idle loop.
   */
  maxWaitMs?: number;
  /** Most bytes one fetch brings per partition; default 1 MiB. */
  fetchBytes?: number;
}

/** A `TradeLog` on Kafka, with the alerts topic beside it. */
export interface KafkaLog extends TradeLog {
  /** Appends alerts to the alerts topic, keyed by symbol, one JSON alert per message. */
  appendAlerts(alerts: readonly Alert[]): Promise<void>;
}

/**
 * Most bytes of values per produce request; `append` splits larger calls, in order. The
 * broker refuses a record batch over `message.max.bytes` (1 MiB by default), and one
 * request may carry a whole batch for a single partition.
 */
const SEND_BYTES = 512 * 1024;

/**
 * A client error's message and, when it wraps others, the message of the last one: the
 * client reports "metadata failed 4 times." and keeps why (a refused connection, a
 * partition without a leader) in the errors it wraps.
 */
function errorDetail(e: unknown): string {
  const top = e instanceof Error ? e.message : String(e);
  let inner: unknown = e;
  for (let depth = 0; depth < 8; depth++) {
    const next: unknown = inner instanceof AggregateError && inner.errors.length > 0 ? inner.errors.at(-1) : (inner as Error | undefined)?.cause;
    if (next === undefined || next === null) break;
    inner = next;
  }
  const last = inner instanceof Error ? inner.message : String(inner);
  return inner === e || last === top ? top : `${top} (${last})`;
}

/**
 * The Kafka `TradeLog`. One JSON trade per message, key = symbol, partitioned by Kafka's own
 * murmur2 key hash (the Java client's), so every producer of the topic agrees on a symbol's
 * partition. Produces with acks=all and idempotence. Reads are raw fetches at the offset
 * the caller asks for: the processor owns its offsets (it checkpoints them with its
 * state), so committed group offsets play no part. Records that are not trades come back
 * as `poison`, past which `next` moves. Dead letters go to `deadLetterTopic`: key
 * `<partition>:<offset>`, value the raw text unchanged, headers `reason` and `source`
 * (`<topic>:<partition>:<offset>`). Nothing connects until the first call.
 *
 * @example
 * const log = kafkaLog({ brokers: "127.0.0.1:9092", groupId: "candleflow" })
 * await log.append(trades)
 * for (const p of await log.assigned!()) await log.read(p, from, 1000)
 */
export function kafkaLog(options: KafkaLogOptions): KafkaLog {
  const name = "kafka";
  const topic = options.topic ?? "candleflow.trades";
  const alertsTopic = options.alertsTopic ?? "candleflow.alerts";
  const deadLetterTopic = options.deadLetterTopic ?? `${topic}.dlq`;
  const count = options.partitions ?? 3;
  const sessionTimeout = options.sessionTimeoutMs ?? 10_000;
  if (!Number.isSafeInteger(count) || count < 1) throw new AdapterError(name, "INVALID_ARGUMENT", "partitions must be a positive integer");
  const base = {
    clientId: options.clientId ?? "candleflow",
    bootstrapBrokers: (typeof options.brokers === "string" ? options.brokers.split(",") : [...options.brokers]).map((b) => b.trim()),
    // Few, short retries: a broker that is down surfaces as UNAVAILABLE within about a second.
    retries: 3, retryDelay: 250, connectTimeout: 2000, timeout: 5000,
  };
  let closed = false;
  let admin: Admin | undefined;
  let producer: Producer<string, string, string, string> | undefined;
  let consumer: Consumer | undefined;
  let joining: Promise<unknown> | undefined;
  let lost = false;
  const made = new Map<string, Promise<void>>();

  const open = () => {
    if (closed) throw new AdapterError(name, "CLOSED", "log is closed");
  };
  const fail = (cause: unknown, what: string): AdapterError => {
    if (cause instanceof AdapterError) return cause;
    const e = cause as Error;
    const detail = `${what} failed: ${errorDetail(e)}`;
    if (closed) return new AdapterError(name, "CLOSED", "log is closed", { cause });
    if (findErrorBy(e, "code", "PLT_KFK_TIMEOUT")) return new AdapterError(name, "TIMEOUT", detail, { cause });
    if (findErrorBy(e, "code", "PLT_KFK_USER")) return new AdapterError(name, "INVALID_ARGUMENT", detail, { cause });
    return new AdapterError(name, "UNAVAILABLE", detail, { cause });
  };
  const adminClient = () => (admin ??= new Admin(base));

  // Creates `name` when it is missing; remembered once it exists, forgotten on failure so a
  // later call tries again.
  const ensure = (t: string): Promise<void> => {
    let ready = made.get(t);
    if (!ready) {
      ready = (async () => {
        const a = adminClient();
        if (!(await a.listTopics()).includes(t)) await a.createTopics({ topics: [t], partitions: count, replicas: 1 }).catch((e) => (findErrorBy(e, "apiId", "TOPIC_ALREADY_EXISTS") ? undefined : Promise.reject(e)));
      })().catch((cause) => {
        made.delete(t);
        throw fail(cause, `creating topic ${t}`);
      });
      made.set(t, ready);
    }
    return ready;
  };

  const consumerClient = async (): Promise<Consumer> => {
    open();
    await ensure(topic);
    if (!consumer) {
      // A reader without a group never joins one; the id is only what the client requires.
      consumer = new Consumer({ ...base, groupId: options.groupId ?? `${base.clientId}.reader`, autocommit: false });
      consumer.topics.track(topic);
      // A rejoin that fails for good (broker away longer than the retries) ends the
      // membership; the next assigned() joins again.
      consumer.on("error", () => void (lost = true));
      consumer.on("consumer:heartbeat:stalled", () => void (lost = true));
    }
    return consumer;
  };

  const reads = reader({ name, topic, consumer: consumerClient, maxWaitMs: options.maxWaitMs ?? 0, fetchBytes: options.fetchBytes ?? 1 << 20, fail });

  const send = async (t: string, messages: MessageToProduce<string, string, string, string>[]) => {
    open();
    await ensure(t);
    producer ??= new Producer({ ...base, serializers: stringSerializers, idempotent: true, acks: -1, partitioner: compatibilityPartitioner });
    try {
      for (let at = 0; at < messages.length;) {
        let end = at;
        for (let bytes = 0; end < messages.length && (end === at || bytes < SEND_BYTES); end++) bytes += messages[end]!.value!.length + 64;
        await producer.send({ messages: messages.slice(at, end) });
        at = end;
      }
    } catch (cause) {
      // After a failed send the producer's idempotence sequence numbers may be ahead of the
      // broker's; a fresh producer (new producer id) starts clean on the next call.
      const dead = producer;
      producer = undefined;
      await dead?.close(true).catch(() => {});
      throw fail(cause, `produce to ${t}`);
    }
  };

  const partitionCheck = async (p: number) => {
    if (!Number.isInteger(p) || p < 0 || p >= (await partitions()).length) throw new AdapterError(name, "INVALID_ARGUMENT", `no partition ${p}`);
  };
  let partitionList: number[] | undefined;
  const partitions = async (): Promise<number[]> => {
    open();
    if (partitionList) return partitionList;
    const c = await consumerClient();
    try {
      const meta = await c.metadata({ topics: [topic] });
      return (partitionList = Array.from({ length: meta.topics.get(topic)!.partitionsCount }, (_, i) => i));
    } catch (cause) {
      throw fail(cause, `metadata of ${topic}`);
    }
  };

  /** A read of partition `p`: a failure drops the buffered fetches, whose session may be gone. */
  const reading = async <T>(p: number, run: () => Promise<T>): Promise<T> => {
    open();
    await partitionCheck(p);
    try {
      return await run();
    } catch (e) {
      reads.forget(true);
      throw fail(e, `read of partition ${p}`);
    }
  };

  const log: KafkaLog = {
    name,
    partitions,
    async append(trades: readonly Trade[]) {
      await send(topic, trades.map((t) => ({ topic, key: t.symbol, value: JSON.stringify(t) })));
      reads.forget();
    },
    read: (p, from, max) => reading(p, () => reads.read(p, from, max)),
    readInto: (p, from, max, batch) => reading(p, () => reads.readInto(p, from, max, batch)),
    async highWatermark(p) {
      open();
      await partitionCheck(p);
      return reads.highWatermark(p);
    },
    async lowWatermark(p) {
      open();
      await partitionCheck(p);
      return reads.lowWatermark(p);
    },
    async deadLetter(letters: readonly DeadLetter[]) {
      await send(deadLetterTopic, letters.map((l) => ({
        topic: deadLetterTopic, key: `${l.partition}:${l.offset}`, value: l.raw,
        headers: { reason: l.reason, source: `${topic}:${l.partition}:${l.offset}` },
      })));
    },
    async appendAlerts(alerts: readonly Alert[]) {
      await send(alertsTopic, alerts.map((a) => ({ topic: alertsTopic, key: a.symbol, value: JSON.stringify(a) })));
    },
    async health(): Promise<Health> {
      if (closed) return { adapter: name, ok: false, detail: "closed" };
      try {
        await adminClient().metadata({ topics: [], forceUpdate: true });
        return { adapter: name, ok: true };
      } catch (e) {
        return { adapter: name, ok: false, detail: fail(e, "metadata").message };
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await reads.idle();
      // Closing the consumer leaves the group, so the others take its partitions at once.
      await Promise.allSettled([consumer?.close(true), producer?.close(true), admin?.close()]);
    },
  };
  if (options.groupId !== undefined) {
    log.assigned = async () => {
      const c = await consumerClient();
      if (!c.memberId || lost) {
        lost = false;
        // The first join waits for the group to settle, so the answer is this member's real share.
        joining ??= c.joinGroup({ sessionTimeout, rebalanceTimeout: sessionTimeout, heartbeatInterval: Math.max(100, Math.floor(sessionTimeout / 5)) })
          .finally(() => (joining = undefined));
        await joining.catch((cause) => {
          lost = true;
          throw fail(cause, `joining group ${options.groupId}`);
        });
      }
      open();
      return (c.assignments ?? []).filter((a) => a.topic === topic).flatMap((a) => a.partitions).sort((a, b) => a - b);
    };
  }
  return log;
}
