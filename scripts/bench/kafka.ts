/**
 * `bun run scripts/bench/kafka.ts [--messages N] [--brokers HOST:PORT]`: produces and
 * consumes N trade messages (JSON, keyed by symbol, 3 partitions) through a real broker
 * (scripts/kafka/start.sh) with each Kafka client, on this runtime, and prints msgs/s.
 *
 * Clients: @platformatic/kafka (the project's client; measured through its stream consumer
 * and through the raw fetch the log adapter uses) and kafkajs, measured only when present
 * (`bun add --no-save kafkajs@2.2.4`), as the long-time default it would replace.
 * Produce is acks=all with idempotence, in sends of 10 000 messages, as the log adapter does.
 */
import { parseArgs } from "node:util";
import { Admin, compatibilityPartitioner, Consumer, Producer, stringSerializers } from "@platformatic/kafka";

const { values } = parseArgs({
  options: {
    messages: { type: "string", default: "1000000" },
    brokers: { type: "string", default: process.env.KAFKA_BROKERS ?? "127.0.0.1:9092" },
  },
});
const N = Number(values.messages);
const brokers = values.brokers!.split(",");
const BATCH = 10_000;
const SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "BNBUSDT", "DOGEUSDT", "ADAUSDT", "TRXUSDT", "LINKUSDT", "AVAXUSDT"];

/** Trade number `i` as the log stores it: one JSON object, ~150 bytes. */
function message(i: number): { key: string; value: string } {
  const symbol = SYMBOLS[i % SYMBOLS.length]!;
  const trade = {
    symbol, id: 3_735_683_259 + i, price: `${61_000 + (i % 997)}.${String(i % 100_000_000).padStart(8, "0")}`,
    qty: `0.${String((i * 7919) % 100_000_000).padStart(8, "0")}`, ts: 1_723_161_255_342 + i, side: i % 2 ? "buy" : "sell", count: 1 + (i % 3),
  };
  return { key: symbol, value: JSON.stringify(trade) };
}

const rate = (n: number, ms: number) => `${Math.round((n / ms) * 1000).toLocaleString("en-US")} msgs/s`;
const results: { client: string; step: string; messages: number; ms: number }[] = [];
function report(client: string, step: string, messages: number, ms: number): void {
  results.push({ client, step, messages, ms });
  console.log(`${client.padEnd(34)} ${step.padEnd(8)} ${String(messages).padStart(8)} in ${(ms / 1000).toFixed(2).padStart(6)} s  ${rate(messages, ms)}`);
}

async function withTopic(run: (topic: string) => Promise<void>): Promise<void> {
  const admin = new Admin({ clientId: "bench-admin", bootstrapBrokers: brokers });
  const topic = `bench.${Date.now()}.${Math.random().toString(36).slice(2, 8)}`;
  await admin.createTopics({ topics: [topic], partitions: 3, replicas: 1 });
  try {
    await run(topic);
  } finally {
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    await admin.close();
  }
}

