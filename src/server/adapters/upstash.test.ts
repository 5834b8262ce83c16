import { afterAll, describe, expect, test } from "bun:test";
import { RedisClient } from "bun";
import { murmur2 as kafkaMurmur2 } from "@platformatic/kafka";
import { available, servers } from "../testing/servers.ts";
import { startUpstashServer, wipe, type UpstashServer } from "../testing/upstash.ts";
import { pipeline } from "../pipeline/processor.ts";
import { candle, describeCache, describeLog, trades } from "./conformance.ts";
import { memoryLog } from "./memory-log.ts";
import { memoryStore } from "./memory-store.ts";
import { AdapterError } from "./errors.ts";
import { upstashCache, upstashLog } from "./upstash.ts";
import { run, upstashClient } from "./upstash-client.ts";
import { kafkaPartition, murmur2 } from "./upstash-log.ts";

const up = await available("redis", servers.redis, 6379);
const token = `t-${crypto.randomUUID()}`;
const upstash: UpstashServer | undefined = up ? await startUpstashServer({ redisUrl: servers.redis, token }) : undefined;
const admin = up ? new RedisClient(servers.redis) : undefined;
const prefixes: string[] = [];
const fresh = () => {
  const prefix = `cftest:${crypto.randomUUID().slice(0, 8)}:`;
  prefixes.push(prefix);
  return prefix;
};
const clean = (prefix: string) => wipe(admin!, prefix);
afterAll(async () => {
  for (const p of prefixes) await clean(p).catch(() => {});
  admin?.close();
  await upstash?.stop();
});
const at = () => ({ url: upstash!.url, token });
/** Round trips (HTTP requests) that `work` makes through the endpoint. */
const trips = async (work: () => Promise<unknown>) => {
  const before = upstash!.requests();
  await work();
  return upstash!.requests() - before;
};

