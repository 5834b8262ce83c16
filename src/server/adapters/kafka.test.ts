import { afterAll, describe, expect, test } from "bun:test";
import { Admin, Consumer, Producer, stringSerializers } from "@platformatic/kafka";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { TradeBatch } from "../../lib/batch.ts";
import { Engine } from "../../lib/engine.ts";
import { available, CI, servers } from "../testing/servers.ts";
import { describeLog, trades } from "./conformance.ts";
import { AdapterError } from "./errors.ts";
import { kafkaLog, type KafkaLog, type KafkaLogOptions } from "./kafka.ts";
import type { PoisonRecord, TradeLog } from "./types.ts";

const up = await available("kafka", servers.kafka, 9092);
const brokers = servers.kafka;
const admin = () => new Admin({ clientId: "candleflow-test", bootstrapBrokers: brokers.split(",") });
const root = join(import.meta.dir, "..", "..", "..");
// The restart test stops and starts the broker of scripts/kafka, so it needs that broker (not
// one run elsewhere), and it disturbs every other client of it: it runs under CI, and
// elsewhere only when KAFKA_RESTART_TEST=1.
const ours = existsSync(join(root, ".kafka", "kafka.pid")) && brokers === "127.0.0.1:9092";
const restart = ours && (CI || process.env.KAFKA_RESTART_TEST === "1");
if (up && !restart) console.warn("[skip] kafka broker restart test: needs the broker of scripts/kafka and CI or KAFKA_RESTART_TEST=1");
const unique = () => `candleflow.test.${Date.now().toString(36)}.${Math.random().toString(36).slice(2, 8)}`;

/** Deletes the topics a test made (the trades topic and whatever the adapter put beside it). */
async function drop(...topics: string[]): Promise<void> {
  const a = admin();
  try {
    const existing = new Set(await a.listTopics());
    const gone = topics.filter((t) => existing.has(t));
    if (gone.length > 0) await a.deleteTopics({ topics: gone });
  } finally {
    await a.close();
  }
}

/** A log on a fresh topic; `dispose` closes it and drops its topics. */
function fresh(over: Partial<KafkaLogOptions> = {}): { log: KafkaLog; topic: string; dispose: () => Promise<void> } {
  const topic = unique();
  const log = kafkaLog({ brokers, topic, alertsTopic: `${topic}.alerts`, ...over });
  return { log, topic, dispose: async () => { await log.close(); await drop(topic, `${topic}.dlq`, `${topic}.alerts`); } };
}

/** Reads a partition from `from` to its end. */
async function drain(log: TradeLog, p: number, from: number, max = 1000) {
  const batches = [];
  for (let at = from, i = 0; i < 1000; i++) {
    const batch = await log.read(p, at, max);
    batches.push(batch);
    if (batch.next === at) break;
    at = batch.next;
  }
  return { records: batches.flatMap((b) => b.records), poison: batches.flatMap((b) => b.poison ?? []), next: batches.at(-1)!.next };
}

