import postgres from "postgres";
import type { Alert, Candle } from "../../lib/types.ts";
import { alertRange, candleRange, checkAlert, checkCandle, cursorAt } from "./query.ts";
import { AdapterError } from "./errors.ts";
import { supersedes } from "./candle-order.ts";
import { type AlertRow, CANDLE_COLUMNS as COLUMNS, type CandleRow, toAlert, toCandle, upsertGuard } from "./sql.ts";
import type { CandleStore, StoredCheckpoint, Health } from "./types.ts";

/** Options of the PostgreSQL store. */
export interface PostgresOptions {
  /** Connection string, e.g. `postgres://candleflow@db:5432/market`. */
  url: string;
  /** Schema holding the store's tables, created when missing; default `public`. */
  schema?: string;
  /** Most pooled connections; default 10. */
  max?: number;
  /** Seconds to wait for a connection before a call fails `UNAVAILABLE`; also bounds `health()`. Default 2. */
  connectTimeout?: number;
  /** Milliseconds a statement may run before the server cancels it (`TIMEOUT`); default 30 000. */
  statementTimeout?: number;
  /** Whether to make `candles` a compressed hypertable when the server offers TimescaleDB; default true. */
  timescale?: boolean;
  /** `application_name` of the connections, to find them in `pg_stat_activity`; default `candleflow`. */
  applicationName?: string;
}

type Sql = postgres.Sql;
type Tx = postgres.TransactionSql;

const DAY_MS = 86_400_000;

/**
 * Schema changes, applied in order, each once per schema (its 1-based index is its version
 * in `candleflow_migrations`). Append, never edit a released one.
 *
 * Decimals are NUMERIC, which keeps the scale it was given, so a canonical string comes
 * back exactly as written. `open_time` is a bigint of epoch ms rather than timestamptz: it
 * is the domain's own value, round-trips without conversion, and covers every safe integer
 * the store accepts (timestamptz stops at 4713 BC); TimescaleDB partitions integer time as
 * well, given a chunk width in ms and a "now" function for its policies. Text keys use the
 * "C" collation so `ORDER BY` sorts as the other stores do, whatever the database's locale.
 */
const MIGRATIONS: readonly ((s: string) => string)[] = [
  (s) => `
CREATE TABLE ${s}.candles (
  symbol text COLLATE "C" NOT NULL, "interval" text COLLATE "C" NOT NULL, open_time bigint NOT NULL,
  open numeric NOT NULL, high numeric NOT NULL, low numeric NOT NULL, close numeric NOT NULL,
  volume numeric NOT NULL, quote_volume numeric NOT NULL, trades bigint NOT NULL,
  taker_buy_volume numeric NOT NULL, taker_buy_quote_volume numeric NOT NULL, vwap numeric NOT NULL,
  rev bigint NOT NULL, final boolean NOT NULL,
  PRIMARY KEY (symbol, "interval", open_time)
);
CREATE TABLE ${s}.symbols (symbol text COLLATE "C" PRIMARY KEY);
CREATE TABLE ${s}.alerts (
  id text COLLATE "C" PRIMARY KEY, rule text NOT NULL, symbol text COLLATE "C" NOT NULL, "interval" text,
  ts bigint NOT NULL, value double precision NOT NULL, threshold double precision NOT NULL, message text NOT NULL
);
CREATE INDEX alerts_by_time ON ${s}.alerts (ts, id);
CREATE INDEX alerts_by_symbol ON ${s}.alerts (symbol, ts, id);
CREATE TABLE ${s}.checkpoints (key text PRIMARY KEY, bytes bytea NOT NULL, offsets text NOT NULL);`,
];

// One statement for the whole batch: one array per column, unnested into rows. The guard
// is `supersedes` of candle-order.ts, the same WHERE clause as sqlite's; rows reach it folded to one
// per key (see `fold`), since one INSERT cannot update the same row twice.
const upsertSql = (s: string) => `
INSERT INTO ${s}.candles AS c (${COLUMNS})
SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::numeric[], $5::numeric[], $6::numeric[], $7::numeric[],
  $8::numeric[], $9::numeric[], $10::bigint[], $11::numeric[], $12::numeric[], $13::numeric[], $14::bigint[],
  $15::text[]::boolean[])${upsertGuard("c")}`;

