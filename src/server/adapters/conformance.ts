/**
 * One behaviour suite per port. Every adapter of a port runs the same suite, so an adapter
 * that passes can replace the reference one without the pipeline or the API noticing.
 *
 * @example
 * // store.test.ts
 * describeStore("memory-store", () => ({ adapter: memoryStore() }), { durable: false })
 */
import { afterEach, describe, expect, test } from "bun:test";
import { TradeBatch } from "../../lib/batch.ts";
import type { Alert, Candle, Trade } from "../../lib/types.ts";
import { AdapterError, type AdapterErrorCode } from "./errors.ts";
import type { Cache, CandleStore, TradeLog } from "./types.ts";

/** A fresh adapter under test, with what the suite needs around it. */
export interface Fixture<T> {
  /** The adapter, empty (or seeded, for logs). */
  adapter: T;
  /** Opens the same storage again, for durable adapters; omit to skip the durability test. */
  reopen?: () => T | Promise<T>;
  /** Removes what the test left behind (files, keys, topics). */
  dispose?: () => void | Promise<void>;
}

/** What a log suite asks its factory for. */
export interface LogSeed {
  /** Trades the log must already hold, in this order, before the test reads. */
  trades: Trade[];
  /** Most records per partition to keep, when the test exercises retention. */
  retention?: number;
}

/** Abilities of a log adapter; the suite skips what an adapter cannot do by design. */
export interface LogTraits {
  /** Whether `append` works (false for recorded files). */
  writable: boolean;
  /** Whether `LogSeed.retention` is honoured (false when retention is set on the server). */
  retention: boolean;
  /** Whether the log holds text it decodes into batches itself (`readInto`). */
  readInto?: boolean;
}

type Make<T, A extends unknown[] = []> = (...args: A) => Fixture<T> | Promise<Fixture<T>>;

/** Builds a candle with defaults for the fields a test does not care about. */
export function candle(over: Partial<Candle> = {}): Candle {
  return {
    symbol: "BTCUSDT", interval: "1m", openTime: 1_723_161_300_000,
    open: "61837.63", high: "61840", low: "61800.01", close: "61812.5",
    volume: "1.5", quoteVolume: "92718.75", trades: 3, takerBuyVolume: "0.5", takerBuyQuoteVolume: "30906.25",
    vwap: "61812.5", rev: 0, final: false, ...over,
  };
}

/** Builds an alert with defaults for the fields a test does not care about. */
export function alert(over: Partial<Alert> = {}): Alert {
  return {
    id: "whale:BTCUSDT:3735683259", rule: "whale", symbol: "BTCUSDT", ts: 1_723_161_255_342,
    value: 123675.26, threshold: 100000, message: "BTCUSDT whale trade 123675.26", ...over,
  };
}

/** Builds `n` trades over a few symbols, ids and times increasing. */
export function trades(n: number, symbols: string[] = ["BTCUSDT", "ETHUSDT", "XRPETH"]): Trade[] {
  return Array.from({ length: n }, (_, i) => ({
    symbol: symbols[i % symbols.length]!, id: 1000 + i, price: `${100 + (i % 7)}.${i % 10}5`, qty: `0.0${(i % 9) + 1}`,
    ts: 1_723_161_255_000 + i * 250, side: i % 3 === 0 ? "buy" : "sell",
  }));
}

async function rejects(run: () => Promise<unknown>, code: AdapterErrorCode): Promise<AdapterError> {
  try {
    await run();
  } catch (e) {
    expect(e).toBeInstanceOf(AdapterError);
    expect((e as AdapterError).code).toBe(code);
    return e as AdapterError;
  }
  throw new Error(`expected an AdapterError ${code}, but the call succeeded`);
}

function lifecycle<T extends { close(): Promise<void> }, A extends unknown[]>(make: Make<T, A>) {
  const open: Fixture<T>[] = [];
  afterEach(async () => {
    for (const f of open.splice(0)) {
      await f.adapter.close().catch(() => {});
      await f.dispose?.();
    }
  });
  return async (...args: A): Promise<Fixture<T>> => {
    const f = await make(...args);
    open.push(f);
    return f;
  };
}

/** Abilities of a store adapter. */
export interface StoreTraits {
  /** Whether data survives close and `Fixture.reopen` (false for the memory store). */
  durable: boolean;
}

