/**
 * Processors sharing one log as a consumer group: partitions move between them, each
 * restored from its checkpoint, and the store ends exactly as after one processor that
 * never stopped. The assignment here is set by the test (what a Kafka group coordinator
 * decides); the Kafka adapter's own group is tested against the real broker.
 */
import { describe, expect, test } from "bun:test";
import { Engine } from "../../lib/engine.ts";
import type { Candle, EngineEvent, EngineOptions, Trade } from "../../lib/types.ts";
import { memoryLog } from "../adapters/memory-log.ts";
import { memoryStore } from "../adapters/memory-store.ts";
import type { CandleStore, DeadLetter, LogBatch, TradeLog } from "../adapters/types.ts";
import { mulberry32 as random } from "../testing/random.ts";
import { pipeline } from "./processor.ts";

const OPTIONS: EngineOptions = { intervals: ["1m", "5m"], allowedLateness: 5_000, rules: { default: { whale: { notional: 100_000 }, gap: {} } } };
const SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT", "DOGEUSDT"];

function stream(n: number, seed = 11): Trade[] {
  const next = random(seed);
  const ids = new Map(SYMBOLS.map((s, i) => [s, 1000 * (i + 1)]));
  let ts = 1_723_161_255_342;
  return Array.from({ length: n }, () => {
    const symbol = SYMBOLS[Math.floor(next() * SYMBOLS.length)]!;
    ts += Math.floor(next() * 300);
    ids.set(symbol, ids.get(symbol)! + 1);
    const late = next() < 0.03 ? Math.floor(next() * 15_000) : 0;
    return { symbol, id: ids.get(symbol)!, price: (100 + next() * 10).toFixed(2), qty: (next() * 3 + 0.01).toFixed(3), ts: ts - late, side: next() < 0.5 ? "buy" : "sell" };
  });
}

const key = (c: Candle) => `${c.symbol}|${c.interval}|${c.openTime}`;

function uninterrupted(trades: Trade[]) {
  const engine = new Engine(OPTIONS);
  const events: EngineEvent[] = [...engine.ingestMany(trades), ...engine.flush()];
  const last = new Map<string, Candle>();
  for (const e of events) if (e.type === "final" || e.type === "revision" || e.type === "update") last.set(key(e.candle), e.candle);
  return { candles: [...last.values()].sort((a, b) => key(a).localeCompare(key(b))), alerts: events.filter((e) => e.type === "alert").length };
}

async function dump(store: CandleStore) {
  const candles: Candle[] = [];
  for (const symbol of await store.symbols()) for (const interval of OPTIONS.intervals!) candles.push(...(await store.candles(symbol, interval, { limit: 5000 })).candles);
  return { candles: candles.sort((a, b) => key(a).localeCompare(key(b))), alerts: (await store.alerts({ limit: 5000 })).length };
}

/** A member's view of a shared log: the same partitions, but only those the test assigns to it. */
function member(log: TradeLog, owns: () => number[]): TradeLog {
  return { ...log, assigned: async () => owns() };
}

