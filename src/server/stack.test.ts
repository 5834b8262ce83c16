/**
 * The local stack with real processes: Kafka, PostgreSQL and Redis, and `candleflow serve`
 * children in their roles. Exactly-once under a kill -9 and a rebalance, and stateless API
 * instances that fan out through Redis.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { market } from "../../scripts/bench/generate.ts";
import { kafkaLog } from "./adapters/kafka.ts";
import { postgresStore } from "./adapters/postgres.ts";
import { checkpointKey, decodeResume } from "./pipeline/resume.ts";
import { mulberry32 } from "./testing/random.ts";
import { available, servers } from "./testing/servers.ts";
import { killAll, serve, type Served } from "./testing/spawn.ts";
import { dropNames, names, stackArgs, table, uninterrupted, until, type Names } from "./testing/stack.ts";
import type { Candle } from "../lib/types.ts";

const up = (await available("kafka", servers.kafka, 9092)) && (await available("postgres", servers.postgres, 5432)) && (await available("redis", servers.redis, 6379));
const PARTITIONS = 4;

afterAll(async () => {
  await killAll();
  if (up) await dropNames();
});

const args = (n: Names, roles: string, extra: string[] = []): string[] => stackArgs(n, roles, { partitions: PARTITIONS, redis: servers.redis }, extra);

describe.skipIf(!up)("local stack, real processes", () => {
  test("two processors in one group, one killed -9 mid-stream, a third joining: the candles equal one uninterrupted run, row for row", async () => {
    const n = names("it");
    const { trades } = market({ symbols: 12, trades: 60_000, seed: 7 });
    const log = kafkaLog({ brokers: servers.kafka, topic: n.topic, partitions: PARTITIONS });
    const store = postgresStore({ url: servers.postgres, schema: n.schema });
    const expected = uninterrupted(trades, PARTITIONS);
    const next = mulberry32(Date.now() % 100_000);
    const processors: Served[] = [];
    try {
      await log.append(trades.slice(0, 2000));
      const a = await serve(args(n, "process"));
      const b = await serve(args(n, "process"));
      processors.push(a, b);
      // The rest arrives while they work; a dies at a random moment in the middle of it.
      const killAt = 8 + Math.floor(next() * 20);
      let killedWhile: number[] = [];
      for (let i = 2000, chunk = 0; i < trades.length; i += 2000, chunk++) {
        await log.append(trades.slice(i, i + 2000));
        if (chunk === killAt) {
          await a.kill();
          killedWhile = await Promise.all([...Array(PARTITIONS).keys()].map(async (p) => {
            const cp = await store.loadCheckpoint(checkpointKey(n.group, p));
            return cp ? decodeResume(p, cp.offsets)!.next : 0;
          }));
        }
        await Bun.sleep(120);
      }
      const c = await serve(args(n, "process"));
      processors.push(c);
      const highs = await Promise.all([...Array(PARTITIONS).keys()].map((p) => log.highWatermark(p)));
      expect(highs.reduce((x, y) => x + y, 0)).toBe(trades.length);
      // Killed mid-stream: some partition's checkpoint was behind the end of its input.
      expect(killedWhile.some((at, p) => at < highs[p]!)).toBe(true);
      await until("every partition's checkpoint to reach the end of its input", async () => {
        for (let p = 0; p < PARTITIONS; p++) {
          const cp = await store.loadCheckpoint(checkpointKey(n.group, p));
          if (!cp || decodeResume(p, cp.offsets)!.next < highs[p]!) return false;
        }
        return true;
      }, 60_000);
      expect(await b.stop()).toBe(0);
      expect(await c.stop()).toBe(0);
      const got = await table(store);
      const want = await expected;
      expect(got.candles.length).toBe(want.candles.length);
      expect(got).toEqual(want);
    } finally {
      for (const p of processors) await p.kill().catch(() => {});
      await log.close();
      await store.close();
    }
  }, 120_000);

  test("two stateless API processes push the same live updates to their WebSocket clients through Redis", async () => {
    const n = names("it");
    const processor = await serve(args(n, "ingest,process", ["--source", "replay", "--speed", "20", "--no-loop"]));
    const apis = [await serve(args(n, "api")), await serve(args(n, "api"))];
    try {
      await until("BTCUSDT to be listed by both API processes", async () => {
        for (const api of apis) {
          const res = await fetch(new URL("/api/v1/symbols", api.url)).catch(() => undefined);
          if (!res?.ok || !((await res.json()) as { symbols: string[] }).symbols.includes("BTCUSDT")) return false;
        }
        return true;
      }, 30_000);
      const frames = apis.map(() => [] as { type: string; kind?: string; candle?: Candle }[]);
      const sockets = apis.map((api, i) => {
        const ws = new WebSocket(new URL("/ws", api.url.href.replace(/^http/, "ws")));
        ws.onmessage = (m) => frames[i]!.push(JSON.parse(String(m.data)));
        ws.onopen = () => ws.send(JSON.stringify({ op: "subscribe", symbols: ["BTCUSDT"], intervals: ["1m"] }));
        return ws;
      });
      const live = (i: number) => frames[i]!.filter((f) => f.type === "candle" && f.kind === "update");
      await until("live updates on both API processes", async () => live(0).length >= 5 && live(1).length >= 5, 30_000);
      // The same published events reach both: an update seen by one is seen by the other.
      const seen = (i: number) => new Set(live(i).map((f) => JSON.stringify(f.candle)));
      await Bun.sleep(500);
      const [first, second] = [seen(0), seen(1)];
      const shared = [...first].filter((c) => second.has(c));
      expect(shared.length).toBeGreaterThanOrEqual(3);
      // An API process holds no processor: its /health names only what it serves from.
      const health = (await (await fetch(new URL("/api/v1/health", apis[0]!.url))).json()) as { dependencies: Record<string, unknown> };
      expect(Object.keys(health.dependencies).sort()).toEqual(["cache", "store"]);
      for (const ws of sockets) ws.close();
    } finally {
      for (const p of [processor, ...apis]) await p.stop().catch(() => {});
    }
  }, 90_000);
});
