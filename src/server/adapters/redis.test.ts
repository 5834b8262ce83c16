import { afterAll, describe, expect, test } from "bun:test";
import { RedisClient } from "bun";
import { available, servers } from "../testing/servers.ts";
import { candle, describeCache } from "./conformance.ts";
import { AdapterError } from "./errors.ts";
import { redisCache } from "./redis.ts";
import type { Cache } from "./types.ts";

const up = await available("redis", servers.redis, 6379);
const url = servers.redis;
const admin = up ? new RedisClient(url) : undefined;
const prefixes: string[] = [];
const fresh = () => {
  const prefix = `cftest:${crypto.randomUUID().slice(0, 8)}:`;
  prefixes.push(prefix);
  return prefix;
};
// SCAN, not KEYS: the server is shared with other test runs.
const wipe = async (prefix: string) => {
  let cursor = "0";
  do {
    const [next, keys] = (await admin!.send("SCAN", [cursor, "MATCH", `${prefix}*`, "COUNT", "500"])) as [string, string[]];
    if (keys.length > 0) await admin!.send("DEL", keys);
    cursor = next;
  } while (cursor !== "0");
};
afterAll(async () => {
  for (const p of prefixes) await wipe(p).catch(() => {});
  admin?.close();
});

const until = async (ok: () => boolean | Promise<boolean>, ms = 3000) => {
  for (const end = Date.now() + ms; Date.now() < end; await Bun.sleep(10)) if (await ok()) return true;
  return false;
};
const listen = async (cache: Cache, channel: string) => {
  const got: string[] = [];
  const off = await cache.subscribe(channel, (m) => got.push(m));
  return { got, off };
};
// The connections of one cache, by the name it gives them (prefix + role), and of one type:
// `CLIENT KILL TYPE …` alone would also cut every other client of the shared server.
const ids = async (name: string, type: "normal" | "pubsub") =>
  String(await admin!.send("CLIENT", ["LIST", "TYPE", type]))
    .split("\n")
    .filter((line) => line.includes(` name=${name} `))
    .map((line) => /\bid=(\d+)/.exec(line)![1]!);
const kill = async (name: string, type: "normal" | "pubsub") => {
  const found = await ids(name, type);
  for (const id of found) await admin!.send("CLIENT", ["KILL", "ID", id]);
  return found.length;
};
const refused = async (run: () => Promise<unknown>) => {
  const start = performance.now();
  const e = await run().then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(AdapterError);
  expect((e as AdapterError).code).toBe("UNAVAILABLE");
  expect((e as AdapterError).retryable).toBe(true);
  return performance.now() - start;
};

