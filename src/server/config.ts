/**
 * The `serve` command's configuration: flags over environment over embedded defaults,
 * validated with zod at start-up so a bad value stops the server with a message that names
 * the flag or variable it came from.
 */
import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import { z } from "zod";
import { intervalMs } from "../lib/interval.ts";
import type { RulesConfig } from "../lib/types.ts";

/** Where trades come from. */
export const SOURCES = ["replay", "binance", "coinbase", "coingecko"] as const;

/** What one process does: read the source into the log, process the log into candles, serve the API. */
export const ROLES = ["ingest", "process", "api"] as const;

/** One of {@link ROLES}. */
export type Role = (typeof ROLES)[number];

/** The validated configuration of a server. */
export interface Config {
  /** TCP port; 0 picks a free one. */
  port: number;
  /** Interface to listen on. */
  host: string;
  source: (typeof SOURCES)[number];
  /** Symbols (coingecko: coin ids); undefined = the source's defaults (replay: every symbol of the file). */
  symbols?: string[];
  /** Replay: recorded time runs this many times faster than the clock; 0 = as fast as possible. */
  speed: number;
  /** Replay: play the recording again and again, moved forward in time and ids. */
  loop: boolean;
  /** Replay: the recording; undefined = the shared real recording when present, else the bundled one. */
  file?: string;
  /** SQLite file of candles, alerts and checkpoints; `:memory:` for a throwaway one. */
  db: string;
  /** Candle sizes of a fresh database (a restored checkpoint keeps its own). */
  intervals: string[];
  /** Checkpoint after this many uncommitted trades... */
  commitTrades: number;
  /** ...or this many ms, whichever comes first. */
  commitMs: number;
  /** WebSocket heartbeat period, ms. */
  heartbeatMs: number;
  /** Candles per WebSocket snapshot. */
  history: number;
  /** Alert rules of a fresh database. */
  rules: RulesConfig;
  /**
   * A trade dated more than this ahead of the wall clock is refused (a live feed's before the
   * log, a recording's at load), ms: one such trade would move its symbol's watermark into the
   * future and make every genuine trade after it late. The default minute is far above exchange
   * and NTP clock skew (milliseconds to a few seconds), so no genuine trade is lost.
   */
  maxFutureMs: number;
  /** What this process does; the embedded log needs ingest and process together. */
  roles: Role[];
  /** Trade log: in-process, Kafka at `kafkaBrokers`, or Redis Streams over Upstash REST at `upstashUrl`. */
  log: "memory" | "kafka" | "upstash";
  /** Latest cache and pub/sub: in-process, Redis at `redisUrl`, or Upstash REST at `upstashUrl`. */
  cache: "memory" | "redis" | "upstash";
  /** Candle store: SQLite at `db`, PostgreSQL at `databaseUrl`, or in-process (nothing durable: demos and tests). */
  store: "sqlite" | "postgres" | "memory";
  /** Kafka bootstrap brokers, `host:port,host:port`. */
  kafkaBrokers: string;
  /** Kafka topic of trades. */
  topic: string;
  /** Partitions of a trades topic created by candleflow. */
  partitions: number;
  /** Processor group: Kafka consumer group and checkpoint key prefix. */
  group: string;
  /** Kafka group session timeout, ms: a processor silent this long loses its partitions to the others. */
  kafkaSessionMs: number;
  /** Redis URL. */
  redisUrl: string;
  /** Prefix of every Redis key and channel, so several deployments can share one Redis. */
  redisPrefix: string;
  /** PostgreSQL URL. */
  databaseUrl: string;
  /** PostgreSQL schema of the tables. */
  pgSchema: string;
  /** Upstash Redis REST URL (the edge mode's log and cache). */
  upstashUrl?: string;
  /** Upstash Redis REST token. */
  upstashToken?: string;
}

/** Alert rules when none are given: tuned so a BTCUSDT replay shows a few of each kind. */
export const DEFAULT_RULES: RulesConfig = {
  default: { whale: { notional: 50_000 }, priceMove: { percent: 0.1, zScore: 4 }, volumeSpike: { factor: 3 }, gap: {} },
};

