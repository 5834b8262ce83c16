import { afterAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import type { Candle } from "../../lib/types.ts";
import { available, servers } from "../testing/servers.ts";
import { candle, describeStore } from "./conformance.ts";
import { AdapterError } from "./errors.ts";
import { memoryStore } from "./memory-store.ts";
import { postgresStore, type PostgresOptions } from "./postgres.ts";
import type { CandleStore } from "./types.ts";

const up = await available("postgres", servers.postgres, 5432);
const admin = postgres(servers.postgres, { max: 2, onnotice: () => {}, connect_timeout: 2 });
afterAll(() => admin.end({ timeout: 5 }));

// Each fixture gets its own schema, so tests share the server without seeing each other.
let made = 0;
const freshSchema = () => `cf_test_${process.pid}_${Date.now().toString(36)}_${made++}`;
const drop = (schema: string) => admin.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).then(() => {});
const open = (schema: string, more: Partial<PostgresOptions> = {}) => postgresStore({ url: servers.postgres, schema, max: 4, ...more });

/** Runs `body` with `count` stores on a fresh schema, then closes them and drops it. */
async function using<T>(body: (stores: CandleStore[], schema: string) => Promise<T>, count = 1, more: Partial<PostgresOptions> = {}): Promise<T> {
  const schema = freshSchema();
  const stores = Array.from({ length: count }, () => open(schema, more));
  try {
    return await body(stores, schema);
  } finally {
    for (const s of stores) await s.close();
    await drop(schema);
  }
}

async function code(run: () => Promise<unknown>): Promise<AdapterError> {
  try {
    await run();
  } catch (e) {
    expect(e).toBeInstanceOf(AdapterError);
    return e as AdapterError;
  }
  throw new Error("expected an AdapterError, but the call succeeded");
}

/** A seeded stream of candles over few keys, so keys repeat with every kind of guard outcome. */
function churn(n: number, seed: number): Candle[] {
  let x = seed;
  const next = (m: number) => ((x = (x * 1_103_515_245 + 12_345) % 2 ** 31), x % m);
  return Array.from({ length: n }, () => candle({
    symbol: ["BTCUSDT", "ETHUSDT", "SOLUSDT"][next(3)]!, interval: ["1m", "5m"][next(2)]!, openTime: 60_000 * next(200),
    trades: next(20), final: next(3) === 0, rev: next(3), close: `${100 + next(50)}.${next(9) + 1}`,
  }));
}

