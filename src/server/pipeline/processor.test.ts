import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { decodeBinanceWs } from "../../lib/binance.ts";
import { Engine } from "../../lib/engine.ts";
import type { Alert, Candle, EngineEvent, EngineOptions, Trade } from "../../lib/types.ts";
import { AdapterError } from "../adapters/errors.ts";
import { fileLog } from "../adapters/file-log.ts";
import { memoryCache } from "../adapters/memory-cache.ts";
import { memoryLog } from "../adapters/memory-log.ts";
import { memoryStore } from "../adapters/memory-store.ts";
import type { CandleStore, TradeLog } from "../adapters/types.ts";
import { channels, pipeline } from "./processor.ts";
import { mulberry32 as random } from "../testing/random.ts";

const ROOT = join(import.meta.dir, "../../..");
const RECORDED = join(ROOT, "../shared/fixtures/binance-spot-btcusdt-2024-08-08/trades.ws.jsonl");
const haveRecorded = existsSync(RECORDED);
if (!haveRecorded) console.warn(`pipeline: ${RECORDED} is absent; the recorded-stream test is skipped`);

const OPTIONS: EngineOptions = {
  intervals: ["1m", "5m", "15m"],
  allowedLateness: 5_000,
  rules: { default: { whale: { notional: 100_000 }, priceMove: { percent: 0.5 }, gap: {} } },
};
const BASE: Record<string, number> = { BTCUSDT: 61_800, ETHUSDT: 2_600, SOLUSDT: 150 };


/** ~10 minutes of three symbols, with late trades (some past allowed lateness), duplicates and id gaps. */
function stream(n = 3000, seed = 7): Trade[] {
  const next = random(seed);
  const ids: Record<string, number> = { BTCUSDT: 1_000, ETHUSDT: 50_000, SOLUSDT: 90_000 };
  const out: Trade[] = [];
  let ts = 1_723_161_255_342;
  for (let i = 0; i < n; i++) {
    const symbol = Object.keys(BASE)[Math.floor(next() * 3)]!;
    ts += Math.floor(next() * 400);
    ids[symbol]! += next() < 0.01 ? 3 : 1;
    const late = next() < 0.04 ? Math.floor(next() * 20_000) : 0;
    const trade: Trade = {
      symbol, id: ids[symbol]!, price: (BASE[symbol]! * (1 + (next() - 0.5) / 50)).toFixed(2),
      qty: (next() * 2 + 0.001).toFixed(3), ts: ts - late, side: next() < 0.5 ? "buy" : "sell",
    };
    out.push(trade);
    if (next() < 0.02) out.push({ ...trade });
  }
  return out;
}

const key = (c: Candle) => `${c.symbol}|${c.interval}|${c.openTime}`;
const byKey = (a: Candle, b: Candle) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);

/** What one engine that never stopped ends with: the last candle of every window, and every alert. */
function uninterrupted(trades: Trade[], options: EngineOptions = OPTIONS) {
  const engine = new Engine(options);
  const events: EngineEvent[] = [...engine.ingestMany(trades), ...engine.flush()];
  const last = new Map<string, Candle>();
  for (const e of events) if (e.type === "final" || e.type === "revision" || e.type === "update") last.set(key(e.candle), e.candle);
  const alerts = events.flatMap((e) => (e.type === "alert" ? [e.alert] : []));
  return { candles: [...last.values()].sort(byKey), alerts: alerts.sort((a, b) => (a.id < b.id ? -1 : 1)), stats: engine.stats() };
}

async function dump(store: CandleStore, intervals = OPTIONS.intervals!) {
  const candles: Candle[] = [];
  for (const symbol of await store.symbols()) {
    for (const interval of intervals) {
      let cursor: string | undefined;
      do {
        const page = await store.candles(symbol, interval, { limit: 37, cursor });
        candles.push(...page.candles);
        cursor = page.cursor;
      } while (cursor);
    }
  }
  const alerts: Alert[] = (await store.alerts({ limit: 5000 })).sort((a, b) => (a.id < b.id ? -1 : 1));
  return { candles: candles.sort(byKey), alerts };
}

async function filled(trades: Trade[], partitions = 1): Promise<TradeLog> {
  const log = memoryLog({ partitions });
  await log.append(trades);
  return log;
}