/** The `serve` help text. */
export const usage = `usage: bun run candleflow serve [options]

  --port <n>           PORT                   TCP port (default 3000; 0 = any free port)
  --host <addr>        HOST                   interface (default 127.0.0.1; 0.0.0.0 for every one)
  --source <name>      CANDLEFLOW_SOURCE      replay (default) | binance | coinbase | coingecko
  --symbols <a,b>      CANDLEFLOW_SYMBOLS     symbols (coingecko: coin ids); default per source
  --speed <x>          CANDLEFLOW_SPEED       replay speed (default 1 = real time; 0 = as fast as possible)
  --loop | --no-loop   CANDLEFLOW_LOOP        replay again and again, moved to "now" (default on)
  --file <path>        CANDLEFLOW_FILE        replay file (default the real recording in ../shared/fixtures, else fixtures/replay.ws.jsonl)
  --db <path>          CANDLEFLOW_DB          SQLite file (default data/candleflow.sqlite; :memory: for none)
  --intervals <a,b>    CANDLEFLOW_INTERVALS   candle sizes of a new database (default 1m,5m,15m,1h)
  --commit-trades <n>  CANDLEFLOW_COMMIT_TRADES  checkpoint every n trades (default 5000)
  --commit-ms <n>      CANDLEFLOW_COMMIT_MS   ...or every n ms (default 1000)
  --heartbeat-ms <n>   CANDLEFLOW_HEARTBEAT_MS   WebSocket heartbeat (default 15000)
  --history <n>        CANDLEFLOW_HISTORY     candles per WebSocket snapshot (default 300)
  --rules <json>       CANDLEFLOW_RULES       alert rules of a new database, e.g. {"default":{"whale":{"notional":100000}}}
  --max-future-ms <n>  CANDLEFLOW_MAX_FUTURE_MS  refuse trades dated more than n ms ahead of the clock (default 60000)

The local stack (each port switched on by its variable, or by its flag):
  --log kafka          KAFKA_BROKERS          trade log in Kafka at these brokers (default log: in-process)
  --cache redis        REDIS_URL              latest candles and pub/sub in Redis (default: in-process)
  --store postgres     DATABASE_URL           candles in PostgreSQL, a Timescale hypertable when the extension exists (default: SQLite --db;
                                              --store memory keeps nothing, for demos and runtimes without SQLite)
  --roles <a,b>        CANDLEFLOW_ROLES       ingest,process,api (default all three); with Kafka, run them as separate processes
  --topic <name>       CANDLEFLOW_TOPIC       Kafka topic of trades (default candleflow.trades; alerts on <topic>.alerts, refused input on <topic>.dlq)
  --partitions <n>     CANDLEFLOW_PARTITIONS  partitions of a topic candleflow creates (default 3)
  --group <name>       CANDLEFLOW_GROUP       processor group: Kafka consumer group and checkpoint keys (default candleflow)
  --kafka-session-ms <n>  CANDLEFLOW_KAFKA_SESSION_MS  a processor silent this long loses its partitions (default 10000)
  --redis-prefix <p>   CANDLEFLOW_REDIS_PREFIX  prefix of Redis keys and channels (default candleflow:)
  --pg-schema <name>   CANDLEFLOW_PG_SCHEMA   PostgreSQL schema (default public)

The edge mode (Upstash Redis over REST: Redis Streams as the trade log, the latest cache and pub/sub):
  --log upstash --cache upstash   UPSTASH_REDIS_REST_URL, UPSTASH_REDIS_REST_TOKEN (either variable alone switches neither)`;

const int = (min: number, max: number) =>
  z.string().trim().regex(/^-?[0-9]+$/, "expected an integer").transform(Number).pipe(z.number().int().min(min).max(max));
const list = (item: z.ZodType<string, string>) =>
  z.string().transform((s) => [...new Set(s.split(",").map((x) => x.trim()).filter(Boolean))]).pipe(z.array(item).min(1, "expected at least one"));
const interval = z.string().refine((s) => {
  try {
    return intervalMs(s) > 0;
  } catch {
    return false;
  }
}, "expected sizes like 1m, 5m, 1h");
const rule = z.object({
  whale: z.object({ notional: z.union([z.number().positive(), z.string()]) }).optional(),
  priceMove: z.object({ percent: z.number().positive().optional(), zScore: z.number().positive().optional(), lookback: z.number().int().min(2).optional() }).optional(),
  volumeSpike: z.object({ factor: z.number().positive(), lookback: z.number().int().min(1).optional() }).optional(),
  gap: z.object({ minMissing: z.number().int().min(1).optional() }).optional(),
  intervals: z.array(z.string()).optional(),
}).strict();
const rules = z.string().transform((s, ctx) => {
  try {
    return JSON.parse(s) as unknown;
  } catch {
    ctx.addIssue({ code: "custom", message: "expected JSON" });
    return z.NEVER;
  }
}).pipe(z.object({ default: rule.optional(), symbols: z.record(z.string(), rule).optional() }).strict());