async function waitFor<T>(what: string, ms: number, probe: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last answer ${JSON.stringify(v)}`);
    await Bun.sleep(200);
  }
}

if (up) {
  describeLog("kafka", async ({ trades: seed }) => {
    const f = fresh();
    await f.log.append(seed);
    return { adapter: f.log, dispose: f.dispose };
  }, { writable: true, retention: false, readInto: true });
}

describe.skipIf(!up)("kafka log", () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const done of cleanup.splice(0)) await done().catch(() => {});
  });
  const make = (over: Partial<KafkaLogOptions> = {}) => {
    const f = fresh(over);
    cleanup.push(f.dispose);
    return f;
  };

  test("importing and creating the log connects nothing; a broker that is down is UNAVAILABLE", async () => {
    const log = kafkaLog({ brokers: "127.0.0.1:1", topic: unique() });
    expect((await log.health()).ok).toBe(false);
    const e = await log.read(0, 0, 1).catch((x) => x);
    expect(e).toBeInstanceOf(AdapterError);
    expect([e.code, e.retryable]).toEqual(["UNAVAILABLE", true]);
    // The client's own message says only that it failed; the error it wraps says why.
    expect(e.message).toContain("ECONNREFUSED 127.0.0.1:1");
    await log.close();
    expect((await log.append(trades(1)).catch((x) => x)).code).toBe("CLOSED");
  }, 20_000);

  test("records that are not trades come back as poison, in place; reads go on past them", async () => {
    const { log, topic } = make({ partitions: 1 });
    await log.append(trades(2));
    const raw = new Producer({ clientId: "candleflow-test", bootstrapBrokers: brokers.split(","), serializers: stringSerializers });
    const junk = ["not json", '{"symbol":"BTCUSDT","id":"7","price":"1","qty":"1","ts":1,"side":"buy"}', "[1,2]", "x".repeat(10_000)];
    await raw.send({ messages: junk.map((value) => ({ topic, key: "BTCUSDT", value, partition: 0 })) });
    await raw.close();
    await log.append(trades(3).map((t) => ({ ...t, id: t.id + 50 })));
    const all = await drain(log, 0, 0, 2);
    expect(all.records.map((r) => [r.offset, r.trade.id])).toEqual([[0, 1000], [1, 1001], [6, 1050], [7, 1051], [8, 1052]]);
    expect(all.poison.map((p) => [p.offset, p.reason])).toEqual([[2, "not JSON"], [3, "id must be a number"], [4, "not a JSON object"], [5, "not JSON"]]);
    expect(all.poison[3]!.raw.length).toBe(4096);
    expect(all.next).toBe(9);
    expect(await log.highWatermark(0)).toBe(9);
  }, 30_000);

  test("readInto decodes the same records into a batch: the same trades, offsets and poison as read", async () => {
    const { log, topic } = make({ partitions: 1 });
    await log.append([...trades(3), { ...trades(1)[0]!, id: 1100, qty: "0" }, { ...trades(1)[0]!, id: 1101, count: 4 }]);
    const raw = new Producer({ clientId: "candleflow-test", bootstrapBrokers: brokers.split(","), serializers: stringSerializers });
    await raw.send({ messages: ["not json", '{"id":9,"symbol":"ETHUSDT","side":"buy","ts":1723161255342,"qty":"2","price":"2612.45"}'].map((value) => ({ topic, key: "BTCUSDT", value, partition: 0 })) });
    await raw.close();
    const read = await drain(log, 0, 0, 3);
    const batch = new TradeBatch();
    const offsets: number[] = [];
    const poison: PoisonRecord[] = [];
    for (let at = 0; ;) {
      const got = await log.readInto!(0, at, 3, batch);
      offsets.push(...got.offsets);
      poison.push(...(got.poison ?? []));
      if (got.next === at) break;
      at = got.next;
    }
    expect(offsets).toEqual(read.records.map((r) => r.offset));
    expect(poison).toEqual(read.poison);
    expect(batch.rejected.map((r) => [offsets[r.row], r.reason])).toEqual([[3, "qty"]]);
    const objects = TradeBatch.from(read.records.map((r) => r.trade));
    expect(new Engine().ingestBatch(batch)).toEqual(new Engine().ingestBatch(objects));
  }, 30_000);

  test("dead letters land in the dead-letter topic with key, raw value and reason", async () => {
    const { log, topic } = make();
    await log.deadLetter!([{ partition: 2, offset: 17, raw: "not json", reason: "not JSON" }, { partition: 0, offset: 3, raw: '{"a":1}', reason: "price must be > 0" }]);
    await log.appendAlerts([{ id: "whale:BTCUSDT:1", rule: "whale", symbol: "BTCUSDT", ts: 1, value: 2, threshold: 1, message: "m" }]);
    const consumer = new Consumer({ clientId: "candleflow-test", groupId: unique(), bootstrapBrokers: brokers.split(","), maxWaitTime: 200 });
    try {
      const read = async (t: string, n: number) => {
        const stream = await consumer.consume({ topics: [t], mode: "earliest", autocommit: false });
        const got: { key: string; value: string; headers: Record<string, string> }[] = [];
        for await (const m of stream) {
          got.push({ key: m.key.toString(), value: m.value.toString(), headers: Object.fromEntries([...m.headers].map(([k, v]) => [k.toString(), v.toString()])) });
          if (got.length === n) break;
        }
        await stream.close();
        return got.sort((a, b) => a.key.localeCompare(b.key));
      };
      expect(await read(`${topic}.dlq`, 2)).toEqual([
        { key: "0:3", value: '{"a":1}', headers: { reason: "price must be > 0", source: `${topic}:0:3` } },
        { key: "2:17", value: "not json", headers: { reason: "not JSON", source: `${topic}:2:17` } },
      ]);
      const [alert] = await read(`${topic}.alerts`, 1);
      expect([alert!.key, JSON.parse(alert!.value).id]).toEqual(["BTCUSDT", "whale:BTCUSDT:1"]);
    } finally {
      await consumer.close(true);
    }
  }, 30_000);

  test("a symbol's partition is the one Kafka's Java client picks (murmur2 of the key)", async () => {
    const { log } = make({ partitions: 3 });
    // Partitions the Java DefaultPartitioner gives these keys among 3 (Utils.toPositive(murmur2(key)) % 3).
    // Negative hashes (BTCUSDT, BNBUSDT, LTCUSDT, DOTUSDT) are where an unsigned reading of the hash would differ.
    const symbols = Object.keys(JAVA_PARTITIONS);
    await log.append(symbols.map((symbol, i) => ({ ...trades(1)[0]!, symbol, id: i })));
    const home: Record<string, number> = {};
    for (const p of await log.partitions()) for (const r of (await drain(log, p, 0)).records) home[r.trade.symbol] = p;
    expect(Object.keys(home).sort()).toEqual([...symbols].sort());
    expect(home).toEqual(JAVA_PARTITIONS);
  }, 30_000);

  test("a read at the end is empty and quick; a large append is read back whole and in order", async () => {
    const { log } = make({ partitions: 1 });
    let start = performance.now();
    expect(await log.read(0, 0, 10)).toEqual({ records: [], next: 0 });
    expect(performance.now() - start).toBeLessThan(1000);
    const many = trades(20_000, ["BTCUSDT"]);
    await log.append(many);
    start = performance.now();
    const all = await drain(log, 0, 0, 500);
    expect(all.records.map((r) => r.trade)).toEqual(many);
    expect(all.records.every((r, i) => r.offset === i)).toBe(true);
    expect(await log.highWatermark(0)).toBe(20_000);
    expect(await log.lowWatermark(0)).toBe(0);
    const e = await log.read(0, 20_001, 1).catch((x) => x);
    expect([e.code, e.retryable]).toEqual(["OFFSET_OUT_OF_RANGE", false]);
  }, 30_000);

  test("two members of a group split the partitions; the one left gets all when the other closes", async () => {
    const { log: a, topic } = make({ partitions: 4 });
    const groupId = `${topic}.group`;
    const first = kafkaLog({ brokers, topic, groupId, sessionTimeoutMs: 6000 });
    const second = kafkaLog({ brokers, topic, groupId, sessionTimeoutMs: 6000 });
    await a.partitions();
    try {
      expect(await first.assigned!()).toEqual([0, 1, 2, 3]);
      const joined = second.assigned!();
      const [one, two] = await Promise.all([
        waitFor("first to give up partitions", 20_000, () => first.assigned!(), (ps) => ps.length === 2),
        joined.then((ps) => waitFor("second to get its share", 20_000, () => second.assigned!(), (x) => x.length === 2).then(() => second.assigned!())),
      ]);
      expect([...one, ...two].sort()).toEqual([0, 1, 2, 3]);
      await second.close();
      expect(await waitFor("first to get all back", 20_000, () => first.assigned!(), (ps) => ps.length === 4)).toEqual([0, 1, 2, 3]);
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  }, 60_000);

  test("a member killed with SIGKILL loses its partitions to the survivor after the session timeout", async () => {
    const { log, topic } = make({ partitions: 2 });
    await log.partitions();
    const groupId = `${topic}.group`;
    const survivor = kafkaLog({ brokers, topic, groupId, sessionTimeoutMs: 6000 });
    const script = `
      import { kafkaLog } from ${JSON.stringify(join(import.meta.dir, "kafka.ts"))};
      const log = kafkaLog({ brokers: ${JSON.stringify(brokers)}, topic: ${JSON.stringify(topic)}, groupId: ${JSON.stringify(groupId)}, sessionTimeoutMs: 6000 });
      for (;;) { console.log(JSON.stringify(await log.assigned())); await Bun.sleep(200); }`;
    try {
      expect(await survivor.assigned!()).toEqual([0, 1]);
      const child = Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "inherit" });
      try {
        await waitFor("the two members to split", 30_000, () => survivor.assigned!(), (ps) => ps.length === 1);
      } finally {
        child.kill("SIGKILL");
        await child.exited;
      }
      const killedAt = Date.now();
      expect(await waitFor("the survivor to take over", 30_000, () => survivor.assigned!(), (ps) => ps.length === 2)).toEqual([0, 1]);
      expect(Date.now() - killedAt).toBeGreaterThan(3000);
    } finally {
      await survivor.close();
    }
  }, 90_000);
});

describe.skipIf(!up || !restart)("kafka log across a broker restart", () => {
  const script = (name: string) => {
    const run = Bun.spawnSync(["bash", join(root, "scripts", "kafka", name)], { stdout: "pipe", stderr: "pipe" });
    if (run.exitCode !== 0) throw new Error(`${name}: ${run.stderr.toString()}`);
  };
  /** Retries a call while the broker warms up (UNAVAILABLE), for at most `ms`. */
  const settle = async <T>(ms: number, call: () => Promise<T>): Promise<T> => {
    const deadline = Date.now() + ms;
    for (;;) {
      try {
        return await call();
      } catch (e) {
        if (!(e instanceof AdapterError) || e.code !== "UNAVAILABLE" || Date.now() > deadline) throw e;
        await Bun.sleep(250);
      }
    }
  };

  test("producer and reader recover by themselves on their next calls; no trade lost or doubled", async () => {
    const f = fresh({ partitions: 2 });
    try {
      const before = trades(300);
      await f.log.append(before);
      const seen: number[] = [];
      const at = new Map<number, number>();
      for (const p of await f.log.partitions()) {
        const batch = await f.log.read(p, 0, 40);
        seen.push(...batch.records.map((r) => r.trade.id));
        at.set(p, batch.next);
      }
      script("stop.sh");
      try {
        const down = await f.log.append(trades(1)).catch((e) => e);
        expect([down.code, down.retryable]).toEqual(["UNAVAILABLE", true]);
        expect((await f.log.health()).ok).toBe(false);
      } finally {
        script("start.sh");
      }
      const after = trades(200).map((t) => ({ ...t, id: t.id + 10_000 }));
      await settle(20_000, () => f.log.append(after));
      for (const [p, from] of at) seen.push(...(await settle(20_000, () => drain(f.log, p, from))).records.map((r) => r.trade.id));
      expect(seen.sort((a, b) => a - b)).toEqual([...before, ...after].map((t) => t.id));
      expect((await f.log.health()).ok).toBe(true);
    } finally {
      await f.dispose();
    }
  }, 120_000);
});

// Utils.toPositive(Utils.murmur2(key)) % 3, computed with the Java client (kafka-clients 4.4.0).
const JAVA_PARTITIONS: Record<string, number> = { BTCUSDT: 2, ETHUSDT: 2, SOLUSDT: 0, BNBUSDT: 0, LTCUSDT: 1, DOTUSDT: 0, ADAUSDT: 2 };