// Statements are parsed and planned once per connection, then reused by name.
const once = { prepare: true } as const;

const ident = (name: string) => `"${name.replaceAll('"', '""')}"`;

const byKey = (a: Candle, b: Candle) =>
  a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : a.interval < b.interval ? -1 : a.interval > b.interval ? 1 : a.openTime - b.openTime;

/**
 * One candle per (symbol, interval, openTime): what applying `candles` in order through
 * `supersedes` leaves. The guard keeps the greatest candle (open < final; open by trades,
 * final by rev; equal opens: the later, equal finals: the earlier), so folding first and
 * guarding the winner against the stored row ends where applying each in turn would.
 * Sorted by key, so commits that touch the same rows lock them in the same order.
 */
function fold(candles: readonly Candle[]): Candle[] {
  const held = new Map<string, Candle>();
  for (const c of candles) {
    const key = `${c.symbol}\u0000${c.interval}\u0000${c.openTime}`;
    const prev = held.get(key);
    if (prev === undefined || supersedes(c, prev)) held.set(key, c);
  }
  return [...held.values()].sort(byKey);
}

// `final` goes as "t"/"f" text: the client would declare a JS boolean array as a lone boolean.
function columns(candles: readonly Candle[]): (string | number)[][] {
  const cols: (string | number)[][] = Array.from({ length: 15 }, () => new Array(candles.length));
  candles.forEach((c, i) => {
    const row = [c.symbol, c.interval, c.openTime, c.open, c.high, c.low, c.close, c.volume, c.quoteVolume, c.trades,
      c.takerBuyVolume, c.takerBuyQuoteVolume, c.vwap, c.rev, c.final ? "t" : "f"];
    for (let k = 0; k < 15; k++) cols[k]![i] = row[k];
  });
  return cols;
}

/** Alerts of one commit, the first of each id (as inserting them in order would keep). */
function firstById(alerts: readonly Alert[]): Alert[] {
  const seen = new Map<string, Alert>();
  for (const a of alerts) if (!seen.has(a.id)) seen.set(a.id, a);
  return [...seen.values()];
}

/** Which SQLSTATEs and socket errors a retry can outlive. */
function retryable(code: string): boolean {
  return code.startsWith("08") || ["57P01", "57P02", "57P03", "53300", "40001", "40P01"].includes(code)
    || ["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN",
      "CONNECTION_CLOSED", "CONNECTION_DESTROYED", "CONNECT_TIMEOUT"].includes(code);
}

/**
 * `CandleStore` on PostgreSQL through the `postgres` client. The pool opens on first use and
 * reconnects by itself after the server restarts or drops a connection; the first call also
 * applies pending migrations, one process at a time (an advisory lock), and when the server
 * offers TimescaleDB turns `candles` into a compressed hypertable. `health().detail` says
 * which storage it got.
 *
 * @example
 * const store = postgresStore({ url: process.env.DATABASE_URL!, schema: "market" })
 * await store.commit({ candles, alerts, checkpoint })
 */
