import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import type { Trade } from "../../lib/types.ts";
import { fakeBinance, generateTrades, parseLines, type FakeBinance, type RawTrade } from "../testing/binance.ts";
import { until } from "../testing/wait.ts";
import { binanceSource, type BinanceSource } from "./binance.ts";

const FIXTURE = "../shared/fixtures/binance-spot-btcusdt-2024-08-08/trades.ws.jsonl";

function recording(): RawTrade[] {
  if (existsSync(FIXTURE)) return parseLines(readFileSync(FIXTURE, "utf8").split("\n")).slice(0, 8000);
  console.warn(`binance.test: ${FIXTURE} is absent; serving a generated stream instead of the recorded one`);
  return generateTrades(8000);
}

const recorded = recording();
const fast = { backoff: { baseMs: 5, maxMs: 20 }, idleMs: 0 };

function expected(raw: RawTrade[], aggregate = false): Trade[] {
  return raw.map((t) => ({ symbol: t.s, id: t.t, price: t.p, qty: t.q, ts: t.T, side: t.m ? "sell" : "buy", ...(aggregate ? { count: 1 } : {}) }));
}

let fake: FakeBinance | undefined;
let source: BinanceSource | undefined;
afterEach(async () => {
  await source?.stop();
  await fake?.close();
  source = fake = undefined;
});

function collect(src: BinanceSource) {
  const got: Trade[] = [];
  const run = src.start((trades) => {
    got.push(...trades);
  });
  return { got, run };
}

