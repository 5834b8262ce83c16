import { describe, expect, test } from "bun:test";
import type { Candle } from "../lib/types.ts";
import { AdapterError } from "./adapters/errors.ts";
import { memoryCache } from "./adapters/memory-cache.ts";
import { memoryStore } from "./adapters/memory-store.ts";
import type { Cache, CandleStore } from "./adapters/types.ts";
import { createApp } from "./app.ts";

const candle: Candle = {
  symbol: "BTCUSDT", interval: "1m", openTime: 1_704_067_200_000, open: "42500", high: "42510.5", low: "42490", close: "42501",
  volume: "1.5", quoteVolume: "63751.5", trades: 3, takerBuyVolume: "1", takerBuyQuoteVolume: "42500", vwap: "42501", rev: 0, final: true,
};

/** A store whose every call fails while `down.store` is true, as a database that went away would. */
function flaky(inner: CandleStore, down: { store: boolean }): CandleStore {
  const gone = () => new AdapterError("sqlite", "UNAVAILABLE", "connection refused");
  const wrap = <A extends unknown[], R>(call: (...a: A) => Promise<R>) => async (...a: A) => {
    if (down.store) throw gone();
    return call(...a);
  };
  return {
    name: inner.name,
    commit: wrap(inner.commit), candles: wrap(inner.candles), latest: wrap(inner.latest), symbols: wrap(inner.symbols),
    alerts: wrap(inner.alerts), loadCheckpoint: wrap(inner.loadCheckpoint), close: inner.close,
    health: async () => (down.store ? { adapter: inner.name, ok: false, detail: "connection refused" } : inner.health()),
  };
}

/** A cache that throws on every call. */
function brokenCache(): Cache {
  const fail = async (): Promise<never> => {
    throw new AdapterError("redis", "UNAVAILABLE", "connection reset");
  };
  return { name: "redis", setLatest: fail, latest: fail, publish: fail, subscribe: fail, health: fail, close: async () => {} };
}

async function setup(cache: Cache = memoryCache()) {
  const down = { store: false };
  const store = memoryStore();
  await store.commit({ candles: [candle, { ...candle, openTime: candle.openTime + 60_000 }], alerts: [] });
  const app = createApp({ store: flaky(store, down), cache, intervals: ["1m", "5m"] });
  const get = async (path: string) => {
    const res = await app.request(path);
    return { status: res.status, body: (await res.json()) as { error?: { code: string; field?: string; message: string } } & Record<string, any> };
  };
  return { get, down };
}

describe("bad input gets a 400 naming the field", () => {
  const cases: [string, string][] = [
    ["/api/v1/candles/BTCUSDT?from=yesterday", "from"],
    ["/api/v1/candles/BTCUSDT?to=1.5", "to"],
    ["/api/v1/candles/BTCUSDT?limit=0", "limit"],
    ["/api/v1/candles/BTCUSDT?limit=99999", "limit"],
    ["/api/v1/candles/BTCUSDT?limit=ten", "limit"],
    ["/api/v1/candles/BTCUSDT?interval=7x", "interval"],
    ["/api/v1/candles/BTCUSDT?interval=1h", "interval"],
    ["/api/v1/candles/BTCUSDT?cursor=%3Cscript%3E", "cursor"],
    ["/api/v1/candles/BTCUSDT?cursor=not-a-cursor", "cursor"],
    [`/api/v1/candles/BTCUSDT?from=${candle.openTime}&to=${candle.openTime}`, "to"],
    ["/api/v1/latest/BTCUSDT?interval=", "interval"],
    ["/api/v1/alerts?since=now", "since"],
    ["/api/v1/alerts?limit=-3", "limit"],
  ];
  for (const [path, field] of cases) {
    test(path, async () => {
      const { get } = await setup();
      const { status, body } = await get(path);
      expect(status).toBe(400);
      expect(body.error).toMatchObject({ code: "BAD_REQUEST", field });
      expect(body.error!.message).toStartWith(`${field}: `);
    });
  }
});

describe("unknown things get a 404", () => {
  for (const path of ["/api/v1/candles/DOGEUSDT", "/api/v1/latest/DOGEUSDT", "/api/v1/alerts?symbol=DOGEUSDT", "/api/v1/nope", "/api/v2/symbols"]) {
    test(path, async () => {
      const { get } = await setup();
      const { status, body } = await get(path);
      expect(status).toBe(404);
      expect(body.error!.code).toBe("NOT_FOUND");
    });
  }

  test("a known symbol without a candle of that interval yet", async () => {
    const { get } = await setup();
    const { status, body } = await get("/api/v1/latest/BTCUSDT?interval=5m");
    expect(status).toBe(404);
    expect(body.error!.message).toContain("5m");
  });
});

describe("a dependency that is down", () => {
  test("the store: 503 for the routes that need it and for health, and service resumes when it is back", async () => {
    const { get, down } = await setup();
    down.store = true;
    for (const path of ["/api/v1/symbols", "/api/v1/candles/BTCUSDT", "/api/v1/alerts"]) {
      const { status, body } = await get(path);
      expect(status).toBe(503);
      expect(body.error).toMatchObject({ code: "UNAVAILABLE" });
      expect(body.error!.message).toContain("store");
    }
    const health = await get("/api/v1/health");
    expect(health.status).toBe(503);
    expect(health.body.status).toBe("down");
    expect(health.body.dependencies.store).toMatchObject({ ok: false, detail: "connection refused" });
    expect(health.body.dependencies.cache).toMatchObject({ ok: true });
    down.store = false;
    expect((await get("/api/v1/candles/BTCUSDT")).body.candles).toHaveLength(2);
    expect((await get("/api/v1/health")).status).toBe(200);
  });

  test("the cache: latest still answers from the store, health says which one is down", async () => {
    const { get } = await setup(brokenCache());
    const latest = await get("/api/v1/latest/BTCUSDT?interval=1m");
    expect(latest.status).toBe(200);
    expect(latest.body.candle.openTime).toBe(candle.openTime + 60_000);
    const health = await get("/api/v1/health");
    expect(health.status).toBe(503);
    expect(health.body.dependencies.cache).toMatchObject({ ok: false });
    expect(health.body.dependencies.store).toMatchObject({ ok: true });
  });

  test("a dependency that hangs is a 503 after the timeout, not a hung request", async () => {
    const store = memoryStore();
    const hung: CandleStore = { ...store, symbols: () => new Promise(() => {}), health: () => new Promise(() => {}) };
    const app = createApp({ store: hung, intervals: ["1m"], timeoutMs: 50 });
    expect((await app.request("/api/v1/symbols")).status).toBe(503);
    const health = await app.request("/api/v1/health");
    expect(health.status).toBe(503);
    expect(((await health.json()) as any).dependencies.store.detail).toContain("50 ms");
  });
});