export function postgresStore(options: PostgresOptions): CandleStore {
  const name = "postgres";
  const s = ident(options.schema ?? "public");
  const connectTimeout = options.connectTimeout ?? 2;
  const upsert = upsertSql(s);
  let client: Sql | undefined;
  let ready: Promise<string> | undefined;
  let closed = false;

  const fail = (e: unknown, doing: string): never => {
    if (e instanceof AdapterError) throw e;
    if (closed) throw new AdapterError(name, "CLOSED", "store is closed", { cause: e });
    const code = String((e as { code?: unknown })?.code ?? "");
    const message = `${doing}: ${e instanceof Error ? e.message : String(e)}`;
    if (code === "57014" || code === "55P03") throw new AdapterError(name, "TIMEOUT", message, { cause: e });
    if (retryable(code)) throw new AdapterError(name, "UNAVAILABLE", message, { cause: e });
    if (code.startsWith("22") || code.startsWith("23")) throw new AdapterError(name, "INVALID_ARGUMENT", message, { cause: e });
    throw new AdapterError(name, "UNAVAILABLE", message, { cause: e, retryable: false });
  };

  const sql = (): Sql => (client ??= postgres(options.url, {
    max: options.max ?? 10,
    connect_timeout: connectTimeout,
    onnotice: () => {},
    connection: {
      application_name: options.applicationName ?? "candleflow",
      statement_timeout: options.statementTimeout ?? 30_000,
    },
  }));

  // A failed attempt (server down) is forgotten, so the next call migrates again.
  const prepare = (db: Sql): Promise<string> =>
    (ready ??= migrate(db, options.schema ?? "public", options.timescale ?? true).catch((e) => {
      ready = undefined;
      throw e;
    }));

  const run = async <T>(doing: string, body: (db: Sql) => Promise<T>): Promise<T> => {
    if (closed) throw new AdapterError(name, "CLOSED", "store is closed");
    try {
      const db = sql();
      await prepare(db);
      return await body(db);
    } catch (e) {
      return fail(e, doing);
    }
  };

  const saveCheckpoint = (tx: Tx, cp: StoredCheckpoint) => {
    const bytes = Buffer.from(cp.bytes.buffer, cp.bytes.byteOffset, cp.bytes.byteLength);
    if (cp.previous === undefined) {
      return tx.unsafe(`INSERT INTO ${s}.checkpoints VALUES ($1, $2, $3)
        ON CONFLICT (key) DO UPDATE SET bytes = excluded.bytes, offsets = excluded.offsets RETURNING key`, [cp.key, bytes, cp.offsets], once);
    }
    // Fenced: the row is written only over the offsets the caller saw. A competing commit
    // holding the row makes this wait, then see its offsets, and match nothing.
    return cp.previous === null
      ? tx.unsafe(`INSERT INTO ${s}.checkpoints VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING RETURNING key`, [cp.key, bytes, cp.offsets], once)
      : tx.unsafe(`UPDATE ${s}.checkpoints SET bytes = $2, offsets = $3 WHERE key = $1 AND offsets = $4 RETURNING key`,
        [cp.key, bytes, cp.offsets, cp.previous], once);
  };

  return {
    name,
    async commit(batch) {
      if (closed) throw new AdapterError(name, "CLOSED", "store is closed");
      for (const c of batch.candles) checkCandle(name, c);
      for (const a of batch.alerts) checkAlert(name, a);
      const cp = batch.checkpoint;
      if (cp && (typeof cp.key !== "string" || !(cp.bytes instanceof Uint8Array) || typeof cp.offsets !== "string")) {
        throw new AdapterError(name, "INVALID_ARGUMENT", "checkpoint needs a string key, Uint8Array bytes and a string offsets");
      }
      const candles = fold(batch.candles);
      const alerts = firstById(batch.alerts);
      const symbols = [...new Set(candles.map((c) => c.symbol))];
      await run("commit", (db) => db.begin(async (tx) => {
        // Sent together (one round trip); the checkpoint goes first so a fenced commit takes
        // the row lock before any candle row, and a conflict found after rolls all of it back.
        const written = await Promise.all([
          cp ? saveCheckpoint(tx, cp) : undefined,
          candles.length ? tx.unsafe(upsert, columns(candles), once) : undefined,
          symbols.length ? tx.unsafe(`INSERT INTO ${s}.symbols SELECT unnest($1::text[]) ON CONFLICT DO NOTHING`, [symbols], once) : undefined,
          alerts.length
            ? tx.unsafe(`INSERT INTO ${s}.alerts SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[],
                $6::float8[], $7::float8[], $8::text[]) ON CONFLICT (id) DO NOTHING`, [
              alerts.map((a) => a.id), alerts.map((a) => a.rule), alerts.map((a) => a.symbol), alerts.map((a) => a.interval ?? null),
              alerts.map((a) => a.ts), alerts.map((a) => a.value), alerts.map((a) => a.threshold), alerts.map((a) => a.message),
            ], once)
            : undefined,
        ]);
        if (cp && written[0]!.count === 0) throw new AdapterError(name, "CONFLICT", `checkpoint ${cp.key} moved on: another processor owns it now`);
      }));
    },
    async candles(symbol, interval, query) {
      const { from, to, limit } = candleRange(name, query);
      const rows = await run("reading candles", (db) => db.unsafe<CandleRow[]>(`SELECT ${COLUMNS} FROM ${s}.candles
        WHERE symbol = $1 AND "interval" = $2 AND open_time >= $3 AND open_time < $4 ORDER BY open_time LIMIT $5`,
      [symbol, interval, from, to, limit + 1], once));
      const page = rows.slice(0, limit).map(toCandle);
      return rows.length > limit ? { candles: page, cursor: cursorAt(Number(rows[limit]!.open_time)) } : { candles: page };
    },
    async latest(symbol, interval) {
      const rows = await run("reading latest", (db) => db.unsafe<CandleRow[]>(`SELECT ${COLUMNS} FROM ${s}.candles
        WHERE symbol = $1 AND "interval" = $2 ORDER BY open_time DESC LIMIT 1`, [symbol, interval], once));
      return rows[0] && toCandle(rows[0]);
    },
    async symbols() {
      const rows = await run("reading symbols", (db) => db.unsafe<{ symbol: string }[]>(`SELECT symbol FROM ${s}.symbols ORDER BY symbol`));
      return rows.map((r) => r.symbol);
    },
    async alerts(query) {
      const { symbol, since, limit } = alertRange(name, query);
      const rows = await run("reading alerts", (db) => (symbol === undefined
        ? db.unsafe<AlertRow[]>(`SELECT * FROM ${s}.alerts WHERE ts >= $1 ORDER BY ts, id LIMIT $2`, [since, limit], once)
        : db.unsafe<AlertRow[]>(`SELECT * FROM ${s}.alerts WHERE symbol = $1 AND ts >= $2 ORDER BY ts, id LIMIT $3`,
          [symbol, since, limit], once)));
      return rows.map(toAlert);
    },
    async loadCheckpoint(key) {
      const rows = await run("reading checkpoint", (db) => db.unsafe<{ key: string; bytes: Buffer; offsets: string }[]>(
        `SELECT key, bytes, offsets FROM ${s}.checkpoints WHERE key = $1`, [key], once));
      const row = rows[0];
      return row && { key: row.key, bytes: new Uint8Array(row.bytes), offsets: row.offsets };
    },
    async health(): Promise<Health> {
      if (closed) return { adapter: name, ok: false, detail: "closed" };
      // The connect timeout bounds an unreachable server; this bounds one that accepts and hangs.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const bound = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${connectTimeout + 1} s`)), (connectTimeout + 1) * 1000);
      });
      try {
        const storage = await Promise.race([run("health check", async (db) => {
          await db`SELECT 1`;
          return prepare(db);
        }), bound]);
        return { adapter: name, ok: true, detail: storage };
      } catch (e) {
        return { adapter: name, ok: false, detail: e instanceof Error ? e.message : String(e) };
      } finally {
        clearTimeout(timer);
      }
    },
    async close() {
      closed = true;
      const db = client;
      client = undefined;
      await db?.end({ timeout: 5 });
    },
  };
}