// One row per setting: its flag, its variable, its schema (from a string) and its default.
const FIELDS = {
  port: { flag: "port", env: "PORT", schema: int(0, 65535), fallback: "3000" },
  host: { flag: "host", env: "HOST", schema: z.string().trim().min(1), fallback: "127.0.0.1" },
  source: { flag: "source", env: "CANDLEFLOW_SOURCE", schema: z.enum(SOURCES), fallback: "replay" },
  symbols: { flag: "symbols", env: "CANDLEFLOW_SYMBOLS", schema: list(z.string().regex(/^[A-Za-z0-9._-]{1,40}$/, "symbols are letters, digits, . _ -")), fallback: undefined },
  speed: { flag: "speed", env: "CANDLEFLOW_SPEED", schema: z.string().trim().min(1).transform(Number).pipe(z.number().min(0).max(1_000_000)), fallback: "1" },
  loop: { flag: "loop", env: "CANDLEFLOW_LOOP", schema: z.stringbool(), fallback: "true" },
  file: { flag: "file", env: "CANDLEFLOW_FILE", schema: z.string().min(1).refine(existsSync, "no such file"), fallback: undefined },
  db: { flag: "db", env: "CANDLEFLOW_DB", schema: z.string().min(1), fallback: "data/candleflow.sqlite" },
  intervals: { flag: "intervals", env: "CANDLEFLOW_INTERVALS", schema: list(interval), fallback: "1m,5m,15m,1h" },
  commitTrades: { flag: "commit-trades", env: "CANDLEFLOW_COMMIT_TRADES", schema: int(1, 1_000_000), fallback: "5000" },
  commitMs: { flag: "commit-ms", env: "CANDLEFLOW_COMMIT_MS", schema: int(1, 3_600_000), fallback: "1000" },
  heartbeatMs: { flag: "heartbeat-ms", env: "CANDLEFLOW_HEARTBEAT_MS", schema: int(100, 600_000), fallback: "15000" },
  history: { flag: "history", env: "CANDLEFLOW_HISTORY", schema: int(1, 5000), fallback: "300" },
  rules: { flag: "rules", env: "CANDLEFLOW_RULES", schema: rules, fallback: undefined },
  maxFutureMs: { flag: "max-future-ms", env: "CANDLEFLOW_MAX_FUTURE_MS", schema: int(0, 86_400_000), fallback: "60000" },
  roles: { flag: "roles", env: "CANDLEFLOW_ROLES", schema: list(z.enum(ROLES)), fallback: ROLES.join(",") },
  log: { flag: "log", env: "CANDLEFLOW_LOG", schema: z.enum(["memory", "kafka", "upstash"]), fallback: undefined },
  cache: { flag: "cache", env: "CANDLEFLOW_CACHE", schema: z.enum(["memory", "redis", "upstash"]), fallback: undefined },
  store: { flag: "store", env: "CANDLEFLOW_STORE", schema: z.enum(["sqlite", "postgres", "memory"]), fallback: undefined },
  kafkaBrokers: { flag: "kafka-brokers", env: "KAFKA_BROKERS", schema: z.string().trim().regex(/^[^,\s]+:[0-9]+(,[^,\s]+:[0-9]+)*$/, "expected host:port[,host:port]"), fallback: "127.0.0.1:9092" },
  topic: { flag: "topic", env: "CANDLEFLOW_TOPIC", schema: z.string().regex(/^[A-Za-z0-9._-]{1,200}$/, "Kafka topic names are letters, digits, . _ -"), fallback: "candleflow.trades" },
  partitions: { flag: "partitions", env: "CANDLEFLOW_PARTITIONS", schema: int(1, 1000), fallback: "3" },
  group: { flag: "group", env: "CANDLEFLOW_GROUP", schema: z.string().regex(/^[A-Za-z0-9._-]{1,100}$/, "letters, digits, . _ -"), fallback: "candleflow" },
  kafkaSessionMs: { flag: "kafka-session-ms", env: "CANDLEFLOW_KAFKA_SESSION_MS", schema: int(1000, 300_000), fallback: "10000" },
  redisUrl: { flag: "redis-url", env: "REDIS_URL", schema: z.url({ protocol: /^rediss?$/ }), fallback: "redis://127.0.0.1:6379" },
  redisPrefix: { flag: "redis-prefix", env: "CANDLEFLOW_REDIS_PREFIX", schema: z.string().max(100), fallback: "candleflow:" },
  databaseUrl: { flag: "database-url", env: "DATABASE_URL", schema: z.url({ protocol: /^postgres(ql)?$/ }), fallback: "postgres://postgres@127.0.0.1:5432/test" },
  upstashUrl: { flag: "upstash-url", env: "UPSTASH_REDIS_REST_URL", schema: z.url({ protocol: /^https?$/ }), fallback: undefined },
  upstashToken: { flag: "upstash-token", env: "UPSTASH_REDIS_REST_TOKEN", schema: z.string().min(1), fallback: undefined },
  pgSchema: { flag: "pg-schema", env: "CANDLEFLOW_PG_SCHEMA", schema: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, "lower-case letters, digits, _"), fallback: "public" },
} satisfies Record<keyof Config, { flag: string; env: string; schema: z.ZodType; fallback: string | undefined }>;

