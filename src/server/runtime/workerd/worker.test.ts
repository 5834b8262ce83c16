/**
 * The Workers entry inside workerd (Miniflare's programmatic API, local only, no account): the
 * bundle, REST, ingest, the cron pull from a local fake Binance, WebSockets from a symbol's
 * Durable Object, restart from the stored snapshot, and parity with the engine run in process.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Miniflare } from "miniflare";
import { decodeBinanceWs } from "../../../lib/binance.ts";
import { Engine } from "../../../lib/engine.ts";
import type { Trade } from "../../../lib/types.ts";
import { fakeBinance, generateTrades } from "../../testing/binance.ts";
import {
  allCandles, bundle, cleanup, client, dirs, embedded, expectParity, fromRaw, get, inBatches, ingest, INTERVALS, recorded, ROOT, start, stop, SYMBOLS,
} from "./harness.ts";

afterAll(cleanup);

test("the bundle is Web-standard: no node: or bun: module, only cloudflare:workers left to the platform", async () => {
  const script = await bundle();
  const imports = [...script.matchAll(/^import .* from ["']([^"']+)["']/gm)].map((m) => m[1]);
  expect(imports).toEqual(["cloudflare:workers"]);
  expect(script).not.toMatch(/["'](node|bun):[a-z_/]+["']/);
});

describe("REST and ingest", () => {
  let mf: Miniflare;
  beforeAll(async () => {
    const t0 = performance.now();
    mf = await start();
    const ready = performance.now();
    const first = await get(mf, "/api/v1/health");
    const done = performance.now();
    console.log(`cold start in workerd: ${(done - t0).toFixed(0)} ms to the first answer (${(ready - t0).toFixed(0)} ms workerd start and bundle load, ${(done - ready).toFixed(0)} ms first request waking ${SYMBOLS.length} Durable Objects)`);
    expect(first.status).toBe(200);
  });

  test("symbols, health, and bad input answer as on Bun, with the JSON error body", async () => {
    expect((await get(mf, "/api/v1/symbols")).body).toEqual({ symbols: SYMBOLS, intervals: INTERVALS });
    const health = await get(mf, "/api/v1/health");
    expect(health.body.status).toBe("ok");
    expect(health.body.dependencies.store).toEqual({ adapter: "durable-objects", ok: true, detail: "3 objects" });
    expect(await get(mf, "/api/v1/candles/BTCUSDT?interval=7m")).toEqual({
      status: 400, body: { error: { code: "BAD_REQUEST", field: "interval", message: "interval: must be one of 1m, 5m, 15m, 1h" } },
    });
    expect((await get(mf, "/api/v1/candles/BTCUSDT?limit=0")).body.error.field).toBe("limit");
    expect((await get(mf, "/api/v1/candles/DOGEUSDT")).status).toBe(404);
    expect((await get(mf, "/api/v1/latest/BTCUSDT")).status).toBe(404);
    expect((await get(mf, "/nope")).body.error.code).toBe("NOT_FOUND");
  });

  test("ingest refuses bad bodies: 400 naming the field, 413 over the size limit", async () => {
    const bad = await ingest(mf, [{ ...recorded[0]!, price: "1e5" }]);
    expect(bad).toEqual({ status: 400, body: { error: { code: "BAD_REQUEST", field: "trades.0.price", message: "trades.0.price: must be a decimal string" } } });
    expect((await ingest(mf, [{ ...recorded[0]!, symbol: "DOGEUSDT" }])).body.error.field).toBe("trades.0.symbol");
    expect((await ingest(mf, [])).body.error.field).toBe("trades");
    expect((await ingest(mf, [], { body: "{not json" })).body.error).toEqual({ code: "BAD_REQUEST", field: "body", message: "body: must be JSON" });
    const big = await ingest(mf, [], { body: JSON.stringify({ trades: [], pad: "x".repeat(1024 * 1024) }) });
    expect(big.status).toBe(413);
    expect(big.body.error.code).toBe("TOO_LARGE");
  });

  test("recorded trades pushed through ingest give the candles of the in-process engine, every field and interval (parity)", async () => {
    await inBatches(mf, recorded);
    const n = await expectParity(mf, recorded);
    expect(n).toBeGreaterThan(20);
    const latest = await get(mf, "/api/v1/latest/ETHUSDT?interval=5m");
    expect(latest.body.candle).toEqual((await (await embedded(recorded)).latest("ETHUSDT", "5m"))!);
    // Two objects, two engines: each checkpoint holds its own symbol only.
    // Miniflare types these with the Workers types, which the project does not load.
    const ns = (await mf.getDurableObjectNamespace("CANDLES")) as unknown as { get(id: unknown): any; idFromName(name: string): unknown };
    for (const symbol of ["BTCUSDT", "ETHUSDT"]) {
      const read = (await (ns.get(ns.idFromName(symbol)) as any).read("loadCheckpoint", ["engine"])) as { ok: true; value: { bytes: Uint8Array } };
      expect(Engine.restore(read.value.bytes).symbols()).toEqual([symbol]);
    }
    // Sent again, the same trades change nothing: they are dropped by id.
    const again = await ingest(mf, recorded.slice(0, 300));
    expect(Object.values(again.body.symbols).reduce((n: number, r: any) => n + r.duplicates, 0)).toBe(300);
    await expectParity(mf, recorded);
  });

  test("a client gets hello, a columnar snapshot, then live candle frames; ping answers pong; a bad frame an error", async () => {
    const c = await client(mf, "btcusdt");
    await c.until((f) => f.some((x) => x.type === "hello"));
    expect(c.frames[0]).toMatchObject({ type: "hello", version: 1, symbols: ["BTCUSDT"], intervals: INTERVALS });
    c.send({ op: "subscribe", symbols: ["BTCUSDT"], intervals: ["1m"] });
    await c.until((f) => f.some((x) => x.type === "snapshot"));
    const snap = c.frames.find((x) => x.type === "snapshot");
    const stored = await allCandles(mf, "BTCUSDT", "1m");
    expect(snap).toMatchObject({ symbol: "BTCUSDT", interval: "1m", candles: stored.length });
    expect(snap.columns[0]).toEqual(stored.map((k) => k.openTime / 1000));
    expect(snap.columns[4]).toEqual(stored.map((k) => Number(k.close)));
    const last = recorded.filter((t) => t.symbol === "BTCUSDT").at(-1)!;
    const later = Array.from({ length: 40 }, (_, i) => ({ ...last, id: last.id + 1 + i, ts: last.ts + i * 3000 }));
    await ingest(mf, later.slice(0, 20));
    await ingest(mf, later.slice(20));
    await c.until((f) => f.some((x) => x.type === "candle" && x.kind === "final") && f.some((x) => x.type === "candle" && x.kind === "update"));
    expect(c.frames.filter((x) => x.type === "candle").every((x) => x.candle.symbol === "BTCUSDT" && x.candle.interval === "1m")).toBe(true);
    c.send({ op: "ping" });
    c.send({ op: "subscribe", symbols: ["BTCUSDT"], intervals: ["2m"] });
    await c.until((f) => f.some((x) => x.type === "pong") && f.some((x) => x.type === "error"));
    expect(c.frames.find((x) => x.type === "error")).toMatchObject({ code: "UNKNOWN_INTERVAL" });
    c.ws.close(1000);
    const refused = await mf.dispatchFetch("http://candleflow.test/ws?symbol=DOGE", { headers: { upgrade: "websocket" } });
    expect(refused.status).toBe(400);
  });
});

describe("cron pull and restart", () => {
  test("the scheduled pull reads aggTrades by id from the exchange's REST API into candles", async () => {
    const raw = [...generateTrades(1500, "BTCUSDT", 5_000_000), ...generateTrades(900, "ETHUSDT", 7_000_000, 1_723_161_260_000)];
    const fake = fakeBinance(raw);
    try {
      const mf = await start({ SYMBOLS: "BTCUSDT,ETHUSDT", EXCHANGE_REST_URL: fake.restUrl, PULL_PAGES: "5" });
      const worker = (await mf.getWorker()) as unknown as { scheduled(options: { cron: string }): Promise<unknown> };
      fake.emit(800);
      await worker.scheduled({ cron: "* * * * *" });
      fake.emit(raw.length);
      await worker.scheduled({ cron: "* * * * *" });
      await worker.scheduled({ cron: "* * * * *" });
      expect(fake.requests).toContain("/api/v3/aggTrades?symbol=BTCUSDT&fromId=5000800&limit=1000");
      await expectParity(mf, raw.map(fromRaw));
      await stop(mf);
    } finally {
      await fake.close();
    }
  });

  test("with ADVANCE_ON_CRON, a cron run closes the windows an idle symbol left open; without it they stay open (parity)", async () => {
    const btc = recorded.filter((t) => t.symbol === "BTCUSDT");
    const last = btc.at(-1)!;
    const open = async (vars: Record<string, string>) => {
      const mf = await start({ SYMBOLS: "BTCUSDT", ...vars });
      await inBatches(mf, btc);
      const worker = (await mf.getWorker()) as unknown as { scheduled(options: { cron: string; scheduledTime: Date }): Promise<unknown> };
      await worker.scheduled({ cron: "* * * * *", scheduledTime: new Date(last.ts + 2 * 3_600_000) });
      const latest = (await get(mf, "/api/v1/latest/BTCUSDT?interval=1h")).body.candle;
      await stop(mf);
      return latest;
    };
    expect((await open({})).final).toBe(false);
    const closed = await open({ ADVANCE_ON_CRON: "1" });
    expect(closed.final).toBe(true);
    const want = (await (await embedded(btc)).latest("BTCUSDT", "1h"))!;
    expect({ ...closed, final: false, rev: want.rev }).toEqual(want);
  });

  test("an object restarted from its stored snapshot continues as one uninterrupted run", async () => {
    const dir = mkdtempSync(join(tmpdir(), "candleflow-workerd-"));
    dirs.push(dir);
    const half = Math.floor(recorded.length / 2);
    let mf = await start({}, dir);
    await inBatches(mf, recorded.slice(0, half), 250);
    await stop(mf);
    mf = await start({}, dir);
    // The last batch before the restart, sent again, is recognised as already committed.
    const replay = await ingest(mf, recorded.slice(half - 50, half));
    expect(Object.values(replay.body.symbols).reduce((n: number, r: any) => n + r.duplicates, 0)).toBe(50);
    await inBatches(mf, recorded.slice(half), 250);
    await expectParity(mf, recorded);
    await stop(mf);
  });
});

test("a snapshot larger than one storage value (128 KiB) is stored in chunks, and a restart restores it", async () => {
  const dir = mkdtempSync(join(tmpdir(), "candleflow-workerd-"));
  dirs.push(dir);
  // Every other id missing: the engine remembers thousands of id gaps, and its snapshot grows past one value.
  const gapped = generateTrades(16_000, "BTCUSDT").map(fromRaw).map((t, i) => ({ ...t, id: t.id + i }));
  const vars = { SYMBOLS: "BTCUSDT", MAX_ID_GAPS: "20000" };
  let mf = await start(vars, dir);
  await inBatches(mf, gapped.slice(0, 15_000), 1000);
  const read = async () => {
    const ns = (await mf.getDurableObjectNamespace("CANDLES")) as unknown as { get(id: unknown): any; idFromName(name: string): unknown };
    return ((await ns.get(ns.idFromName("BTCUSDT")).read("loadCheckpoint", ["engine"])) as { value: { bytes: Uint8Array } }).value.bytes;
  };
  const bytes = await read();
  expect(bytes.length).toBeGreaterThan(128 * 1024);
  await stop(mf);
  mf = await start(vars, dir);
  expect(await read()).toEqual(bytes);
  await inBatches(mf, gapped.slice(15_000), 1000);
  await expectParity(mf, gapped);
  await stop(mf);
});

const SHARED = join(ROOT, "../shared/fixtures/binance-spot-btcusdt-2024-08-08/trades.ws.jsonl");
test.skipIf(!existsSync(SHARED))("parity on the shared recording (19,904 BTCUSDT trades) when it is present", async () => {
  const trades = readFileSync(SHARED, "utf8").split("\n").filter(Boolean).map((l) => decodeBinanceWs(l)).filter((t): t is Trade => t !== null);
  const mf = await start({ SYMBOLS: "BTCUSDT" });
  await inBatches(mf, trades, 2000);
  expect(await expectParity(mf, trades)).toBeGreaterThan(12);
  await stop(mf);
});
if (!existsSync(SHARED)) console.warn(`skipped: parity on ${SHARED} (not present)`);

test("with INGEST_TOKEN set, ingest needs its bearer token (401 without)", async () => {
  const mf = await start({ SYMBOLS: "BTCUSDT", INGEST_TOKEN: "s3cret" });
  const one = recorded.filter((t) => t.symbol === "BTCUSDT").slice(0, 1);
  expect((await ingest(mf, one)).body.error.code).toBe("UNAUTHORIZED");
  const ok = await ingest(mf, one, { headers: { authorization: "Bearer s3cret" } });
  expect(ok.body.symbols.BTCUSDT).toMatchObject({ trades: 1, candles: INTERVALS.length });
  await stop(mf);
});

describe("figures", () => {
  test("ingest trades/s through one object, and WebSocket deliveries/s from it", async () => {
    const mf = await start({ SYMBOLS: "BTCUSDT" });
    const trades = generateTrades(60_000, "BTCUSDT").map(fromRaw);
    await inBatches(mf, trades.slice(0, 2000), 2000);
    let t0 = performance.now();
    await inBatches(mf, trades.slice(2000), 2000);
    const perSecond = (58_000 / (performance.now() - t0)) * 1000;
    const clients = await Promise.all(Array.from({ length: 20 }, () => client(mf, "BTCUSDT")));
    for (const c of clients) c.send({ op: "subscribe", symbols: ["BTCUSDT"], intervals: INTERVALS });
    await Promise.all(clients.map((c) => c.until((f) => f.filter((x) => x.type === "snapshot").length === INTERVALS.length)));
    const last = trades.at(-1)!;
    const more = Array.from({ length: 2000 }, (_, i) => ({ ...last, id: last.id + 1 + i, ts: last.ts + 50 * (i + 1) }));
    const before = clients.reduce((n, c) => n + c.frames.length, 0);
    t0 = performance.now();
    await inBatches(mf, more, 10);
    const sent = () => clients.reduce((n, c) => n + c.frames.filter((x) => x.type === "candle").length, 0);
    await Promise.all(clients.map((c) => c.until((f) => f.filter((x) => x.type === "candle").length >= 200 * INTERVALS.length)));
    const deliveries = sent();
    const seconds = (performance.now() - t0) / 1000;
    console.log(`ingest through one Durable Object: ${Math.round(perSecond)} trades/s (batches of 2000, each one commit with its snapshot)`);
    console.log(`WebSocket deliveries from one Durable Object: ${Math.round(deliveries / seconds)} frames/s (20 clients × 4 intervals, 200 ingests of 10 trades; ${before} frames before)`);
    expect(perSecond).toBeGreaterThan(1000);
    for (const c of clients) c.ws.close(1000);
    await stop(mf);
  }, 60_000);
});