describe("pipeline", () => {
  const trades = stream();
  const expected = uninterrupted(trades);

  test("the stream has what the recovery claims need: revisions, late trades, duplicates, alerts", () => {
    expect(expected.stats.revisions).toBeGreaterThan(0);
    expect(expected.stats.late).toBeGreaterThan(0);
    expect(expected.stats.duplicates).toBeGreaterThan(0);
    expect(expected.alerts.length).toBeGreaterThan(0);
    expect(expected.candles.every((c) => c.final)).toBe(true);
  });

  test("after finish the store holds exactly the candles and alerts of an engine that never stopped", async () => {
    const store = memoryStore();
    const p = pipeline({ log: await filled(trades), store, engine: OPTIONS, batch: 7, commitTrades: 50, clock: () => 0 });
    await p.finish();
    expect(await dump(store)).toEqual({ candles: expected.candles, alerts: expected.alerts });
    expect(p.status().state).toBe("done");
    // Every 56 trades (8 batches of 7), then one for the rest and the flush.
    expect(p.status().commits).toBe(Math.floor(trades.length / 56) + 1);
  });

  test("a restart resumes from the last commit: work after it is redone once, nothing is counted twice", async () => {
    const log = await filled(trades);
    const store = memoryStore();
    const first = pipeline({ log, store, engine: OPTIONS, batch: 64, commitTrades: 500, clock: () => 0 });
    for (let i = 0; i < 20; i++) await first.step();
    const { offset, committed } = first.status().partitions[0]!;
    expect(committed).toBeGreaterThan(0);
    expect(offset).toBeGreaterThan(committed);
    // `first` is abandoned here with uncommitted work, as if the process had died.
    const second = pipeline({ log, store, engine: OPTIONS, batch: 64, commitTrades: 500, clock: () => 0 });
    await second.start();
    expect(second.status().partitions[0]!.offset).toBe(committed);
    await second.finish();
    expect(await dump(store)).toEqual({ candles: expected.candles, alerts: expected.alerts });
    expect(second.status().engine).toEqual(expected.stats);
  });

  test("run retries a store that fails now and then, and loses nothing", async () => {
    const inner = memoryStore();
    let calls = 0;
    let flakiness = 3;
    const flaky: CandleStore = {
      ...inner,
      async commit(batch) {
        if (++calls % flakiness === 0) throw new AdapterError("flaky", "UNAVAILABLE", "connection reset");
        return inner.commit(batch);
      },
    };
    const errors: unknown[] = [];
    const p = pipeline({ log: await filled(trades), store: flaky, engine: OPTIONS, batch: 100, commitTrades: 200, idleMs: 1, onError: (e) => errors.push(e) });
    const stop = new AbortController();
    const running = p.run(stop.signal);
    const caughtUp = () => p.status().partitions.length > 0 && p.status().lag === 0;
    for (let i = 0; i < 2000 && !caughtUp(); i++) await Bun.sleep(2);
    expect(caughtUp()).toBe(true);
    stop.abort();
    await running;
    expect(p.status().state).toBe("stopped");
    flakiness = Infinity;
    await p.finish();
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((e) => e instanceof AdapterError && e.retryable)).toBe(true);
    expect(await dump(inner)).toEqual({ candles: expected.candles, alerts: expected.alerts });
  });

  test("a reader that fell behind the log's retention fails loudly and stays failed", async () => {
    const log = memoryLog({ retention: 50 });
    const p = pipeline({ log, store: memoryStore(), engine: OPTIONS });
    await p.start();
    await log.append(trades.slice(0, 200));
    await expect(p.step()).rejects.toMatchObject({ code: "OFFSET_OUT_OF_RANGE" });
    expect(p.status().state).toBe("failed");
    expect(p.status().error).toContain("retention");
    await expect(p.step()).rejects.toMatchObject({ code: "OFFSET_OUT_OF_RANGE" });
  });

  test("with symbol partitions each partition has its own checkpoint and the candles are the same", async () => {
    const log = await filled(trades, 4);
    const store = memoryStore();
    const p = pipeline({ log, store, engine: OPTIONS, batch: 50, commitTrades: 300, clock: () => 0 });
    await p.finish();
    expect(await dump(store)).toEqual({ candles: expected.candles, alerts: expected.alerts });
    const used = p.status().partitions.filter((s) => s.highWatermark > 0);
    expect(used.length).toBeGreaterThan(1);
    for (const s of used) expect((await store.loadCheckpoint(`candleflow:${s.partition}`))?.offsets).toBe(JSON.stringify({ [s.partition]: s.highWatermark }));
  });

  test("subscribers get the candle events and the cache the latest candles, the same as the store", async () => {
    const cache = memoryCache();
    const store = memoryStore();
    const seen: EngineEvent[] = [];
    const alerts: EngineEvent[] = [];
    await cache.subscribe(channels.candles("BTCUSDT", "1m"), (m) => seen.push(JSON.parse(m)));
    await cache.subscribe(channels.alerts("BTCUSDT"), (m) => alerts.push(JSON.parse(m)));
    const p = pipeline({ log: await filled(trades), store, cache, engine: OPTIONS, batch: 100, commitTrades: 100, clock: () => 0 });
    await p.finish();
    const finals = seen.filter((e) => e.type === "final").map((e) => (e as { candle: Candle }).candle.openTime);
    const stored = (await store.candles("BTCUSDT", "1m")).candles;
    expect(finals).toEqual(stored.map((c) => c.openTime));
    expect(seen.some((e) => e.type === "update")).toBe(true);
    // Coalescing keeps the latest event per window: never an open update after its final.
    const closed = new Set<number>();
    for (const e of seen) {
      const c = (e as { candle: Candle }).candle;
      if (e.type === "update") expect(closed.has(c.openTime)).toBe(false);
      else closed.add(c.openTime);
    }
    expect(alerts.map((e) => (e as { alert: Alert }).alert.id).sort()).toEqual(expected.alerts.filter((a) => a.symbol === "BTCUSDT").map((a) => a.id).sort());
    expect(await cache.latest("BTCUSDT", "1m")).toEqual(stored.at(-1));
    expect(await cache.latest("ETHUSDT", "15m")).toEqual(await store.latest("ETHUSDT", "15m"));
  });

  test("eventTime closes a quiet symbol's window without further trades", async () => {
    const quiet = trades.filter((t) => t.symbol === "SOLUSDT").slice(0, 5);
    const last = Math.max(...quiet.map((t) => t.ts));
    const without = memoryStore();
    await pipeline({ log: await filled(quiet), store: without, engine: OPTIONS, commitMs: 0 }).drain();
    expect((await without.candles("SOLUSDT", "1m")).candles.map((c) => c.final)).toEqual([false]);
    const store = memoryStore();
    await pipeline({ log: await filled(quiet), store, engine: OPTIONS, commitMs: 0, eventTime: () => last + 120_000 }).drain();
    expect((await store.candles("SOLUSDT", "1m")).candles.map((c) => c.final)).toEqual([true]);
  });

  test("status reports lag, commits and trades per second from the clock it is given", async () => {
    let now = 1_000_000;
    const p = pipeline({ log: await filled(trades.slice(0, 1000)), store: memoryStore(), engine: OPTIONS, batch: 100, commitTrades: 300, commitMs: 10_000, clock: () => now });
    await p.start();
    expect(p.status()).toMatchObject({ state: "running", lag: 1000, commits: 0, trades: 0, tradesPerSecond: 0 });
    for (let i = 0; i < 4; i++) {
      now += 1000;
      await p.step();
    }
    const s = p.status();
    expect(s.lag).toBe(600);
    expect(s.trades).toBe(400);
    expect(s.tradesPerSecond).toBe(100);
    expect(s.commits).toBe(1);
    expect(s.lastCommitAt).toBe(1_003_000);
    expect(s.partitions[0]).toEqual({ partition: 0, offset: 400, committed: 300, highWatermark: 1000, lag: 600 });
  });

  test.skipIf(!haveRecorded)("the recorded Binance stream through a file log matches the engine fed directly", async () => {
    const log = fileLog({ path: RECORDED, decode: decodeBinanceWs });
    const options: EngineOptions = { intervals: ["1m", "5m", "15m", "1h"] };
    const all: Trade[] = [];
    for (let at = 0; at < (await log.highWatermark(0));) {
      const batch = await log.read(0, at, 10_000);
      all.push(...batch.records.map((r) => r.trade));
      at = batch.next;
    }
    const store = memoryStore();
    await pipeline({ log, store, engine: options, batch: 333, commitTrades: 1000, clock: () => 0 }).finish();
    const got = await dump(store, options.intervals);
    expect(got.candles).toEqual(uninterrupted(all, options).candles);
    expect(got.candles.filter((c) => c.interval === "1m").length).toBe(12);
  });
});