/** What {@link loadConfig} answers: a config, the help request, or every problem found. */
export type Loaded = { ok: true; config: Config } | { ok: false; help: true } | { ok: false; help?: false; errors: string[] };

/**
 * Reads flags (`argv`, after the command name) over `env` over the defaults.
 *
 * @example
 * const loaded = loadConfig(["--port", "0"], process.env)
 * if (loaded.ok) start(loaded.config)
 */
export function loadConfig(argv: string[], env: Record<string, string | undefined>): Loaded {
  let flags: Record<string, string | boolean | undefined>;
  try {
    const options = Object.fromEntries(Object.values(FIELDS).map((f) => [f.flag, { type: f.flag === "loop" ? "boolean" : "string" } as const]));
    flags = parseArgs({ args: argv, options: { ...options, help: { type: "boolean", short: "h" } }, strict: true, allowPositionals: false, allowNegative: true }).values;
  } catch (e) {
    return { ok: false, errors: [(e as Error).message] };
  }
  if (flags.help) return { ok: false, help: true };
  const errors: string[] = [];
  const config: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(FIELDS)) {
    const flag = flags[field.flag];
    const raw = flag !== undefined ? String(flag) : (env[field.env] ?? field.fallback);
    if (raw === undefined) continue;
    const from = flag !== undefined ? `--${field.flag}` : env[field.env] !== undefined ? field.env : `default of --${field.flag}`;
    const parsed = (field.schema as z.ZodType).safeParse(raw);
    if (parsed.success) config[key] = parsed.data;
    else errors.push(`${from} ${JSON.stringify(raw)}: ${parsed.error.issues.map((i) => i.message).join("; ")}`);
  }
  // A port whose server is named in the environment is on unless its flag says otherwise.
  const upstash = env.UPSTASH_REDIS_REST_URL && env.UPSTASH_REDIS_REST_TOKEN;
  config.log ??= env.KAFKA_BROKERS ? "kafka" : upstash ? "upstash" : "memory";
  config.cache ??= env.REDIS_URL ? "redis" : upstash ? "upstash" : "memory";
  if ((config.log === "upstash" || config.cache === "upstash") && !(config.upstashUrl && config.upstashToken)) {
    errors.push("--log upstash / --cache upstash need --upstash-url and --upstash-token (or UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN)");
  }
  config.store ??= env.DATABASE_URL ? "postgres" : "sqlite";
  const roles = config.roles as Role[] | undefined;
  if (config.log === "memory" && roles && roles.includes("ingest") !== roles.includes("process")) {
    errors.push(`--roles ${roles.join(",")}: the in-process log needs ingest and process in one process (use --log kafka to split them)`);
  }
  if (errors.length > 0) return { ok: false, errors };
  config.rules ??= DEFAULT_RULES;
  return { ok: true, config: config as unknown as Config };
}
