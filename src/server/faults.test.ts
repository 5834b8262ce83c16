/**
 * Faults of the local stack with real servers and real processes: Redis, PostgreSQL and the
 * Kafka broker stopped mid-stream and started again under a running `candleflow serve`, and
 * poison on the trades topic. Each fault is done to a private server of the test's own
 * (src/server/testing/private-servers.ts), never to the shared ones.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { Admin, Consumer, Producer, stringSerializers } from "@platformatic/kafka";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { market } from "../../scripts/bench/generate.ts";
import { decodeBinanceWs } from "../lib/binance.ts";
import type { Candle, Trade } from "../lib/types.ts";
import { kafkaLog, type KafkaLog } from "./adapters/kafka.ts";
import { postgresStore } from "./adapters/postgres.ts";
import type { CandleStore } from "./adapters/types.ts";
import { privateKafka, privatePostgres, privateRedis, privateServersAvailable, stopPrivateServers } from "./testing/private-servers.ts";
import { available, servers } from "./testing/servers.ts";
import { checkpointKey, decodeResume } from "./pipeline/resume.ts";
import { killAll, serve, type Served } from "./testing/spawn.ts";
import { checkpoints, dropNames, names, stackArgs, table, uninterrupted, until, type Names } from "./testing/stack.ts";

const up = (await available("kafka", servers.kafka, 9092)) && (await available("postgres", servers.postgres, 5432)) && (await available("redis", servers.redis, 6379))
  && privateServersAvailable("redis", "postgres", "kafka");
const PARTITIONS = 2;
const REPLAY = join(import.meta.dir, "../../fixtures/replay.ws.jsonl");

afterAll(async () => {
  await killAll();
  await stopPrivateServers();
  if (up) await dropNames();
});

const args = (n: Names, roles: string, redis: string | undefined, extra: string[] = []): string[] => stackArgs(n, roles, { partitions: PARTITIONS, redis }, extra);

/** The candle table equals the uninterrupted run's, row for row. */
function same(got: Awaited<ReturnType<typeof table>>, want: Awaited<ReturnType<typeof table>>): void {
  expect(got.candles.length).toBe(want.candles.length);
  expect(got).toEqual(want);
}

/** Releases what a test opened: the app first (SIGKILL, if it still runs), then the rest in order, whatever fails. */
async function release(app: Served | undefined, ...rest: { close(): Promise<unknown> }[]): Promise<void> {
  await app?.kill().catch(() => {});
  for (const r of rest) await r.close().catch(() => {});
}

/** Resolves once every partition's checkpoint has reached the end of its input. */
async function caughtUp(log: KafkaLog, store: CandleStore, group: string, timeoutMs: number, partitions = PARTITIONS): Promise<void> {
  await until("every partition's checkpoint to reach the end of its input", async () => {
    const at = await checkpoints(store, group, partitions);
    for (let p = 0; p < partitions; p++) if (at[p]! < (await log.highWatermark(p))) return false;
    return true;
  }, timeoutMs);
}

type Health = { status: string; dependencies: Record<string, { ok: boolean; detail?: string }> };
const get = async (served: Served, path: string) => {
  const res = await fetch(new URL(path, served.url));
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};
const health = async (served: Served) => {
  const res = await fetch(new URL("/api/v1/health", served.url));
  return { status: res.status, body: (await res.json()) as Health };
};

/** Appends `trades` to `log` a chunk at a time, as a live feed would, until they are all in or `stop` is called. */
function feeder(log: KafkaLog, trades: Trade[], chunk: number, everyMs: number) {
  let at = 0;
  let stopped = false;
  const done = (async () => {
    for (; at < trades.length && !stopped; at += chunk) {
      await log.append(trades.slice(at, at + chunk));
      await Bun.sleep(everyMs);
    }
  })();
  return { sent: () => Math.min(at, trades.length), stop: async () => { stopped = true; await done; }, done };
}