describe("binance source against a local fake exchange", () => {
  test("a sink that falls behind: the connection is shed past the backlog bound, then every id still arrives once", async () => {
    fake = fakeBinance(recorded);
    source = binanceSource({ symbols: ["btcusdt"], wsUrl: fake.wsUrl, restUrl: fake.restUrl, restLimit: 100, maxBacklog: 300, ...fast });
    const got: Trade[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    source.start(async (trades) => {
      await gate;
      got.push(...trades);
    });
    await fake.waitAccepted(1);
    // The sink is stuck while 3000 trades happen: the source must not queue them all.
    for (let i = 0; i < 30; i++) {
      fake.emit(100);
      await Bun.sleep(2);
    }
    await until(() => (source!.status().shed ?? 0) >= 1, "connection shed");
    release();
    await fake.waitAccepted(2);
    fake.emit(500);
    await until(() => got.length === 3500, "every trade, live or backfilled");
    expect(got).toEqual(expected(recorded.slice(0, 3500)));
  });

  test("two mid-stream disconnects: every id arrives exactly once, in order, equal to the recording", async () => {
    fake = fakeBinance(recorded);
    source = binanceSource({ symbols: ["btcusdt"], wsUrl: fake.wsUrl, restUrl: fake.restUrl, restLimit: 100, ...fast });
    const { got } = collect(source);
    await fake.waitAccepted(1);
    fake.emit(2000);
    await until(() => got.length === 2000, "first 2000 live trades");

    // Outage 1: the exchange refuses connections while 1500 trades happen.
    fake.down();
    fake.emit(1500);
    fake.up();
    await fake.waitAccepted(2);
    fake.emit(1000);
    await until(() => got.length === 4500, "trades after outage 1");

    // Outage 2: a plain drop; trades keep happening while the client reconnects.
    fake.drop();
    fake.emit(700);
    await fake.waitAccepted(3);
    fake.emit(800);
    await until(() => got.length === fake!.produced, "trades after outage 2");

    expect(got).toEqual(expected(recorded.slice(0, 6000)));
    const status = source.status();
    expect(status.reconnects).toBeGreaterThanOrEqual(2);
    expect(status.backfilled).toBeGreaterThanOrEqual(2200);
    // One fill may span both outages when the second comes before the first fill ends.
    expect(status.gaps).toBeGreaterThanOrEqual(1);
    expect(status.connected).toBe(true);
    expect(source.cursor()).toEqual({ BTCUSDT: recorded[5999]!.t });
    // Paging: 1500 missed trades at 100 a page took many requests, each from the next id.
    expect(fake.requests.filter((r) => r.startsWith("/api/v3/historicalTrades")).length).toBeGreaterThanOrEqual(15);
  });

  test("server ping frames are answered with pongs by the runtime", async () => {
    fake = fakeBinance(recorded);
    source = binanceSource({ symbols: ["BTCUSDT"], wsUrl: fake.wsUrl, restUrl: fake.restUrl, ...fast });
    collect(source);
    await fake.waitAccepted(1);
    await until(() => source!.status().connected, "client open");
    fake.ping("keepalive-1");
    await until(() => fake!.pongs.includes("keepalive-1"), "pong");
    expect(fake.pongs).toEqual(["keepalive-1"]);
  });

  test("aggTrade kind uses the aggTrade stream and /api/v3/aggTrades to fill the gap", async () => {
    fake = fakeBinance(recorded);
    source = binanceSource({ symbols: ["BTCUSDT"], kind: "aggTrade", wsUrl: fake.wsUrl, restUrl: fake.restUrl, restLimit: 250, ...fast });
    const { got } = collect(source);
    await fake.waitAccepted(1);
    fake.emit(300);
    await until(() => got.length === 300, "live aggTrades");
    fake.down();
    fake.emit(600);
    fake.up();
    await fake.waitAccepted(2);
    fake.emit(100);
    await until(() => got.length === 1000, "aggTrades after outage");
    expect(got).toEqual(expected(recorded.slice(0, 1000), true));
    expect(fake.requests.some((r) => r.startsWith("/api/v3/aggTrades?symbol=BTCUSDT&fromId="))).toBe(true);
    expect(fake.requests.some((r) => r.startsWith("/api/v3/historicalTrades"))).toBe(false);
  });

  test("resuming after a restart fills from the checkpointed id before going live", async () => {
    fake = fakeBinance(recorded);
    fake.emit(1000);
    const after = recorded[499]!.t;
    source = binanceSource({ symbols: ["BTCUSDT"], wsUrl: fake.wsUrl, restUrl: fake.restUrl, resumeAfter: { BTCUSDT: after }, ...fast });
    const { got } = collect(source);
    await fake.waitAccepted(1);
    fake.emit(200);
    await until(() => got.length === 700, "resumed trades");
    expect(got.map((t) => t.id)).toEqual(recorded.slice(500, 1200).map((t) => t.t));
  });

  test("rotates the connection before its age limit without losing trades", async () => {
    fake = fakeBinance(recorded);
    source = binanceSource({ symbols: ["BTCUSDT"], wsUrl: fake.wsUrl, restUrl: fake.restUrl, maxConnectionMs: 60, ...fast });
    const { got } = collect(source);
    for (let round = 1; round <= 4; round++) {
      await fake.waitAccepted(round);
      fake.emit(150);
    }
    await until(() => got.length === 600, "trades across rotations");
    expect(got.map((t) => t.id)).toEqual(recorded.slice(0, 600).map((t) => t.t));
    expect(source.status().reconnects).toBeGreaterThanOrEqual(3);
    expect(source.status().errors).toBe(0);
  });

  test("a hole REST cannot fill is counted and accepted; later trades still flow", async () => {
    fake = fakeBinance(recorded);
    source = binanceSource({ symbols: ["BTCUSDT"], wsUrl: fake.wsUrl, restUrl: `${fake.restUrl}/broken`, ...fast });
    const { got } = collect(source);
    await fake.waitAccepted(1);
    fake.emit(100);
    await until(() => got.length === 100, "live trades");
    fake.down();
    fake.emit(50);
    fake.up();
    await fake.waitAccepted(2);
    fake.emit(20);
    await until(() => got.length === 120, "trades after the unfillable hole", 10_000);
    expect(got.slice(100).map((t) => t.id)).toEqual(recorded.slice(150, 170).map((t) => t.t));
    expect(source.status().errors).toBeGreaterThan(0);
    expect(source.status().lastError).toContain("gap accepted");
  });

  test("a sink that throws ends the source and rejects start", async () => {
    fake = fakeBinance(recorded);
    source = binanceSource({ symbols: ["BTCUSDT"], wsUrl: fake.wsUrl, restUrl: fake.restUrl, ...fast });
    const run = source.start(() => {
      throw new Error("log is full");
    });
    await fake.waitAccepted(1);
    fake.emit(5);
    await expect(run).rejects.toThrow("log is full");
    await until(() => fake!.open === 0, "connection closed");
  });
});