/** The `CandleStore` suite: upsert guard, atomic commit, paging, alerts, checkpoints, durability. */
export function describeStore(name: string, make: Make<CandleStore>, traits: StoreTraits): void {
  describe(`CandleStore conformance: ${name}`, () => {
    const fresh = lifecycle(make);
    const stored = async (s: CandleStore, c: Candle) => (await s.candles(c.symbol, c.interval, { from: c.openTime, to: c.openTime + 1 })).candles;

    test("an empty store answers empty, and is healthy", async () => {
      const s = (await fresh()).adapter;
      expect(await s.symbols()).toEqual([]);
      expect(await s.latest("BTCUSDT", "1m")).toBeUndefined();
      expect(await s.candles("BTCUSDT", "1m")).toEqual({ candles: [] });
      expect(await s.alerts()).toEqual([]);
      expect(await s.loadCheckpoint("candleflow:0")).toBeUndefined();
      expect((await s.health()).ok).toBe(true);
    });

    test("candles come back with every field exactly as written", async () => {
      const s = (await fresh()).adapter;
      const c = candle({
        open: "123456789012345678.123456789012345678", high: "123456789012345678.123456789012345679",
        low: "0.00000001", close: "0.1", volume: "0", quoteVolume: "98765432109876543210.0000000000001",
        takerBuyVolume: "7", takerBuyQuoteVolume: "0", vwap: "61812.500000000001", trades: 9_007_199_254, rev: 3, final: true,
      });
      await s.commit({ candles: [c], alerts: [] });
      expect(await stored(s, c)).toEqual([c]);
      expect(await s.latest(c.symbol, c.interval)).toEqual(c);
    });

    test("an open candle is replaced by later updates and by its final, never by an older update", async () => {
      const s = (await fresh()).adapter;
      const base = candle();
      await s.commit({ candles: [base], alerts: [] });
      const later = candle({ trades: 5, close: "61900", high: "61900" });
      await s.commit({ candles: [later], alerts: [] });
      expect(await stored(s, base)).toEqual([later]);
      await s.commit({ candles: [base], alerts: [] });
      expect(await stored(s, base)).toEqual([later]);
      const final = candle({ trades: 6, close: "61901", high: "61901", final: true });
      await s.commit({ candles: [final], alerts: [] });
      expect(await stored(s, base)).toEqual([final]);
    });

    test("a final candle is replaced only by a higher revision", async () => {
      const s = (await fresh()).adapter;
      const final = candle({ final: true, trades: 6 });
      await s.commit({ candles: [final], alerts: [] });
      await s.commit({ candles: [candle({ trades: 99, close: "1" })], alerts: [] });
      await s.commit({ candles: [candle({ final: true, trades: 7, close: "2" })], alerts: [] });
      expect(await stored(s, final)).toEqual([final]);
      const rev1 = candle({ final: true, rev: 1, trades: 7, close: "61700", low: "61700" });
      await s.commit({ candles: [rev1], alerts: [] });
      expect(await stored(s, final)).toEqual([rev1]);
      await s.commit({ candles: [final, candle({ final: true, rev: 1, trades: 8 })], alerts: [] });
      expect(await stored(s, final)).toEqual([rev1]);
    });

    test("candles of one commit apply in order through the guard", async () => {
      const s = (await fresh()).adapter;
      const final = candle({ final: true, trades: 4 });
      await s.commit({ candles: [candle({ trades: 2 }), final, candle({ trades: 9 })], alerts: [] });
      expect(await stored(s, final)).toEqual([final]);
    });

    test("a commit is all or nothing: a bad row leaves candles, alerts and checkpoint untouched", async () => {
      const s = (await fresh()).adapter;
      const first = { key: "candleflow:0", bytes: new Uint8Array([1, 2, 3]), offsets: '{"0":10}' };
      await s.commit({ candles: [candle({ trades: 1 })], alerts: [], checkpoint: first });
      await rejects(() => s.commit({
        candles: [candle({ trades: 2 }), candle({ openTime: 1_723_161_360_000 }), candle({ openTime: Number.NaN })],
        alerts: [alert()],
        checkpoint: { key: "candleflow:0", bytes: new Uint8Array([9]), offsets: '{"0":20}' },
      }), "INVALID_ARGUMENT");
      expect((await s.candles("BTCUSDT", "1m")).candles).toEqual([candle({ trades: 1 })]);
      expect(await s.alerts()).toEqual([]);
      expect(await s.loadCheckpoint("candleflow:0")).toEqual(first);
    });

    test("a candle whose decimals are not canonical is refused", async () => {
      const s = (await fresh()).adapter;
      for (const bad of [{ close: "61812.50" }, { volume: "1." }, { low: "-1" }, { high: "1e3" }, { vwap: "" }]) {
        await rejects(() => s.commit({ candles: [candle(bad)], alerts: [] }), "INVALID_ARGUMENT");
      }
      expect(await s.symbols()).toEqual([]);
    });

    test("alerts are stored once per id and listed oldest first", async () => {
      const s = (await fresh()).adapter;
      const a1 = alert({ id: "a1", ts: 300 });
      const a2 = alert({ id: "a2", ts: 100, symbol: "ETHUSDT", rule: "price_move", interval: "1m", value: 2.5, threshold: 2 });
      const a3 = alert({ id: "a3", ts: 200 });
      await s.commit({ candles: [], alerts: [a1, a2] });
      await s.commit({ candles: [], alerts: [a3, { ...a1, message: "replayed", ts: 1 }] });
      expect(await s.alerts()).toEqual([a2, a3, a1]);
      expect(await s.alerts({ symbol: "BTCUSDT" })).toEqual([a3, a1]);
      expect(await s.alerts({ since: 200 })).toEqual([a3, a1]);
      expect(await s.alerts({ since: 150, limit: 1 })).toEqual([a3]);
      await rejects(() => s.alerts({ limit: 0 }), "INVALID_ARGUMENT");
    });

    test("candles page by openTime: cursors cover every row once, from ≤ openTime < to", async () => {
      const s = (await fresh()).adapter;
      const rows = Array.from({ length: 25 }, (_, i) => candle({ openTime: 60_000 * (100 + i), final: true, trades: i + 1 }));
      await s.commit({ candles: [...rows].reverse(), alerts: [] });
      await s.commit({ candles: [candle({ interval: "5m", openTime: 6_000_000 })], alerts: [] });
      const seen: Candle[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await s.candles("BTCUSDT", "1m", { limit: 10, cursor });
        seen.push(...page.candles);
        cursor = page.cursor;
        pages++;
      } while (cursor !== undefined && pages < 10);
      expect(pages).toBe(3);
      expect(seen).toEqual(rows);
      const ranged = await s.candles("BTCUSDT", "1m", { from: rows[3]!.openTime, to: rows[7]!.openTime });
      expect(ranged).toEqual({ candles: rows.slice(3, 7) });
      const limited = await s.candles("BTCUSDT", "1m", { from: rows[20]!.openTime, limit: 5 });
      expect(limited).toEqual({ candles: rows.slice(20) });
      await rejects(() => s.candles("BTCUSDT", "1m", { cursor: "not a cursor" }), "INVALID_ARGUMENT");
      await rejects(() => s.candles("BTCUSDT", "1m", { limit: -1 }), "INVALID_ARGUMENT");
    });

    test("latest is the newest window of its own (symbol, interval); symbols are distinct and sorted", async () => {
      const s = (await fresh()).adapter;
      const newest = candle({ openTime: 1_723_161_420_000 });
      const fiveMin = candle({ interval: "5m", openTime: 1_723_161_000_000 });
      await s.commit({ candles: [newest, candle({ final: true }), fiveMin, candle({ symbol: "ETHUSDT" }), candle({ symbol: "ADAUSDT" })], alerts: [] });
      expect(await s.latest("BTCUSDT", "1m")).toEqual(newest);
      expect(await s.latest("BTCUSDT", "5m")).toEqual(fiveMin);
      expect(await s.latest("BTCUSDT", "1h")).toBeUndefined();
      expect(await s.symbols()).toEqual(["ADAUSDT", "BTCUSDT", "ETHUSDT"]);
    });

    test("checkpoints keep their bytes exactly, per key, and the last commit wins", async () => {
      const s = (await fresh()).adapter;
      const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
      await s.commit({ candles: [], alerts: [], checkpoint: { key: "candleflow:0", bytes, offsets: '{"0":1}' } });
      await s.commit({ candles: [], alerts: [], checkpoint: { key: "candleflow:1", bytes: new Uint8Array([0]), offsets: '{"1":5}' } });
      expect(await s.loadCheckpoint("candleflow:0")).toEqual({ key: "candleflow:0", bytes, offsets: '{"0":1}' });
      const next = new Uint8Array([0, 0, 255]);
      await s.commit({ candles: [], alerts: [], checkpoint: { key: "candleflow:0", bytes: next, offsets: '{"0":2}' } });
      expect(await s.loadCheckpoint("candleflow:0")).toEqual({ key: "candleflow:0", bytes: next, offsets: '{"0":2}' });
      expect((await s.loadCheckpoint("candleflow:1"))?.offsets).toBe('{"1":5}');
    });

    test("a fenced checkpoint commits only over the offsets it expects; a stale one writes nothing", async () => {
      const s = (await fresh()).adapter;
      const at = (offsets: string, previous: string | null) => ({ key: "candleflow:3", bytes: new Uint8Array([offsets.length]), offsets, previous });
      await s.commit({ candles: [], alerts: [], checkpoint: at('{"3":10}', null) });
      await rejects(() => s.commit({ candles: [], alerts: [], checkpoint: at('{"3":11}', null) }), "CONFLICT");
      await s.commit({ candles: [candle({ trades: 1 })], alerts: [], checkpoint: at('{"3":20}', '{"3":10}') });
      const stale = await rejects(() => s.commit({ candles: [candle({ trades: 9 })], alerts: [alert()], checkpoint: at('{"3":30}', '{"3":10}') }), "CONFLICT");
      expect(stale.retryable).toBe(false);
      expect((await s.candles("BTCUSDT", "1m")).candles).toEqual([candle({ trades: 1 })]);
      expect(await s.alerts()).toEqual([]);
      expect(await s.loadCheckpoint("candleflow:3")).toEqual({ key: "candleflow:3", bytes: new Uint8Array([8]), offsets: '{"3":20}' });
    });

    test("a closed store refuses calls with CLOSED", async () => {
      const s = (await fresh()).adapter;
      await s.close();
      await rejects(() => s.symbols(), "CLOSED");
      await rejects(() => s.commit({ candles: [candle()], alerts: [] }), "CLOSED");
    });

    test.skipIf(!traits.durable)("what was committed survives closing and reopening", async () => {
      const f = await fresh();
      if (!f.reopen) throw new Error(`${name} claims to be durable but its fixture has no reopen`);
      const c = candle({ final: true });
      const cp = { key: "candleflow:0", bytes: new Uint8Array([7, 0, 7]), offsets: '{"0":42}' };
      await f.adapter.commit({ candles: [c], alerts: [alert()], checkpoint: cp });
      await f.adapter.close();
      const again = await f.reopen();
      try {
        expect((await again.candles(c.symbol, c.interval)).candles).toEqual([c]);
        expect(await again.alerts()).toEqual([alert()]);
        expect(await again.loadCheckpoint(cp.key)).toEqual(cp);
      } finally {
        await again.close();
      }
    });
  });
}