/**
 * Brings `schema` to the latest migration and, when asked and possible, sets up
 * TimescaleDB; resolves to what `health()` reports. One transaction under an advisory lock
 * common to every schema, so processes starting together (or racing to create the extension)
 * take turns; DDL runs only when something is missing, so a role without CREATE rights can
 * open an up-to-date schema.
 */
async function migrate(db: Sql, schema: string, timescale: boolean): Promise<string> {
  const s = ident(schema);
  return db.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(hashtextextended('candleflow migrations', 0))`;
    const [found] = await tx`SELECT to_regnamespace(${s}) IS NOT NULL AS schema, to_regclass(${`${s}.candleflow_migrations`}) IS NOT NULL AS log`;
    if (!found!.schema) await tx.unsafe(`CREATE SCHEMA ${s}`);
    if (!found!.log) await tx.unsafe(`CREATE TABLE ${s}.candleflow_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
    const [{ version }] = await tx.unsafe(`SELECT coalesce(max(version), 0)::integer AS version FROM ${s}.candleflow_migrations`);
    if (version > MIGRATIONS.length) {
      throw new AdapterError("postgres", "CORRUPT", `schema ${s} is at version ${version}, newer than this build's ${MIGRATIONS.length}`);
    }
    for (let v = version; v < MIGRATIONS.length; v++) {
      await tx.unsafe(MIGRATIONS[v]!(s)).simple();
      await tx.unsafe(`INSERT INTO ${s}.candleflow_migrations (version) VALUES ($1)`, [v + 1]);
    }
    return timescale ? hypertable(tx, schema) : "plain postgres";
  });
}

