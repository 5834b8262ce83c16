/**
 * What the local-stack tests with real processes share: fresh names per test (topic, schema,
 * group, Redis prefix) and their removal afterwards, the `serve` flags of a stack process,
 * the candle table of a store, the table of a processor that never stopped, and waits.
 */
import { Admin } from "@platformatic/kafka";
import postgres from "postgres";
import type { Candle, Trade } from "../../lib/types.ts";
import { memoryLog } from "../adapters/memory-log.ts";
import { memoryStore } from "../adapters/memory-store.ts";
import type { CandleStore } from "../adapters/types.ts";
import { DEFAULT_RULES } from "../config.ts";
import { pipeline } from "../pipeline/processor.ts";
import { checkpointKey, decodeResume } from "../pipeline/resume.ts";
import { servers } from "./servers.ts";

/** Candle sizes of the stack tests. */
export const INTERVALS = ["1m", "5m", "15m", "1h"];

/** One test's topic, schema, group and Redis prefix, and the brokers and database they live on. */
export interface Names {
  topic: string;
  schema: string;
  group: string;
  prefix: string;
  brokers: string;
  database: string;
}

const made: Names[] = [];

/** Fresh names for one test (`tag` shows in them), on the shared servers unless told otherwise. */
export function names(tag: string, on: { brokers?: string; database?: string } = {}): Names {
  const id = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const n = {
    topic: `candleflow.${tag}.${id}`, schema: `${tag}_${id}`, group: `${tag}-${id}`, prefix: `${tag}:${id}:`,
    brokers: on.brokers ?? servers.kafka, database: on.database ?? servers.postgres,
  };
  made.push(n);
  return n;
}

/** Drops the schemas and topics that `names` handed out on the shared servers. */
export async function dropNames(): Promise<void> {
  const schemas = made.filter((n) => n.database === servers.postgres).map((n) => n.schema);
  const topics = made.filter((n) => n.brokers === servers.kafka).flatMap((n) => [n.topic, `${n.topic}.alerts`, `${n.topic}.dlq`]);
  made.length = 0;
  if (schemas.length > 0) {
    const sql = postgres(servers.postgres, { max: 1, onnotice: () => {} });
    for (const schema of schemas) await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await sql.end();
  }
  if (topics.length > 0) {
    const admin = new Admin({ clientId: "candleflow-test", bootstrapBrokers: servers.kafka.split(",") });
    const existing = new Set(await admin.listTopics());
    const gone = topics.filter((t) => existing.has(t));
    if (gone.length > 0) await admin.deleteTopics({ topics: gone });
    await admin.close();
  }
}

/** `serve` flags of a stack process in `roles`; without `redis`, the cache stays in-process. */
export function stackArgs(n: Names, roles: string, options: { partitions: number; redis?: string }, extra: string[] = []): string[] {
  return [
    "--roles", roles, "--log", "kafka", "--store", "postgres",
    ...(options.redis ? ["--cache", "redis", "--redis-url", options.redis, "--redis-prefix", n.prefix] : ["--cache", "memory"]),
    "--kafka-brokers", n.brokers, "--database-url", n.database, "--topic", n.topic, "--partitions", String(options.partitions), "--group", n.group,
    "--pg-schema", n.schema, "--intervals", INTERVALS.join(","), "--commit-trades", "500", "--commit-ms", "50", "--kafka-session-ms", "3000", ...extra,
  ];
}

/** Every candle and alert of a store, in one order. */
export async function table(store: CandleStore): Promise<{ candles: Candle[]; alerts: Awaited<ReturnType<CandleStore["alerts"]>> }> {
  const key = (c: Candle) => `${c.symbol}|${c.interval}|${String(c.openTime).padStart(15, "0")}`;
  const candles: Candle[] = [];
  for (const symbol of await store.symbols()) {
    for (const interval of INTERVALS) {
      let cursor: string | undefined;
      do {
        const page = await store.candles(symbol, interval, { limit: 5000, cursor });
        candles.push(...page.candles);
        cursor = page.cursor;
      } while (cursor);
    }
  }
  const alerts = (await store.alerts({ since: 0, limit: 5000 })).sort((a, b) => (a.id < b.id ? -1 : 1));
  return { candles: candles.sort((a, b) => (key(a) < key(b) ? -1 : 1)), alerts };
}

/** The table of one processor that read every trade and never stopped. */
export async function uninterrupted(trades: Trade[], partitions: number): ReturnType<typeof table> {
  const log = memoryLog({ partitions });
  await log.append(trades);
  const store = memoryStore();
  await pipeline({ log, store, engine: { intervals: INTERVALS, rules: DEFAULT_RULES } }).drain();
  return table(store);
}

/** Resolves once `check` holds (a failing check counts as not yet); rejects after `timeoutMs`. */
export async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(100);
  }
}

/** Where each partition's checkpoint resumes (0 without one). */
export async function checkpoints(store: CandleStore, group: string, partitions: number): Promise<number[]> {
  return Promise.all([...Array(partitions).keys()].map(async (p) => {
    const cp = await store.loadCheckpoint(checkpointKey(group, p));
    return cp ? decodeResume(p, cp.offsets)!.next : 0;
  }));
}
