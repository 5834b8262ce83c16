import { Database } from "bun:sqlite";
import { alertRange, candleRange, checkAlert, checkCandle, cursorAt } from "./query.ts";
import { AdapterError } from "./errors.ts";
import { type AlertRow, CANDLE_COLUMNS as COLUMNS, type CandleRow, toAlert, toCandle, upsertGuard } from "./sql.ts";
import type { CandleStore, StoredCheckpoint, Health } from "./types.ts";

/** Options of the SQLite store. */
export interface SqliteOptions {
  /** Database file, created when missing; `:memory:` for a throwaway store. */
  path: string;
}

const SCHEMA_VERSION = 1;

// Decimals are TEXT so they come back exactly as written; the upsert guard mirrors `supersedes` in candle-order.ts.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS candles (
  symbol TEXT NOT NULL, "interval" TEXT NOT NULL, open_time INTEGER NOT NULL,
  open TEXT NOT NULL, high TEXT NOT NULL, low TEXT NOT NULL, close TEXT NOT NULL,
  volume TEXT NOT NULL, quote_volume TEXT NOT NULL, trades INTEGER NOT NULL,
  taker_buy_volume TEXT NOT NULL, taker_buy_quote_volume TEXT NOT NULL, vwap TEXT NOT NULL,
  rev INTEGER NOT NULL, final INTEGER NOT NULL,
  PRIMARY KEY (symbol, "interval", open_time)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alerts (
  id TEXT PRIMARY KEY, rule TEXT NOT NULL, symbol TEXT NOT NULL, "interval" TEXT,
  ts INTEGER NOT NULL, value REAL NOT NULL, threshold REAL NOT NULL, message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_by_time ON alerts (ts, id);
CREATE INDEX IF NOT EXISTS alerts_by_symbol ON alerts (symbol, ts, id);
CREATE TABLE IF NOT EXISTS checkpoints (key TEXT PRIMARY KEY, bytes BLOB NOT NULL, offsets TEXT NOT NULL);
`;

const UPSERT = `
INSERT INTO candles VALUES ($symbol, $interval, $openTime, $open, $high, $low, $close, $volume, $quoteVolume,
  $trades, $takerBuyVolume, $takerBuyQuoteVolume, $vwap, $rev, $final)${upsertGuard("candles")}`;

/**
 * Takes the writer's lock of the SQLite store at `path` for as long as this process holds it:
 * an exclusive SQLite lock on `<path>.lock`, a file of its own so readers of the store are not
 * blocked. The lock is the operating system's, so a process killed with SIGKILL leaves none behind.
 *
 * @returns a function that lets the lock go.
 * @throws AdapterError `CONFLICT` when another process (or another store of this one) holds it.
 *
 * @example
 * const unlock = lockSqlite("data/candleflow.sqlite")
 */
export function lockSqlite(path: string): () => void {
  const file = `${path}.lock`;
  let d: Database;
  try {
    d = new Database(file, { create: true });
  } catch (e) {
    throw new AdapterError("sqlite", "UNAVAILABLE", `cannot open the lock ${file}: ${e instanceof Error ? e.message : String(e)}`, { cause: e, retryable: false });
  }
  try {
    d.exec("PRAGMA busy_timeout = 0");
    d.exec("BEGIN EXCLUSIVE");
  } catch (e) {
    d.close();
    throw new AdapterError("sqlite", "CONFLICT", `${path} is in use by another candleflow server (it holds ${file}); stop it, or give this one another --db`, { cause: e });
  }
  return () => {
    d.exec("ROLLBACK");
    d.close();
  };
}

/**
 * `CandleStore` on a SQLite file through `bun:sqlite`, in WAL mode: readers never block the
 * committing processor, and a process killed mid-commit leaves the last complete commit.
 * The file is opened on first use.
 *
 * @example
 * const store = sqliteStore({ path: "data/candles.sqlite" })
 * await store.commit({ candles, alerts, checkpoint })
 */
export function sqliteStore(options: SqliteOptions): CandleStore {
  const name = "sqlite";
  let db: Database | undefined;
  let closed = false;

  const fail = (e: unknown, doing: string): never => {
    if (e instanceof AdapterError) throw e;
    const code = String((e as { code?: unknown })?.code ?? "");
    const message = `${doing}: ${e instanceof Error ? e.message : String(e)}`;
    // A full disk (or a file grown to its limit) is the operator's to fix; once there is room the same commit succeeds.
    if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED") || code.startsWith("SQLITE_FULL")) throw new AdapterError(name, "UNAVAILABLE", message, { cause: e });
    if (code.startsWith("SQLITE_CONSTRAINT") || code.startsWith("SQLITE_MISMATCH")) throw new AdapterError(name, "INVALID_ARGUMENT", message, { cause: e });
    if (code.startsWith("SQLITE_CORRUPT") || code.startsWith("SQLITE_NOTADB")) throw new AdapterError(name, "CORRUPT", message, { cause: e });
    throw new AdapterError(name, "UNAVAILABLE", message, { cause: e, retryable: false });
  };

  const open = (): Database => {
    if (closed) throw new AdapterError(name, "CLOSED", "store is closed");
    if (db) return db;
    try {
      const d = new Database(options.path, { create: true, strict: true });
      try {
        d.exec("PRAGMA busy_timeout = 5000");
        d.exec("PRAGMA journal_mode = WAL");
        d.exec("PRAGMA synchronous = NORMAL");
        const version = (d.query("PRAGMA user_version").get() as { user_version: number }).user_version;
        if (version > SCHEMA_VERSION) throw new AdapterError(name, "CORRUPT", `${options.path} has schema ${version}, newer than ${SCHEMA_VERSION}`);
        d.transaction(() => {
          d.exec(SCHEMA);
          d.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
        }).immediate();
      } catch (e) {
        d.close();
        throw e;
      }
      return (db = d);
    } catch (e) {
      return fail(e, `opening ${options.path}`);
    }
  };

  const run = <T>(doing: string, body: (d: Database) => T): T => {
    const d = open();
    try {
      return body(d);
    } catch (e) {
      return fail(e, doing);
    }
  };

  return {
    name,
    async commit(batch) {
      run("commit", (d) => {
        const upsert = d.query(UPSERT);
        const insertAlert = d.query(`INSERT INTO alerts VALUES ($id, $rule, $symbol, $interval, $ts, $value, $threshold, $message) ON CONFLICT (id) DO NOTHING`);
        const saveCheckpoint = d.query(`INSERT INTO checkpoints VALUES ($key, $bytes, $offsets) ON CONFLICT (key) DO UPDATE SET bytes = excluded.bytes, offsets = excluded.offsets`);
        // Rows are checked inside the transaction so a bad one rolls back those before it.
        d.transaction(() => {
          for (const c of batch.candles) {
            checkCandle(name, c);
            upsert.run({
              symbol: c.symbol, interval: c.interval, openTime: c.openTime, open: c.open, high: c.high, low: c.low,
              close: c.close, volume: c.volume, quoteVolume: c.quoteVolume, trades: c.trades,
              takerBuyVolume: c.takerBuyVolume, takerBuyQuoteVolume: c.takerBuyQuoteVolume, vwap: c.vwap,
              rev: c.rev, final: c.final ? 1 : 0,
            });
          }
          for (const a of batch.alerts) {
            checkAlert(name, a);
            insertAlert.run({
              id: a.id, rule: a.rule, symbol: a.symbol, interval: a.interval ?? null, ts: a.ts,
              value: a.value, threshold: a.threshold, message: a.message,
            });
          }
          const cp = batch.checkpoint;
          if (cp) {
            if (typeof cp.key !== "string" || !(cp.bytes instanceof Uint8Array) || typeof cp.offsets !== "string") {
              throw new AdapterError(name, "INVALID_ARGUMENT", "checkpoint needs a string key, Uint8Array bytes and a string offsets");
            }
            if (cp.previous !== undefined) {
              const held = d.query(`SELECT offsets FROM checkpoints WHERE key = ?`).get(cp.key) as { offsets: string } | null;
              if ((held?.offsets ?? null) !== cp.previous) throw new AdapterError(name, "CONFLICT", `checkpoint ${cp.key} moved on: another processor owns it now`);
            }
            saveCheckpoint.run({ key: cp.key, bytes: cp.bytes, offsets: cp.offsets });
          }
        }).immediate();
      });
    },
    async candles(symbol, interval, query) {
      const { from, to, limit } = candleRange(name, query);
      const rows = run("reading candles", (d) =>
        d.query(`SELECT ${COLUMNS} FROM candles WHERE symbol = ? AND "interval" = ? AND open_time >= ? AND open_time < ?
          ORDER BY open_time LIMIT ?`).all(symbol, interval, from, to, limit + 1) as CandleRow[]);
      const page = rows.slice(0, limit).map(toCandle);
      return rows.length > limit ? { candles: page, cursor: cursorAt(Number(rows[limit]!.open_time)) } : { candles: page };
    },
    async latest(symbol, interval) {
      const row = run("reading latest", (d) =>
        d.query(`SELECT ${COLUMNS} FROM candles WHERE symbol = ? AND "interval" = ? ORDER BY open_time DESC LIMIT 1`)
          .get(symbol, interval) as CandleRow | null);
      return row ? toCandle(row) : undefined;
    },
    async symbols() {
      // DISTINCT would read every candle row; this skips from one symbol to the next on the primary key.
      const rows = run("reading symbols", (d) => d.query(`WITH RECURSIVE s(symbol) AS (
          SELECT MIN(symbol) FROM candles UNION ALL SELECT (SELECT MIN(symbol) FROM candles WHERE symbol > s.symbol) FROM s WHERE s.symbol IS NOT NULL
        ) SELECT symbol FROM s WHERE symbol IS NOT NULL`).all() as { symbol: string }[]);
      return rows.map((r) => r.symbol);
    },
    async alerts(query) {
      const { symbol, since, limit } = alertRange(name, query);
      const rows = run("reading alerts", (d) =>
        (symbol === undefined
          ? d.query(`SELECT * FROM alerts WHERE ts >= ? ORDER BY ts, id LIMIT ?`).all(since, limit)
          : d.query(`SELECT * FROM alerts WHERE symbol = ? AND ts >= ? ORDER BY ts, id LIMIT ?`).all(symbol, since, limit)) as AlertRow[]);
      return rows.map(toAlert);
    },
    async loadCheckpoint(key): Promise<StoredCheckpoint | undefined> {
      const row = run("reading checkpoint", (d) =>
        d.query(`SELECT key, bytes, offsets FROM checkpoints WHERE key = ?`).get(key) as { key: string; bytes: Uint8Array; offsets: string } | null);
      return row ? { key: row.key, bytes: new Uint8Array(row.bytes), offsets: row.offsets } : undefined;
    },
    async health(): Promise<Health> {
      try {
        run("health check", (d) => d.query("SELECT 1").get());
        return { adapter: name, ok: true };
      } catch (e) {
        return { adapter: name, ok: false, detail: e instanceof Error ? e.message : String(e) };
      }
    },
    async close() {
      closed = true;
      db?.close();
      db = undefined;
    },
  };
}