describe.skipIf(!up)("redis cache", () => {
  describeCache("redis", () => {
    const prefix = fresh();
    return { adapter: redisCache({ url, prefix }), dispose: () => wipe(prefix) };
  });

  test("creating a cache opens no connection until the first call", async () => {
    const prefix = fresh();
    const cache = redisCache({ url, prefix });
    try {
      await Bun.sleep(50);
      expect(await ids(`${prefix}cache`, "normal")).toEqual([]);
      await cache.latest("BTCUSDT", "1m");
      expect((await ids(`${prefix}cache`, "normal")).length).toBe(1);
    } finally {
      await cache.close();
    }
  }, 5000);

  test("two API instances on one prefix both get what a third publishes", async () => {
    const prefix = fresh();
    const [a, b, c] = [redisCache({ url, prefix }), redisCache({ url, prefix }), redisCache({ url, prefix })];
    const other = redisCache({ url, prefix: fresh() });
    try {
      const [ga, gb, go] = await Promise.all([listen(a, "candles:BTCUSDT:1m"), listen(b, "candles:BTCUSDT:1m"), listen(other, "candles:BTCUSDT:1m")]);
      for (const m of ["1", "2", "3"]) await c.publish("candles:BTCUSDT:1m", m);
      expect(await until(() => ga.got.length >= 3 && gb.got.length >= 3)).toBe(true);
      expect(ga.got).toEqual(["1", "2", "3"]);
      expect(gb.got).toEqual(["1", "2", "3"]);
      expect(go.got).toEqual([]);
    } finally {
      await Promise.all([a, b, c, other].map((x) => x.close()));
    }
  }, 5000);

  test("the guard holds in Redis under concurrent writes from two processors", async () => {
    const prefix = fresh();
    const [a, b] = [redisCache({ url, prefix }), redisCache({ url, prefix })];
    try {
      const t = candle().openTime;
      const window = (openTime: number) => [
        ...Array.from({ length: 40 }, (_, i) => candle({ openTime, trades: i + 1, close: `${i}` })),
        ...[0, 1, 2].map((rev) => candle({ openTime, trades: 41 + rev, final: true, rev, close: `r${rev}` })),
      ];
      // Every write of two windows, shuffled, then dealt to the two writers in small batches at once.
      const writes = [...window(t), ...window(t - 60_000)].sort(() => Math.random() - 0.5);
      const batches = Array.from({ length: 20 }, (_, i) => writes.filter((_, j) => j % 20 === i));
      await Promise.all(batches.map((batch, i) => (i % 2 ? a : b).setLatest(batch)));
      const best = candle({ openTime: t, trades: 43, final: true, rev: 2, close: "r2" });
      expect(await a.latest("BTCUSDT", "1m")).toEqual(best);
      await Promise.all([a.setLatest([candle({ openTime: t, trades: 99 })]), b.setLatest([candle({ openTime: t, final: true, rev: 1 })])]);
      expect(await b.latest("BTCUSDT", "1m")).toEqual(best);
      await Promise.all([a.setLatest([candle({ openTime: t, final: true, rev: 3 })]), b.setLatest([candle({ openTime: t + 60_000, trades: 1 })])]);
      expect(await b.latest("BTCUSDT", "1m")).toEqual(candle({ openTime: t + 60_000, trades: 1 }));
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  }, 10_000);

  test("after its connections are killed, commands and subscriptions come back by themselves", async () => {
    const prefix = fresh();
    const cache = redisCache({ url, prefix });
    const publisher = redisCache({ url, prefix });
    try {
      const feed = await listen(cache, "alerts:BTCUSDT");
      await cache.setLatest([candle()]);
      await publisher.publish("alerts:BTCUSDT", "before");
      expect(await until(() => feed.got.length === 1)).toBe(true);

      expect(await kill(`${prefix}cache`, "normal")).toBeGreaterThan(0);
      expect(await kill(`${prefix}cache-sub`, "pubsub")).toBe(1);
      // Commands reconnect on the next call; the subscription is restored in the background.
      expect(await cache.latest("BTCUSDT", "1m")).toEqual(candle());
      expect(await until(async () => (await ids(`${prefix}cache-sub`, "pubsub")).length === 1)).toBe(true);
      await publisher.publish("alerts:BTCUSDT", "after");
      expect(await until(() => feed.got.length === 2)).toBe(true);
      expect(feed.got).toEqual(["before", "after"]);
      expect((await cache.health()).ok).toBe(true);

      // A second kill, after a subscriber left: only the channel still wanted comes back, once.
      const gone = await listen(cache, "alerts:ETHUSDT");
      await gone.off();
      await kill(`${prefix}cache-sub`, "pubsub");
      expect(await until(async () => (await ids(`${prefix}cache-sub`, "pubsub")).length === 1)).toBe(true);
      await publisher.publish("alerts:ETHUSDT", "nobody");
      await publisher.publish("alerts:BTCUSDT", "again");
      expect(await until(() => feed.got.length === 3)).toBe(true);
      await Bun.sleep(30);
      expect(feed.got).toEqual(["before", "after", "again"]);
      expect(gone.got).toEqual([]);
    } finally {
      await Promise.all([cache.close(), publisher.close()]);
    }
  }, 10_000);

  test("a server that is down fails every call fast with UNAVAILABLE, and health says so", async () => {
    const cache = redisCache({ url: "redis://127.0.0.1:1", prefix: fresh() });
    try {
      for (const run of [
        () => cache.setLatest([candle()]),
        () => cache.latest("BTCUSDT", "1m"),
        () => cache.publish("x", "y"),
        () => cache.subscribe("x", () => {}),
      ]) {
        expect(await refused(run)).toBeLessThan(1000);
      }
      const start = performance.now();
      const health = await cache.health();
      expect(performance.now() - start).toBeLessThan(1000);
      expect(health.ok).toBe(false);
      expect(health.detail).toContain("127.0.0.1:1");
    } finally {
      await cache.close();
    }
  }, 5000);

  test("a server that accepts but never answers fails calls within the timeouts, not later", async () => {
    const silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const cache = redisCache({ url: `redis://127.0.0.1:${silent.port}`, connectTimeoutMs: 200, commandTimeoutMs: 200 });
    try {
      const took = await refused(() => cache.publish("x", "y"));
      expect(took).toBeGreaterThanOrEqual(190);
      expect(took).toBeLessThan(600);
      expect((await cache.health()).ok).toBe(false);
    } finally {
      await cache.close();
      silent.stop(true);
    }
  }, 5000);

  test("closing while a connection opens leaves no connection behind", async () => {
    const prefix = fresh();
    const cache = redisCache({ url, prefix });
    const pending = cache.publish("x", "y").catch((e: AdapterError) => e.code);
    const listening = cache.subscribe("x", () => {}).catch((e: AdapterError) => e.code);
    await cache.close();
    expect(await pending).toBe("CLOSED");
    expect(await listening).toBe("CLOSED");
    await Bun.sleep(100);
    expect([...(await ids(`${prefix}cache`, "normal")), ...(await ids(`${prefix}cache-sub`, "normal")), ...(await ids(`${prefix}cache-sub`, "pubsub"))]).toEqual([]);
  }, 5000);

  test("after close, every call refuses with CLOSED", async () => {
    const cache = redisCache({ url, prefix: fresh() });
    await cache.publish("x", "y");
    await cache.close();
    for (const run of [() => cache.setLatest([candle()]), () => cache.latest("BTCUSDT", "1m"), () => cache.subscribe("x", () => {})]) {
      expect(await run().catch((e: AdapterError) => e.code)).toBe("CLOSED");
    }
    expect(await cache.health()).toEqual({ adapter: "redis", ok: false, detail: "closed" });
  }, 5000);
});