/** The `TradeLog` suite: complete in-order reads, batch boundaries, symbol partitioning, retention. */
export function describeLog(name: string, make: Make<TradeLog, [LogSeed]>, traits: LogTraits): void {
  describe(`TradeLog conformance: ${name}`, () => {
    const fresh = lifecycle(make);
    const readAll = async (log: TradeLog, partition: number, from: number, max: number) => {
      const out: { offset: number; trade: Trade }[] = [];
      for (let at = from, rounds = 0; rounds < 10_000; rounds++) {
        const batch = await log.read(partition, at, max);
        expect(batch.records.length).toBeLessThanOrEqual(max);
        expect(batch.next).toBeGreaterThanOrEqual(at);
        out.push(...batch.records);
        if (batch.next === at) break;
        at = batch.next;
      }
      return out;
    };

    test("every trade is read back once; one symbol stays in one partition, in order", async () => {
      const seed = trades(60);
      const log = (await fresh({ trades: seed })).adapter;
      const parts = await log.partitions();
      expect(parts.length).toBeGreaterThan(0);
      const got: Trade[] = [];
      const home = new Map<string, number>();
      for (const p of parts) {
        const records = await readAll(log, p, await log.lowWatermark(p), 1000);
        for (let i = 1; i < records.length; i++) expect(records[i]!.offset).toBeGreaterThan(records[i - 1]!.offset);
        if (records.length > 0) expect(records.at(-1)!.offset).toBeLessThan(await log.highWatermark(p));
        for (const r of records) {
          expect(home.get(r.trade.symbol) ?? p).toBe(p);
          home.set(r.trade.symbol, p);
          got.push(r.trade);
        }
      }
      expect(got.length).toBe(seed.length);
      for (const symbol of ["BTCUSDT", "ETHUSDT", "XRPETH"]) {
        expect(got.filter((t) => t.symbol === symbol)).toEqual(seed.filter((t) => t.symbol === symbol));
      }
    });

    // Only for logs that decode text themselves; the others have no readInto to hold to read.
    if (traits.readInto) test("readInto brings what read brings, in small reads too", async () => {
      const log = (await fresh({ trades: trades(47) })).adapter;
      if (log.readInto === undefined) throw new Error(`${name} claims readInto but has none`);
      for (const p of await log.partitions()) {
        const low = await log.lowWatermark(p);
        const records = await readAll(log, p, low, 1000);
        const batch = new TradeBatch();
        const offsets: number[] = [];
        for (let at = low, rounds = 0; rounds < 10_000; rounds++) {
          const got = await log.readInto(p, at, 3, batch);
          expect(got.offsets.length).toBeLessThanOrEqual(3);
          offsets.push(...got.offsets);
          if (got.next === at) break;
          at = got.next;
        }
        expect(offsets).toEqual(records.map((r) => r.offset));
        const objects = TradeBatch.from(records.map((r) => r.trade));
        expect([batch.length, batch.names, batch.rejected]).toEqual([objects.length, objects.names, objects.rejected]);
        for (const column of ["sym", "id", "ts", "pm", "pe", "qm", "qe", "buy", "count"] as const) {
          expect(Array.from(batch[column].subarray(0, batch.length))).toEqual(Array.from(objects[column].subarray(0, objects.length)));
        }
      }
    });

    test("small reads resumed at `next` see the same records as one large read", async () => {
      const log = (await fresh({ trades: trades(47) })).adapter;
      for (const p of await log.partitions()) {
        const low = await log.lowWatermark(p);
        expect(await readAll(log, p, low, 3)).toEqual(await readAll(log, p, low, 1000));
      }
    });

    test("at the high watermark a read is empty; past it, OFFSET_OUT_OF_RANGE", async () => {
      const log = (await fresh({ trades: trades(5) })).adapter;
      const p = (await log.partitions())[0]!;
      const high = await log.highWatermark(p);
      expect(await log.read(p, high, 10)).toEqual({ records: [], next: high });
      await rejects(() => log.read(p, high + 1, 10), "OFFSET_OUT_OF_RANGE");
    });

    test(traits.writable ? "appended trades follow, each symbol in the partition it had" : "append is refused with READ_ONLY", async () => {
      const seed = trades(9);
      const log = (await fresh({ trades: seed })).adapter;
      if (!traits.writable) {
        const e = await rejects(() => log.append(trades(1)), "READ_ONLY");
        expect(e.retryable).toBe(false);
        return;
      }
      const parts = await log.partitions();
      const before = new Map<number, number>();
      for (const p of parts) before.set(p, await log.highWatermark(p));
      const more = trades(12).map((t) => ({ ...t, id: t.id + 100 }));
      await log.append(more);
      const appended: Trade[] = [];
      for (const p of parts) {
        const records = await readAll(log, p, before.get(p)!, 1000);
        const old = await readAll(log, p, await log.lowWatermark(p), 1000);
        for (const r of records) expect(old.some((o) => o.trade.symbol === r.trade.symbol && o.offset < before.get(p)!)).toBe(true);
        appended.push(...records.map((r) => r.trade));
      }
      expect(appended.sort((a, b) => a.id - b.id)).toEqual(more);
    });

    test.skipIf(!traits.retention)("a reader behind retention gets OFFSET_OUT_OF_RANGE, not a silent skip", async () => {
      const log = (await fresh({ trades: trades(25, ["BTCUSDT"]), retention: 10 })).adapter;
      const parts = await log.partitions();
      let holder = parts[0]!;
      for (const p of parts) if ((await log.highWatermark(p)) > (await log.highWatermark(holder))) holder = p;
      const high = await log.highWatermark(holder);
      const low = await log.lowWatermark(holder);
      expect(high - low).toBe(10);
      const e = await rejects(() => log.read(holder, low - 1, 5), "OFFSET_OUT_OF_RANGE");
      expect(e.retryable).toBe(false);
      expect((await log.read(holder, low, 100)).records.map((r) => r.trade.id)).toEqual(trades(25, ["BTCUSDT"]).slice(15).map((t) => t.id));
    });

    test("health is ok while open; a closed log refuses reads with CLOSED", async () => {
      const log = (await fresh({ trades: trades(3) })).adapter;
      expect((await log.health()).ok).toBe(true);
      const p = (await log.partitions())[0]!;
      await log.close();
      await rejects(() => log.read(p, 0, 1), "CLOSED");
      expect((await log.health()).ok).toBe(false);
    });
  });
}