describe.skipIf(!up)("postgres store", () => {
  describeStore("postgres", () => {
    const schema = freshSchema();
    return { adapter: open(schema), reopen: () => open(schema), dispose: () => drop(schema) };
  }, { durable: true });

  test("migrations run once, even for stores opening the same schema at the same time", async () => {
    await using(async (stores, schema) => {
      const health = await Promise.all(stores.map((s) => s.health()));
      expect(health.map((h) => h.ok)).toEqual([true, true, true]);
      const again = open(schema);
      try {
        await again.commit({ candles: [candle()], alerts: [] });
        expect(await stores[0]!.latest("BTCUSDT", "1m")).toEqual(candle());
      } finally {
        await again.close();
      }
      const log = await admin.unsafe(`SELECT version FROM "${schema}".candleflow_migrations ORDER BY version`);
      expect(log.map((r) => r.version)).toEqual([1]);
    }, 3);
  }, 20_000);

  test("a schema migrated by a newer build is refused as CORRUPT, untouched", async () => {
    await using(async ([s], schema) => {
      await s!.health();
      await admin.unsafe(`INSERT INTO "${schema}".candleflow_migrations (version) VALUES (99)`);
      const newer = open(schema);
      try {
        expect((await code(() => newer.symbols())).code).toBe("CORRUPT");
        expect((await newer.health()).ok).toBe(false);
      } finally {
        await newer.close();
      }
    });
  }, 10_000);

  test("decimals are stored as numeric, times and counts as bigint", async () => {
    await using(async ([s], schema) => {
      await s!.health();
      const cols = await admin`SELECT column_name, data_type FROM information_schema.columns
        WHERE table_schema = ${schema} AND table_name = 'candles'`;
      const type = Object.fromEntries(cols.map((c) => [c.column_name, c.data_type]));
      for (const col of ["open", "high", "low", "close", "volume", "quote_volume", "taker_buy_volume", "taker_buy_quote_volume", "vwap"]) {
        expect(type[col]).toBe("numeric");
      }
      for (const col of ["open_time", "trades", "rev"]) expect(type[col]).toBe("bigint");
    });
  }, 10_000);

  test("health tells whether candles got a Timescale hypertable", async () => {
    const offered = (await admin`SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'`).length > 0;
    await using(async ([s]) => {
      const health = await s!.health();
      expect(health.ok).toBe(true);
      expect(health.detail).toMatch(offered ? /^timescaledb \d/ : /^plain postgres$/);
    });
  }, 10_000);

  test("a commit of 5,000 candles with repeated keys ends where the memory store does", async () => {
    await using(async ([s]) => {
      const reference = memoryStore();
      for (const batch of [churn(800, 7), churn(5_000, 11)]) {
        await reference.commit({ candles: batch, alerts: [] });
        await s!.commit({ candles: batch, alerts: [] });
      }
      expect(await s!.symbols()).toEqual(await reference.symbols());
      for (const symbol of await reference.symbols()) {
        for (const interval of ["1m", "5m"]) {
          expect(await s!.candles(symbol, interval, { limit: 5000 })).toEqual(await reference.candles(symbol, interval, { limit: 5000 }));
        }
      }
    });
  }, 20_000);

  test("two processors fencing the same checkpoint: exactly one commit wins", async () => {
    await using(async ([a, b]) => {
      const at = (offsets: string, previous: string | null) => ({ key: "candleflow:1", bytes: new Uint8Array([1]), offsets, previous });
      await a!.commit({ candles: [], alerts: [], checkpoint: at("10", null) });
      const outcomes = await Promise.allSettled([
        a!.commit({ candles: [candle({ trades: 5 })], alerts: [], checkpoint: at("20", "10") }),
        b!.commit({ candles: [candle({ trades: 7 })], alerts: [], checkpoint: at("21", "10") }),
      ]);
      const lost = outcomes.filter((o) => o.status === "rejected");
      expect(lost.length).toBe(1);
      expect(((lost[0] as PromiseRejectedResult).reason as AdapterError).code).toBe("CONFLICT");
      const winner = outcomes[0]!.status === "fulfilled" ? "20" : "21";
      expect((await a!.loadCheckpoint("candleflow:1"))?.offsets).toBe(winner);
      expect((await a!.latest("BTCUSDT", "1m"))?.trades).toBe(winner === "20" ? 5 : 7);
    }, 2);
  }, 15_000);

  test("a statement held past the statement timeout fails with TIMEOUT, writing nothing", async () => {
    await using(async ([s], schema) => {
      const cp = { key: "candleflow:2", bytes: new Uint8Array([1]), offsets: "1", previous: null };
      await s!.commit({ candles: [], alerts: [], checkpoint: cp });
      await admin.begin(async (tx) => {
        await tx.unsafe(`SELECT * FROM "${schema}".checkpoints WHERE key = 'candleflow:2' FOR UPDATE`);
        const e = await code(() => s!.commit({ candles: [candle()], alerts: [], checkpoint: { ...cp, offsets: "2", previous: "1" } }));
        expect(e.code).toBe("TIMEOUT");
        expect(e.retryable).toBe(true);
      });
      expect(await s!.symbols()).toEqual([]);
    }, 1, { statementTimeout: 300 });
  }, 15_000);

  test("after its connections are killed, the same store works again", async () => {
    const app = `candleflow-kill-${process.pid}`;
    await using(async ([s]) => {
      await s!.commit({ candles: [candle()], alerts: [] });
      const killed = await admin`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ${app}`;
      expect(killed.length).toBeGreaterThan(0);
      let ok = false;
      for (let attempt = 0; attempt < 20 && !ok; attempt++) {
        try {
          await s!.commit({ candles: [candle({ trades: 4 })], alerts: [] });
          ok = true;
        } catch (e) {
          expect(e).toBeInstanceOf(AdapterError);
          expect((e as AdapterError).retryable).toBe(true);
          await Bun.sleep(100);
        }
      }
      expect(ok).toBe(true);
      expect((await s!.latest("BTCUSDT", "1m"))?.trades).toBe(4);
      expect((await s!.health()).ok).toBe(true);
    }, 1, { applicationName: app });
  }, 15_000);

  test("a connection killed inside a commit's transaction fails that commit, retryable; nothing escapes; the next commit lands", async () => {
    // The driver's ROLLBACK on a connection already gone used to throw from an immediate, out
    // of every caller's reach (the process's uncaught error), and could leave the connection
    // unable to write again. The commit is held inside its transaction by a lock, then killed.
    const app = `candleflow-killtx-${process.pid}`;
    const escaped: unknown[] = [];
    const catcher = (e: unknown) => escaped.push(e);
    process.on("uncaughtException", catcher);
    try {
      await using(async ([s], schema) => {
        await s!.commit({ candles: [candle()], alerts: [] });
        let release!: () => void;
        const released = new Promise<void>((r) => (release = r));
        const locked = admin.begin(async (tx) => {
          await tx.unsafe(`LOCK TABLE "${schema}".candles IN ACCESS EXCLUSIVE MODE`);
          await released;
        });
        await Bun.sleep(100);
        const blocked = code(() => s!.commit({ candles: [candle({ trades: 7 })], alerts: [] }));
        let killed = 0;
        for (let i = 0; i < 50 && killed === 0; i++) {
          await Bun.sleep(50);
          killed = (await admin`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ${app} AND wait_event_type = 'Lock'`).length;
        }
        expect(killed).toBe(1);
        const e = await blocked;
        expect(e.retryable).toBe(true);
        release();
        await locked;
        await Bun.sleep(50);
        expect(escaped).toEqual([]);
        await s!.commit({ candles: [candle({ trades: 8 })], alerts: [] });
        expect((await s!.latest("BTCUSDT", "1m"))?.trades).toBe(8);
      }, 1, { applicationName: app });
    } finally {
      process.off("uncaughtException", catcher);
    }
  }, 15_000);

  test("an unreachable server makes health say so quickly, and calls fail UNAVAILABLE, retryable", async () => {
    const s = postgresStore({ url: "postgres://postgres@127.0.0.1:1/test", connectTimeout: 1 });
    try {
      const started = performance.now();
      const health = await s.health();
      expect(health.ok).toBe(false);
      expect(performance.now() - started).toBeLessThan(3_000);
      const e = await code(() => s.commit({ candles: [candle()], alerts: [] }));
      expect(e.code).toBe("UNAVAILABLE");
      expect(e.retryable).toBe(true);
    } finally {
      await s.close();
    }
  }, 10_000);
});