describe.skipIf(!up)("upstash adapters over the local Upstash endpoint", () => {
  describeCache("upstash", () => {
    const prefix = fresh();
    return { adapter: upstashCache({ ...at(), prefix }), dispose: () => clean(prefix) };
  });

  describeLog("upstash-log", async ({ trades: seed, retention }) => {
    const prefix = fresh();
    const log = upstashLog({ ...at(), prefix, retention });
    await log.append(seed);
    return { adapter: log, dispose: () => clean(prefix) };
  }, { writable: true, retention: true, readInto: true });

  test("cache and log share keys and guard with the Redis cache: what one writes the other reads", async () => {
    const prefix = fresh();
    const cache = upstashCache({ ...at(), prefix });
    const final = candle({ final: true, trades: 7 });
    await cache.setLatest([final]);
    expect(JSON.parse((await admin!.get(`${prefix}latest:BTCUSDT:1m`))!)).toEqual(final);
    await cache.setLatest([candle({ trades: 99 })]);
    expect(await cache.latest("BTCUSDT", "1m")).toEqual(final);
    await cache.close();
  });

  test("setLatest of 100 candles is one request", async () => {
    const cache = upstashCache({ ...at(), prefix: fresh() });
    const batch = Array.from({ length: 100 }, (_, i) => candle({ symbol: `S${i % 10}`, interval: ["1m", "5m", "15m", "1h", "1d", "4h", "30m", "3m", "2h", "1w"][Math.floor(i / 10)]! }));
    await cache.setLatest(batch);
    expect(await trips(() => cache.setLatest(batch))).toBe(1);
    await cache.close();
  });

  test("a script the server does not know costs one EVAL after the NOSCRIPT, then EVALSHA alone", async () => {
    // A script of its own: flushing the shared server's scripts would disturb other clients.
    const script = `return ARGV[1] .. '-${crypto.randomUUID()}'`;
    const redis = upstashClient(at());
    let got: unknown;
    expect(await trips(async () => (got = await run(redis, script, [], ["x"])))).toBe(2);
    expect(String(got).startsWith("x-")).toBe(true);
    expect(await trips(() => run(redis, script, [], ["y"]))).toBe(1);
  });

  test("a symbol's partition is the one Kafka's Java client picks (murmur2 of the key)", () => {
    // Utils.toPositive(Utils.murmur2(key)) % 3, computed with the Java client (kafka-clients 4.4.0), as in kafka.test.ts.
    const java: Record<string, number> = { BTCUSDT: 2, ETHUSDT: 2, SOLUSDT: 0, BNBUSDT: 0, LTCUSDT: 1, DOTUSDT: 0, ADAUSDT: 2 };
    for (const [symbol, p] of Object.entries(java)) expect(kafkaPartition(symbol, 3)).toBe(p);
    for (const key of ["", "a", "ab", "abc", "abcd", "abcde", "ÄÖÜ€", "1000PEPEUSDT", "x".repeat(101)]) {
      expect(murmur2(new TextEncoder().encode(key))).toBe(kafkaMurmur2(Buffer.from(key)));
    }
  });

  test("offsets are stream ids 0-n: contiguous from 1, and the partition count is the log's own", async () => {
    const prefix = fresh();
    const log = upstashLog({ ...at(), prefix, partitions: 1 });
    expect(await log.highWatermark(0)).toBe(1);
    await log.append(trades(5));
    const ids = (await admin!.send("XRANGE", [`${prefix}trades:0`, "-", "+"])) as [string, string[]][];
    expect(ids.map(([id]) => id)).toEqual(["0-1", "0-2", "0-3", "0-4", "0-5"]);
    expect((await log.read(0, 1, 10)).records.map((r) => r.offset)).toEqual([1, 2, 3, 4, 5]);
    expect(await log.highWatermark(0)).toBe(6);
    // A second instance asking for 4 partitions gets the log's one.
    const other = upstashLog({ ...at(), prefix, partitions: 4 });
    expect(await other.partitions()).toEqual([0]);
    await Promise.all([log.close(), other.close()]);
  });

  test("append of 1,000 trades is one request; a read is one", async () => {
    const prefix = fresh();
    const log = upstashLog({ ...at(), prefix });
    await log.partitions();
    const many = trades(1000);
    expect(await trips(() => log.append(many))).toBe(1);
    expect(await trips(() => log.read(0, 1, 1000))).toBe(1);
    await log.close();
  });

  test("entries that are not trades come back as poison in place; dead letters and alerts go to their streams", async () => {
    const prefix = fresh();
    const log = upstashLog({ ...at(), prefix, partitions: 1 });
    await log.append(trades(1));
    await admin!.send("XADD", [`${prefix}trades:0`, "0-*", "trade", "not json"]);
    await admin!.send("XADD", [`${prefix}trades:0`, "0-*", "other", "x"]);
    await admin!.send("XADD", [`${prefix}trades:0`, "0-*", "trade", '{"symbol":"BTCUSDT"}']);
    await log.append(trades(1));
    const batch = await log.read(0, 1, 100);
    expect(batch.records.map((r) => r.offset)).toEqual([1, 5]);
    expect(batch.poison).toEqual([
      { offset: 2, raw: "not json", reason: "not JSON" },
      { offset: 3, raw: '["other","x"]', reason: "no trade field" },
      { offset: 4, raw: '{"symbol":"BTCUSDT"}', reason: "price must be a string" },
    ]);
    expect(batch.next).toBe(6);
    expect(await trips(() => log.deadLetter(batch.poison!.map((p) => ({ partition: 0, offset: p.offset, raw: p.raw, reason: p.reason }))))).toBe(1);
    const letters = (await admin!.send("XRANGE", [`${prefix}trades:dlq`, "-", "+"])) as [string, string[]][];
    expect(letters.map(([, f]) => f)).toEqual(batch.poison!.map((p) => ["source", `0:${p.offset}`, "reason", p.reason, "raw", p.raw]));
    const a = { id: "whale:BTCUSDT:1", rule: "whale", symbol: "BTCUSDT", ts: 1, value: 2, threshold: 1, message: "m" } as const;
    await log.appendAlerts([a]);
    const alerts = (await admin!.send("XRANGE", [`${prefix}alerts`, "-", "+"])) as [string, string[]][];
    expect(alerts.map(([, f]) => [f[1], JSON.parse(f[3]!)])).toEqual([["BTCUSDT", a]]);
    await log.close();
  });

  test("retention trims with MAXLEN ~ and holds exactly the last `retention` offsets", async () => {
    const prefix = fresh();
    const log = upstashLog({ ...at(), prefix, partitions: 1, retention: 150 });
    for (let i = 0; i < 5; i++) await log.append(trades(100).map((t) => ({ ...t, id: t.id + i * 100 })));
    expect(await log.highWatermark(0)).toBe(501);
    expect(await log.lowWatermark(0)).toBe(351);
    const held = Number(await admin!.send("XLEN", [`${prefix}trades:0`]));
    expect(held).toBeGreaterThanOrEqual(150);
    expect(held).toBeLessThan(500);
    const e = await log.read(0, 350, 10).catch((x: unknown) => x);
    expect((e as AdapterError).code).toBe("OFFSET_OUT_OF_RANGE");
    expect((await log.read(0, 351, 1000)).records.length).toBe(150);
    await log.close();
  });

  test("a group splits the partitions, rebalances as members join and leave, and takes over a silent member's after the timeout", async () => {
    const prefix = fresh();
    const make = (memberId: string) => upstashLog({ ...at(), prefix, partitions: 3, groupId: "g", memberId, sessionTimeoutMs: 600 });
    const a = make("a");
    const b = make("b");
    const settle = () => Bun.sleep(220);
    expect(await a.assigned!()).toEqual([0, 1, 2]);
    expect(await b.assigned!()).toEqual([]);
    await settle();
    expect(await a.assigned!()).toEqual([0, 2]);
    expect(await b.assigned!()).toEqual([1]);
    await b.close();
    await settle();
    expect(await a.assigned!()).toEqual([0, 1, 2]);
    const c = make("c");
    await c.assigned!();
    await settle();
    expect(await a.assigned!()).toEqual([0, 2]);
    expect(await c.assigned!()).toEqual([1]);
    // c goes silent (a crash: no close): after the session timeout its partition is a's again.
    await Bun.sleep(300);
    expect(await a.assigned!()).toEqual([0, 2]);
    await Bun.sleep(400);
    expect(await a.assigned!()).toEqual([0, 1, 2]);
    await a.close();
  });

  test("the processor over the Upstash log, shared by two group members, commits the candles one process over the memory log does", async () => {
    const prefix = fresh();
    const input = trades(3000, ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "LTCUSDT"]);
    const engine = { intervals: ["1m", "5m"] };
    const reference = memoryStore();
    const refLog = memoryLog({ partitions: 1 });
    await refLog.append(input);
    await pipeline({ log: refLog, store: reference, engine }).finish();
    const store = memoryStore();
    const writer = upstashLog({ ...at(), prefix });
    await writer.append(input);
    const member = (id: string) => upstashLog({ ...at(), prefix, groupId: "p", memberId: id, sessionTimeoutMs: 300 });
    const [a, b] = [member("a"), member("b")];
    await a.assigned!();
    await b.assigned!();
    await Bun.sleep(120);
    const mine = [await a.assigned!(), await b.assigned!()];
    expect(mine.flat().sort()).toEqual([0, 1, 2]);
    for (const [log, parts] of [[a, mine[0]!], [b, mine[1]!]] as const) await pipeline({ log, store, engine, partitions: [...parts] }).finish();
    for (const symbol of ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "LTCUSDT"]) {
      for (const interval of engine.intervals) {
        const want = (await reference.candles(symbol, interval, { limit: 5000 })).candles;
        expect(want.length).toBeGreaterThan(0);
        expect((await store.candles(symbol, interval, { limit: 5000 })).candles).toEqual(want);
      }
    }
    await Promise.all([writer.close(), a.close(), b.close()]);
  }, 30_000);

  test("a wrong token is UNAVAILABLE and not retryable; an endpoint that is down is retryable", async () => {
    const cache = upstashCache({ url: upstash!.url, token: "wrong", prefix: fresh() });
    const e = (await cache.publish("x", "y").catch((x: unknown) => x)) as AdapterError;
    expect([e.code, e.retryable]).toEqual(["UNAVAILABLE", false]);
    expect((await cache.health()).ok).toBe(false);
    const down = upstashLog({ url: "http://127.0.0.1:9", token, prefix: fresh(), retries: 0 });
    const d = (await down.partitions().catch((x: unknown) => x)) as AdapterError;
    expect([d.code, d.retryable]).toEqual(["UNAVAILABLE", true]);
    await Promise.all([cache.close(), down.close()]);
  });

  test("figures: round trips and latency through the local endpoint", async () => {
    const cache = upstashCache({ ...at(), prefix: fresh() });
    const log = upstashLog({ ...at(), prefix: fresh(), partitions: 1 });
    const batch = Array.from({ length: 100 }, (_, i) => candle({ symbol: `S${i}` }));
    await cache.setLatest(batch);
    await log.partitions();
    const time = async (runs: number, work: (i: number) => Promise<unknown>) => {
      const start = performance.now();
      for (let i = 0; i < runs; i++) await work(i);
      return (performance.now() - start) / runs;
    };
    const setMs = await time(50, () => cache.setLatest(batch));
    const appendMs = await time(20, (i) => log.append(trades(1000).map((t) => ({ ...t, id: t.id + i * 1000 }))));
    const readMs = await time(20, (i) => log.read(0, 1 + i * 300, 1000));
    const setTrips = await trips(() => cache.setLatest(batch));
    const appendTrips = await trips(() => log.append(trades(1000)));
    console.log(`[figures] setLatest(100 candles): ${setTrips} round trip, ${setMs.toFixed(2)} ms; append(1,000 trades): ${appendTrips} round trip, ${appendMs.toFixed(2)} ms; read(≤1,000): 1 round trip, ${readMs.toFixed(2)} ms`);
    expect([setTrips, appendTrips]).toEqual([1, 1]);
    await Promise.all([cache.close(), log.close()]);
  }, 30_000);
});