/**
 * Makes `candles` a hypertable when TimescaleDB can be had, else leaves the plain table.
 * Each attempt runs in a savepoint, so a server without the extension (or a role that may
 * not create it) only loses the savepoint. Every open finishes what is missing, so installing
 * the extension later upgrades the table on the next start (`migrate_data`).
 */
async function hypertable(tx: Tx, schema: string): Promise<string> {
  const s = ident(schema);
  const version = async () => (await tx`SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'`)[0]?.extversion as string | undefined;
  let installed = await version();
  if (installed === undefined) {
    const [offered] = await tx`SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'`;
    if (!offered) return "plain postgres";
    try {
      await tx.savepoint((sp) => sp`CREATE EXTENSION IF NOT EXISTS timescaledb`);
    } catch (e) {
      return `plain postgres (timescaledb not loadable: ${e instanceof Error ? e.message : String(e)})`;
    }
    installed = (await version())!;
  }
  const table = `${s}.candles`;
  try {
    await tx.savepoint(async (sp) => {
      const [h] = await sp`SELECT compression_enabled FROM timescaledb_information.hypertables
        WHERE hypertable_schema = ${schema} AND hypertable_name = 'candles'`;
      if (!h) {
        // Integer time: chunks are 7 days of ms, and policies learn "now" in ms from this function.
        await sp.unsafe(`CREATE OR REPLACE FUNCTION ${s}.candleflow_now_ms() RETURNS bigint LANGUAGE sql STABLE
          AS $$ SELECT (extract(epoch FROM now()) * 1000)::bigint $$`);
        await sp`SELECT create_hypertable(${table}::regclass, 'open_time', chunk_time_interval => ${7 * DAY_MS}::bigint,
          if_not_exists => true, migrate_data => true)`;
        await sp`SELECT set_integer_now_func(${table}::regclass, ${`${s}.candleflow_now_ms`}::regproc, replace_if_exists => true)`;
      }
      if (!h?.compression_enabled) {
        // Segments per series, so a compressed chunk still reads one (symbol, interval) cheaply.
        await sp.unsafe(`ALTER TABLE ${table} SET (timescaledb.compress,
          timescaledb.compress_segmentby = 'symbol, "interval"', timescaledb.compress_orderby = 'open_time')`);
        // Revisions land within minutes of a window; a week-old chunk is settled enough to compress.
        await sp`SELECT add_compression_policy(${table}::regclass, compress_after => ${7 * DAY_MS}::bigint, if_not_exists => true)`;
      }
    });
  } catch (e) {
    return `plain postgres (timescaledb ${installed}: ${e instanceof Error ? e.message : String(e)})`;
  }
  return `timescaledb ${installed}`;
}