async function platformatic(topic: string): Promise<void> {
  const producer = new Producer({
    clientId: "bench", bootstrapBrokers: brokers, serializers: stringSerializers, idempotent: true, partitioner: compatibilityPartitioner,
  });
  let start = performance.now();
  for (let at = 0; at < N; at += BATCH) {
    const messages = [];
    for (let i = at; i < Math.min(N, at + BATCH); i++) messages.push({ topic, ...message(i) });
    await producer.send({ messages });
  }
  report("@platformatic/kafka", "produce", N, performance.now() - start);
  await producer.close();

  // The stream consumer: the client's idiomatic way to read a topic.
  const consumer = new Consumer({ clientId: "bench", groupId: `bench-${topic}`, bootstrapBrokers: brokers, maxWaitTime: 100 });
  start = performance.now();
  const stream = await consumer.consume({ topics: [topic], mode: "earliest", autocommit: false, maxBytes: 8 << 20 });
  let seen = 0;
  for await (const m of stream) {
    if (m.value.length > 0) seen++;
    if (seen === N) break;
  }
  report("@platformatic/kafka (stream)", "consume", seen, performance.now() - start);
  await stream.close();

  // Raw fetch, partition by partition: what the log adapter does.
  const meta = await consumer.metadata({ topics: [topic] });
  const info = meta.topics.get(topic)!;
  start = performance.now();
  seen = 0;
  for (let p = 0; p < info.partitionsCount; p++) {
    const high = (await consumer.listOffsets({ topics: [topic], partitions: { [topic]: [p] } })).get(topic)![p]!;
    for (let offset = 0n; offset < high;) {
      const response = await consumer.fetch({
        node: info.partitions[p]!.leader, maxWaitTime: 100, minBytes: 1, maxBytes: 8 << 20,
        topics: [{ topicId: info.id, partitions: [{ partition: p, fetchOffset: offset, partitionMaxBytes: 8 << 20, currentLeaderEpoch: -1, lastFetchedEpoch: -1 }] }],
      });
      for (const batch of response.responses[0]?.partitions[0]?.records ?? []) {
        for (const record of batch.records) {
          if (batch.firstOffset + BigInt(record.offsetDelta) < offset) continue;
          JSON.parse(record.value!.toString());
          seen++;
        }
        offset = batch.firstOffset + BigInt(batch.lastOffsetDelta) + 1n;
      }
    }
  }
  report("@platformatic/kafka (fetch+parse)", "consume", seen, performance.now() - start);
  await consumer.close(true);
}

/** The part of kafkajs this benchmark uses: typed here, since kafkajs is not a dependency (it is measured only when present). */
interface KafkaJs {
  Kafka: new (config: { clientId: string; brokers: string[]; logLevel: number }) => {
    producer(config: { idempotent: boolean; maxInFlightRequests: number }): {
      connect(): Promise<void>;
      send(record: { topic: string; acks: number; messages: { key: string; value: string }[] }): Promise<unknown>;
      disconnect(): Promise<void>;
    };
    consumer(config: { groupId: string; maxWaitTimeInMs: number; maxBytes: number }): {
      connect(): Promise<void>;
      subscribe(subscription: { topic: string; fromBeginning: boolean }): Promise<void>;
      run(config: { autoCommit: boolean; eachBatch: (payload: { batch: { messages: { value: Buffer | null }[] } }) => Promise<void> }): Promise<void>;
      disconnect(): Promise<void>;
    };
  };
  logLevel: { NOTHING: number };
}

async function kafkajs(topic: string): Promise<void> {
  let module: KafkaJs;
  try {
    // A name in a variable: the type checker does not look for a package that need not be installed.
    const name = "kafkajs";
    module = (await import(name)) as KafkaJs;
  } catch {
    console.log("kafkajs                            skipped: not installed (bun add --no-save kafkajs@2.2.4)");
    return;
  }
  const kafka = new module.Kafka({ clientId: "bench", brokers, logLevel: module.logLevel.NOTHING });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  let start = performance.now();
  for (let at = 0; at < N; at += BATCH) {
    const messages = [];
    for (let i = at; i < Math.min(N, at + BATCH); i++) messages.push(message(i));
    await producer.send({ topic, acks: -1, messages });
  }
  report("kafkajs", "produce", N, performance.now() - start);
  await producer.disconnect();

  const consumer = kafka.consumer({ groupId: `bench-${topic}`, maxWaitTimeInMs: 100, maxBytes: 8 << 20 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  start = performance.now();
  let seen = 0;
  await new Promise<void>((resolve) => {
    void consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) if (m.value && m.value.length > 0) seen++;
        if (seen >= N) resolve();
      },
    });
  });
  report("kafkajs (eachBatch)", "consume", seen, performance.now() - start);
  await consumer.disconnect();
}

const sample = message(12_345).value;
console.log(`${N} messages of ~${sample.length} bytes, ${SYMBOLS.length} symbols, 3 partitions, ${brokers.join(",")}, ${navigator.userAgent}`);
await withTopic(platformatic);
await withTopic(kafkajs);
console.log(JSON.stringify(results));
process.exit(0);