describe.skipIf(!up)("faults of the local stack, real servers and processes", () => {
  test("Redis stopped mid-stream: /latest falls back to the store, /health names the cache, candles keep being committed; Redis back, live updates resume without a restart", async () => {
    const redis = await privateRedis();
    const n = names("fault");
    const { trades } = market({ symbols: 4, trades: 40_000, seed: 11 });
    const log = kafkaLog({ brokers: n.brokers, topic: n.topic, partitions: PARTITIONS });
    const store = postgresStore({ url: n.database, schema: n.schema });
    let app: Served | undefined;
    let ws: WebSocket | undefined;
    const feed = feeder(log, trades, 200, 100);
    try {
      await log.append([]);
      app = await serve(args(n, "process,api", redis.url));
      const served = app;
      // A symbol can be subscribed once the server knows it (from an accepted trade).
      await until("BTCUSDT to be listed", async () => ((await get(served, "/api/v1/symbols")).body.symbols as string[]).includes("BTCUSDT"), 20_000);
      const frames: { type: string; kind?: string; candle?: Candle }[] = [];
      ws = new WebSocket(new URL("/ws", served.url.href.replace(/^http/, "ws")));
      ws.onmessage = (m) => frames.push(JSON.parse(String(m.data)));
      ws.onopen = () => ws!.send(JSON.stringify({ op: "subscribe", symbols: ["BTCUSDT"], intervals: ["1m"] }));
      const updates = () => frames.filter((f) => f.type === "candle" && f.kind === "update").length;
      await until("live updates over the WebSocket", async () => updates() >= 5, 20_000);
      expect((await health(served)).status).toBe(200);

      await redis.stop();
      const downAt = await checkpoints(store, n.group, PARTITIONS);
      await until("/health to name the cache as down", async () => {
        const h = await health(served);
        return h.status === 503 && h.body.dependencies.cache?.ok === false;
      }, 10_000);
      const h = await health(served);
      expect(h.body.status).toBe("down");
      expect(h.body.dependencies.store!.ok).toBe(true);
      expect(h.body.dependencies.pipeline!.ok).toBe(true);
      // The latest candle comes from the store instead.
      const latest = await get(served, "/api/v1/latest/BTCUSDT?interval=1m");
      expect(latest.status).toBe(200);
      expect((latest.body.candle as Candle).symbol).toBe("BTCUSDT");
      // The pipeline goes on committing to PostgreSQL while the cache is away.
      await until("checkpoints to move on while Redis is down", async () => {
        const at = await checkpoints(store, n.group, PARTITIONS);
        return at.reduce((a, b) => a + b, 0) >= downAt.reduce((a, b) => a + b, 0) + 2000;
      }, 15_000);
      expect((await health(served)).body.dependencies.cache!.ok).toBe(false);

      await redis.start();
      const before = updates();
      await until("/health to be ok again", async () => (await health(served)).status === 200, 20_000);
      await until("live updates on the same WebSocket again", async () => updates() >= before + 5, 20_000);
      const again = await get(served, "/api/v1/latest/BTCUSDT?interval=1m");
      expect(again.status).toBe(200);
      await feed.stop();
      await caughtUp(log, store, n.group, 20_000);
      expect(await served.stop()).toBe(0);
    } finally {
      ws?.close();
      await feed.stop().catch(() => {});
      await release(app, log, store, redis);
    }
  }, 60_000);

  test("PostgreSQL stopped mid-stream: /candles is 503, /health names the store, the processor waits; back, it catches up to one uninterrupted run, row for row", async () => {
    const pg = await privatePostgres();
    const n = names("fault", { database: pg.url });
    const { trades } = market({ symbols: 6, trades: 30_000, seed: 5 });
    const expected = uninterrupted(trades, PARTITIONS);
    const log = kafkaLog({ brokers: n.brokers, topic: n.topic, partitions: PARTITIONS });
    const store = postgresStore({ url: n.database, schema: n.schema, connectTimeout: 1 });
    let app: Served | undefined;
    try {
      await log.append(trades.slice(0, 3000));
      app = await serve(args(n, "process,api", undefined));
      const served = app;
      await caughtUp(log, store, n.group, 20_000);
      const feed = feeder(log, trades.slice(3000), 1000, 150);
      await until("some of the stream to be in", async () => feed.sent() >= 6000, 10_000);

      await pg.stop();
      await until("/health to name the store as down", async () => {
        const h = await health(served);
        return h.status === 503 && h.body.dependencies.store?.ok === false;
      }, 10_000);
      const candles = await get(served, "/api/v1/candles/BTCUSDT?interval=1m");
      expect(candles.status).toBe(503);
      expect((candles.body.error as { code: string; message: string }).code).toBe("UNAVAILABLE");
      // The rest of the stream arrives in Kafka while the store is away; the processor retries, it does not fail.
      await feed.done;
      await Bun.sleep(1000);
      const h = await health(served);
      expect(h.body.dependencies.pipeline!.ok).toBe(true);
      expect(h.body.dependencies.log!.ok).toBe(true);
      expect(served.child.exitCode).toBeNull();

      await pg.start();
      await until("/health to be ok again", async () => (await health(served)).status === 200, 20_000);
      await caughtUp(log, store, n.group, 30_000);
      expect((await get(served, "/api/v1/candles/BTCUSDT?interval=1m")).status).toBe(200);
      const code = await served.stop();
      if (code !== 0) console.error(served.output().slice(-4000));
      expect(code).toBe(0);
      const got = await table(store);
      same(got, await expected);
    } finally {
      await release(app, log, store, pg);
    }
  }, 60_000);

  test("Kafka broker restarted mid-stream: ingest and processor recover without a restart; the candles equal one uninterrupted run", async () => {
    const kafka = await privateKafka();
    const n = names("fault", { brokers: kafka.url });
    const log = kafkaLog({ brokers: n.brokers, topic: n.topic, partitions: PARTITIONS });
    const store = postgresStore({ url: n.database, schema: n.schema });
    const recorded = readFileSync(REPLAY, "utf8").split("\n").filter((l) => l.trim()).map((l) => decodeBinanceWs(l)).filter((t): t is Trade => t !== null);
    let app: Served | undefined;
    try {
      // The recording (about 30 minutes of trades) paced at 90x: about 20 s of input.
      app = await serve(args(n, "ingest,process,api", undefined, ["--source", "replay", "--file", REPLAY, "--speed", "90", "--no-loop"]));
      const served = app;
      await until("a few hundred trades committed", async () => (await checkpoints(store, n.group, PARTITIONS)).reduce((a, b) => a + b, 0) >= 300, 20_000);

      await kafka.stop();
      await until("/health to name the log as down", async () => {
        const h = await health(served);
        return h.status === 503 && h.body.dependencies.log?.ok === false;
      }, 10_000);
      await Bun.sleep(2000);
      expect(served.child.exitCode).toBeNull();
      await kafka.start();

      await until("the replay to end and everything to be committed", async () => {
        const h = await health(served);
        if (h.status !== 200 || h.body.dependencies.source?.detail !== "input ended") return false;
        const at = await checkpoints(store, n.group, PARTITIONS);
        for (let p = 0; p < PARTITIONS; p++) if (at[p]! < (await log.highWatermark(p))) return false;
        return true;
      }, 60_000).catch(async (e) => {
        throw new Error(`${e.message}; health ${JSON.stringify((await health(served).catch(() => undefined))?.body)}; output: ${served.output().slice(-3000)}\nbroker:\n${kafka.logTail?.()}`);
      });
      // The replay's time shift is in the checkpoints: the uninterrupted run sees the same trades at the same times.
      const cp = await store.loadCheckpoint(checkpointKey(n.group, 0));
      const base = decodeResume(0, cp!.offsets)!.replayBase!;
      expect(await served.stop()).toBe(0);
      const got = await table(store);
      const want = await uninterrupted(recorded.map((t) => ({ ...t, ts: t.ts + base })), PARTITIONS);
      expect(got.candles.reduce((s, c) => s + (c.interval === "1h" ? c.trades : 0), 0)).toBe(recorded.length);
      same(got, want);
    } finally {
      await release(app, log, store, kafka);
    }
  }, 120_000);

  test("poison on the trades topic is counted, dead-lettered with its reason, and does not block the partition", async () => {
    const n = names("fault");
    const { trades } = market({ symbols: 1, trades: 2000, seed: 3 });
    const log = kafkaLog({ brokers: n.brokers, topic: n.topic, partitions: PARTITIONS });
    const store = postgresStore({ url: n.database, schema: n.schema });
    const raw = new Producer({ clientId: "candleflow-test", bootstrapBrokers: n.brokers.split(","), serializers: stringSerializers });
    const consumer = new Consumer({ clientId: "candleflow-test", groupId: `${n.group}.dlq-reader`, bootstrapBrokers: n.brokers.split(","), maxWaitTime: 200 });
    let app: Served | undefined;
    try {
      await log.append(trades.slice(0, 1000));
      app = await serve(args(n, "process,api", undefined));
      const served = app;
      await caughtUp(log, store, n.group, 20_000);
      // Where the symbol lives: poison goes to the same partition, between its good trades.
      const home = (await Promise.all([0, 1].map((p) => log.highWatermark(p)))).findIndex((h) => h > 0);
      const symbol = trades[0]!.symbol;
      const last = trades[999]!;
      const poison = [
        "{not json",
        JSON.stringify({ symbol, id: "x", price: "1", qty: "1", ts: last.ts, side: "buy" }),
        JSON.stringify({ ...last, id: last.id + 10_000_000, price: "-5" }),
        JSON.stringify({ ...last, id: last.id + 10_000_001, qty: "0" }),
      ];
      await raw.send({ messages: poison.map((value) => ({ topic: n.topic, key: symbol, value, partition: home })) });
      await log.append(trades.slice(1000));
      await caughtUp(log, store, n.group, 20_000);

      const metrics = await (await fetch(new URL("/api/v1/metrics", served.url))).text();
      expect(metrics).toMatch(/^candleflow_dead_letters_total 4$/m);
      // The dead letters: the raw value unchanged, where it came from and why.
      const stream = await consumer.consume({ topics: [`${n.topic}.dlq`], mode: "earliest", autocommit: false });
      const letters: { value: string; headers: Record<string, string> }[] = [];
      for await (const m of stream) {
        letters.push({ value: m.value.toString(), headers: Object.fromEntries([...m.headers].map(([k, v]) => [k.toString(), v.toString()])) });
        if (letters.length === poison.length) break;
      }
      await stream.close();
      // Keyed by where they came from, so spread over the dead-letter topic's partitions: put back in log order.
      letters.sort((a, b) => Number(a.headers.source!.split(":").at(-1)) - Number(b.headers.source!.split(":").at(-1)));
      expect(letters.map((l) => l.value)).toEqual(poison);
      expect(letters.map((l) => l.headers.source)).toEqual([1000, 1001, 1002, 1003].map((o) => `${n.topic}:${home}:${o}`));
      expect(letters[0]!.headers.reason).toBe("not JSON");
      expect(letters[1]!.headers.reason).toBe("id must be a number");
      expect(letters[2]!.headers.reason).toMatch(/price/i);
      expect(letters[3]!.headers.reason).toMatch(/qty|quantity/i);
      // Not blocked: the trades after the poison are in the candles, which equal a run of the good trades alone.
      expect(await served.stop()).toBe(0);
      const got = await table(store);
      same(got, await uninterrupted(trades, PARTITIONS));
    } finally {
      await consumer.close(true).catch(() => {});
      await release(app, raw, log, store);
    }
  }, 60_000);
});
