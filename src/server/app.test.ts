import { beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { decodeBinanceWs } from "../lib/binance.ts";
import { Engine } from "../lib/engine.ts";
import type { Alert, Candle, Trade } from "../lib/types.ts";
import { memoryCache } from "./adapters/memory-cache.ts";
import { memoryStore } from "./adapters/memory-store.ts";
import { sqliteStore } from "./adapters/sqlite.ts";
import type { CandleStore } from "./adapters/types.ts";
import { createApp } from "./app.ts";
import { exposition } from "./metrics.ts";

// The project's clean fixture: 107 BTCUSDT trades, 00:00:20 → 00:05:30 UTC on 2024-01-01, none in 00:02–00:03.
const FILE = join(import.meta.dir, "../../fixtures/clean.ws.jsonl");
const T0 = Date.UTC(2024, 0, 1);
const MIN = 60_000;

/** Every final candle and alert of the fixture, committed to `store` the way the pipeline does. */
async function load(store: CandleStore): Promise<{ candles: Candle[]; alerts: Alert[] }> {
  const text = await Bun.file(FILE).text();
  const trades = text.split("\n").filter(Boolean).map(decodeBinanceWs).filter((t): t is Trade => t !== null);
  const engine = new Engine({ intervals: ["1m", "5m"], rules: { default: { whale: { notional: 15_000 } } } });
  const events = [...engine.ingestMany(trades), ...engine.flush()];
  const candles = events.flatMap((e) => (e.type === "update" || e.type === "final" || e.type === "revision" ? [e.candle] : []));
  const alerts = events.flatMap((e) => (e.type === "alert" ? [e.alert] : []));
  await store.commit({ candles, alerts });
  return { candles: candles.filter((c) => c.final), alerts };
}

for (const [name, make] of [["memory", () => memoryStore()], ["sqlite", () => sqliteStore({ path: ":memory:" })]] as const) {
  describe(`REST API over the ${name} store`, () => {
    const store = make();
    const cache = memoryCache();
    let finals: Candle[] = [];
    let alerts: Alert[] = [];
    const app = createApp({
      store, cache, intervals: ["1m", "5m"], clock: () => T0 + 10 * MIN,
      health: { source: () => ({ adapter: "replay", ok: true }) },
      vitals: () => ({ lag: 0, lastTradeAgeMs: 1234 }),
      metrics: () => exposition({
        trades: 107, rejected: 0, late: 0, duplicates: 0, alerts: alerts.length, candles: { update: 3, final: 7, revision: 0 },
        wsClients: 0, wsBuffered: 0, wsBadMessages: 0, wsConflated: 0, wsClosed: { slow: 0, abusive: 0 }, lagRecords: 0,
        checkpointAgeSeconds: Number.NaN, commits: 1,
      }),
    });
    const get = async (path: string) => {
      const res = await app.request(path);
      return { status: res.status, body: (await res.json()) as Record<string, any> };
    };

    beforeAll(async () => {
      ({ candles: finals, alerts } = await load(store));
    });

    test("symbols lists what the store holds and the intervals", async () => {
      expect(await get("/api/v1/symbols")).toEqual({ status: 200, body: { symbols: ["BTCUSDT"], intervals: ["1m", "5m"] } });
    });

    test("candles come back as stored, ascending, 1m windows without trades skipped", async () => {
      const { status, body } = await get("/api/v1/candles/BTCUSDT?interval=1m");
      expect(status).toBe(200);
      expect(body.candles.map((c: Candle) => (c.openTime - T0) / MIN)).toEqual([0, 1, 3, 4, 5]);
      expect(body.candles).toEqual(finals.filter((c) => c.interval === "1m"));
      expect(body.cursor).toBeNull();
      expect(body.candles[0]).toMatchObject({ symbol: "BTCUSDT", interval: "1m", final: true, rev: 0 });
    });

    test("the interval defaults to the first configured one, and from/to bound openTime", async () => {
      const { body } = await get(`/api/v1/candles/BTCUSDT?from=${T0 + MIN}&to=${T0 + 4 * MIN}`);
      expect(body.interval).toBe("1m");
      expect(body.candles.map((c: Candle) => (c.openTime - T0) / MIN)).toEqual([1, 3]);
    });

    test("pages of `limit` follow their cursor to the end, without overlap or hole", async () => {
      const seen: number[] = [];
      let url = "/api/v1/candles/BTCUSDT?interval=1m&limit=2";
      for (let pages = 0; pages < 10; pages++) {
        const { body } = await get(url);
        seen.push(...body.candles.map((c: Candle) => c.openTime));
        if (body.cursor === null) break;
        expect(body.candles).toHaveLength(2);
        url = `/api/v1/candles/BTCUSDT?interval=1m&limit=2&cursor=${encodeURIComponent(body.cursor)}`;
      }
      expect(seen).toEqual(finals.filter((c) => c.interval === "1m").map((c) => c.openTime));
    });

    test("latest answers the newest candle of the interval, from the store when the cache has none", async () => {
      const { status, body } = await get("/api/v1/latest/BTCUSDT?interval=5m");
      expect(status).toBe(200);
      expect(body.candle).toEqual(finals.filter((c) => c.interval === "5m").at(-1)!);
      expect((await get("/api/v1/latest/btcusdt?interval=5m")).body.candle.openTime).toBe(T0 + 5 * MIN);
    });

    test("latest prefers the cache", async () => {
      const newest = { ...finals.at(-1)!, interval: "1m", openTime: T0 + 6 * MIN, final: false };
      await cache.setLatest([newest]);
      expect((await get("/api/v1/latest/BTCUSDT?interval=1m")).body.candle).toEqual(newest);
    });

    test("alerts: by symbol since a time, and the most recent ones without `since`", async () => {
      expect(alerts.length).toBeGreaterThan(2);
      const all = await get(`/api/v1/alerts?symbol=BTCUSDT&since=${T0}`);
      expect(all.body.alerts).toEqual([...alerts].sort((a, b) => a.ts - b.ts || (a.id < b.id ? -1 : 1)));
      const recent = await get("/api/v1/alerts?limit=2");
      expect(recent.body.alerts).toEqual(all.body.alerts.slice(-2));
    });

    test("health names every dependency and its vitals", async () => {
      const { status, body } = await get("/api/v1/health");
      expect(status).toBe(200);
      expect(body.status).toBe("ok");
      expect(Object.keys(body.dependencies).sort()).toEqual(["cache", "source", "store"]);
      expect(body.dependencies.store).toMatchObject({ ok: true });
      expect(body.lastTradeAgeMs).toBe(1234);
    });

    test("metrics are Prometheus text", async () => {
      const res = await app.request("/api/v1/metrics");
      expect(res.headers.get("content-type")).toStartWith("text/plain; version=0.0.4");
      const text = await res.text();
      expect(text).toContain("# TYPE candleflow_trades_total counter\ncandleflow_trades_total 107\n");
      expect(text).toContain('candleflow_candles_total{kind="final"} 7\n');
      expect(text).toContain("candleflow_checkpoint_age_seconds NaN\n");
    });
  });
}