/** The `Cache` suite: latest-candle guard and pub/sub delivery. */
export function describeCache(name: string, make: Make<Cache>): void {
  describe(`Cache conformance: ${name}`, () => {
    const fresh = lifecycle(make);
    const collect = async (cache: Cache, channel: string) => {
      const got: string[] = [];
      const off = await cache.subscribe(channel, (m) => got.push(m));
      return { got, off };
    };
    const until = async (ok: () => boolean) => {
      for (let i = 0; i < 200 && !ok(); i++) await Bun.sleep(10);
    };

    test("latest keeps the newest window, and within a window obeys the store's guard", async () => {
      const cache = (await fresh()).adapter;
      expect(await cache.latest("BTCUSDT", "1m")).toBeUndefined();
      const open = candle({ trades: 3 });
      await cache.setLatest([open, candle({ interval: "5m" })]);
      expect(await cache.latest("BTCUSDT", "1m")).toEqual(open);
      await cache.setLatest([candle({ trades: 2 })]);
      expect(await cache.latest("BTCUSDT", "1m")).toEqual(open);
      const final = candle({ trades: 4, final: true });
      await cache.setLatest([final, candle({ trades: 9 })]);
      expect(await cache.latest("BTCUSDT", "1m")).toEqual(final);
      await cache.setLatest([candle({ openTime: final.openTime - 60_000, final: true })]);
      expect(await cache.latest("BTCUSDT", "1m")).toEqual(final);
      const next = candle({ openTime: final.openTime + 60_000, trades: 1 });
      await cache.setLatest([next]);
      expect(await cache.latest("BTCUSDT", "1m")).toEqual(next);
      expect(await cache.latest("BTCUSDT", "5m")).toEqual(candle({ interval: "5m" }));
      expect(await cache.latest("ETHUSDT", "1m")).toBeUndefined();
    });

    test("subscribers get their channel's messages in order, and none after unsubscribing", async () => {
      const cache = (await fresh()).adapter;
      const a = await collect(cache, "candles:BTCUSDT:1m");
      const b = await collect(cache, "candles:BTCUSDT:1m");
      const other = await collect(cache, "candles:ETHUSDT:1m");
      for (const m of ["1", "2", "3"]) await cache.publish("candles:BTCUSDT:1m", m);
      await until(() => a.got.length >= 3 && b.got.length >= 3);
      expect(a.got).toEqual(["1", "2", "3"]);
      expect(b.got).toEqual(["1", "2", "3"]);
      await a.off();
      await cache.publish("candles:BTCUSDT:1m", "4");
      await until(() => b.got.length >= 4);
      await Bun.sleep(20);
      expect(a.got).toEqual(["1", "2", "3"]);
      expect(b.got).toEqual(["1", "2", "3", "4"]);
      expect(other.got).toEqual([]);
    });

    test("a subscriber that throws does not stop delivery to the others", async () => {
      const cache = (await fresh()).adapter;
      await cache.subscribe("alerts:BTCUSDT", () => {
        throw new Error("broken subscriber");
      });
      const ok = await collect(cache, "alerts:BTCUSDT");
      await cache.publish("alerts:BTCUSDT", "x");
      await until(() => ok.got.length >= 1);
      expect(ok.got).toEqual(["x"]);
    });

    test("health is ok while open; a closed cache refuses calls with CLOSED", async () => {
      const cache = (await fresh()).adapter;
      expect((await cache.health()).ok).toBe(true);
      await cache.close();
      await rejects(() => cache.publish("x", "y"), "CLOSED");
      expect((await cache.health()).ok).toBe(false);
    });
  });
}