describe("processor group", () => {
  const trades = stream(4000);
  const expected = uninterrupted(trades);

  test("partitions move between members on kill and join; the store equals one uninterrupted run", async () => {
    const log = memoryLog({ partitions: 4 });
    await log.append(trades);
    const store = memoryStore();
    const owner = new Map<number, string>([[0, "a"], [1, "a"], [2, "b"], [3, "b"]]);
    const owns = (name: string) => () => [...owner].filter(([, m]) => m === name).map(([p]) => p);
    const make = (name: string) => pipeline({ log: member(log, owns(name)), store, engine: OPTIONS, batch: 40, commitTrades: 120, clock: () => 0 });
    const a = make("a");
    const b = make("b");
    for (let i = 0; i < 7; i++) {
      await a.step();
      await b.step();
    }
    expect(a.status().partitions.map((p) => p.partition)).toEqual([0, 1]);
    expect(a.status().partitions.some((p) => p.offset > p.committed)).toBe(true);
    // a dies with uncommitted work; the coordinator hands its partitions to b.
    for (const p of [0, 1]) owner.set(p, "b");
    for (let i = 0; i < 4; i++) await b.step();
    expect(b.status().partitions.map((p) => p.partition)).toEqual([0, 1, 2, 3]);
    // c joins and takes two partitions over; b commits them before letting go.
    const c = make("c");
    owner.set(1, "c").set(3, "c");
    for (let i = 0; i < 3; i++) {
      await b.step();
      await c.step();
    }
    expect(b.status().partitions.map((p) => p.partition)).toEqual([0, 2]);
    expect(c.status().partitions.map((p) => p.partition)).toEqual([1, 3]);
    await b.finish();
    await c.finish();
    expect(await dump(store)).toEqual(expected);
  });

  test("a member that still thinks it owns a moved partition is fenced off, and nothing is counted twice", async () => {
    const log = memoryLog({ partitions: 2 });
    await log.append(trades);
    const store = memoryStore();
    let zombieSees = [0, 1];
    const errors: unknown[] = [];
    const zombie = pipeline({ log: member(log, () => zombieSees), store, engine: OPTIONS, batch: 50, commitTrades: 100, clock: () => 0, onError: (e) => errors.push(e) });
    for (let i = 0; i < 3; i++) await zombie.step();
    const heir = pipeline({ log: member(log, () => [0, 1]), store, engine: OPTIONS, batch: 50, commitTrades: 100, clock: () => 0 });
    for (let i = 0; i < 5; i++) await heir.step();
    // The zombie's next commits would overwrite the heir's checkpoints: the store refuses them.
    for (let i = 0; i < 3; i++) await zombie.step();
    expect(zombie.status().fenced).toBeGreaterThan(0);
    expect(errors.some((e) => (e as { code?: string }).code === "CONFLICT")).toBe(true);
    zombieSees = [];
    await zombie.step();
    expect(zombie.status().partitions).toEqual([]);
    await heir.finish();
    expect(await dump(store)).toEqual(expected);
  });

  test("two processors on one store without a group: the second to commit fails with a clear CONFLICT", async () => {
    const log = memoryLog();
    await log.append(trades.slice(0, 500));
    const store = memoryStore();
    const first = pipeline({ log, store, engine: OPTIONS, batch: 50, commitTrades: 50, clock: () => 0 });
    const second = pipeline({ log, store, engine: OPTIONS, batch: 50, commitTrades: 50, clock: () => 0 });
    await first.start();
    await second.start();
    await first.step();
    await first.step();
    await expect(second.step()).rejects.toMatchObject({ code: "CONFLICT" });
    expect(second.status().state).toBe("failed");
    expect(second.status().error).toContain("second processor");
  });

  test("poison records and refused trades are dead-lettered with their reason; the partition goes on", async () => {
    const inner = memoryLog();
    const good = trades.slice(0, 300);
    await inner.append(good);
    const bad: Trade = { ...good[10]!, id: 999_999, price: "-5" };
    await inner.append([bad]);
    const letters: DeadLetter[] = [];
    const log: TradeLog = {
      ...inner,
      // A shared log holds records other producers wrote: here one is not a trade at all.
      async read(p, from, max): Promise<LogBatch> {
        const batch = await inner.read(p, from, max);
        return from === 0 ? { ...batch, poison: [{ offset: -1, raw: "{not json", reason: "not JSON" }] } : batch;
      },
      async deadLetter(l) {
        letters.push(...l);
      },
    };
    const store = memoryStore();
    const p = pipeline({ log, store, engine: OPTIONS, batch: 100, commitTrades: 100, clock: () => 0 });
    await p.finish();
    expect(letters.map((l) => l.reason.split(":")[0])).toEqual(["not JSON", "price"]);
    expect(letters[1]).toMatchObject({ partition: 0, offset: 300 });
    expect(JSON.parse(letters[1]!.raw)).toEqual(bad);
    expect(p.status()).toMatchObject({ state: "done", deadLetters: 2 });
    expect(p.status().engine.trades).toBe(300);
  });
});
