/**
 * The one place that turns a configuration into adapters: the embedded defaults (in-process
 * log and cache, SQLite) or the local stack (Kafka, Redis, PostgreSQL), port by port.
 * Networked adapters are imported only when chosen, so the embedded mode loads none of
 * their clients, and none of them connects before its first call.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { Engine } from "../lib/engine.ts";
import { memoryCache } from "./adapters/memory-cache.ts";
import { memoryLog } from "./adapters/memory-log.ts";
import { memoryStore } from "./adapters/memory-store.ts";
import type { Cache, CandleStore, TradeLog } from "./adapters/types.ts";
import type { Config } from "./config.ts";
import { checkpointKey, decodeResume, type SourceResume } from "./pipeline/resume.ts";

/** The in-process log keeps this many trades beyond what the processor has read; the source waits past it. */
export const MAX_LAG = 50_000;

/** The candle store the configuration names. */
export async function openStore(config: Config): Promise<CandleStore> {
  if (config.store === "postgres") {
    const { postgresStore } = await import("./adapters/postgres.ts");
    return postgresStore({ url: config.databaseUrl, schema: config.pgSchema, applicationName: `candleflow ${config.roles.join(",")}` });
  }
  if (config.store === "memory") return memoryStore();
  // Imported on use: bun:sqlite exists on Bun only, and the other runtimes choose other stores.
  const { lockSqlite, sqliteStore } = await import("./adapters/sqlite.ts");
  if (config.db !== ":memory:") mkdirSync(dirname(config.db), { recursive: true });
  // One processing server per SQLite file, refused at start-up. (On PostgreSQL several processors
  // share the work through the consumer group, and fenced checkpoints keep them apart.)
  const unlock = config.db !== ":memory:" && config.roles.includes("process") ? lockSqlite(config.db) : undefined;
  const store = sqliteStore({ path: config.db });
  return unlock ? { ...store, close: () => store.close().finally(unlock) } : store;
}

/** The cache and pub/sub the configuration names. */
export async function openCache(config: Config): Promise<Cache> {
  if (config.cache === "upstash") {
    const { upstashCache } = await import("./adapters/upstash.ts");
    return upstashCache({ url: config.upstashUrl!, token: config.upstashToken!, prefix: config.redisPrefix });
  }
  if (config.cache === "redis") {
    const { redisCache } = await import("./adapters/redis.ts");
    return redisCache({ url: config.redisUrl, prefix: config.redisPrefix });
  }
  return memoryCache();
}

/**
 * The trade log the configuration names. The in-process log starts at `firstOffset`, so
 * offsets continue across restarts; Kafka keeps its own, and a processing role joins the group.
 */
export async function openLog(config: Config, firstOffset: number): Promise<TradeLog> {
  if (config.log === "kafka") {
    const { kafkaLog } = await import("./adapters/kafka.ts");
    return kafkaLog({
      brokers: config.kafkaBrokers, topic: config.topic, alertsTopic: `${config.topic}.alerts`, partitions: config.partitions,
      ...(config.roles.includes("process") ? { groupId: config.group, sessionTimeoutMs: config.kafkaSessionMs } : {}),
      clientId: `candleflow-${config.roles.join("-")}`,
    });
  }
  if (config.log === "upstash") {
    const { upstashLog } = await import("./adapters/upstash-log.ts");
    return upstashLog({
      url: config.upstashUrl!, token: config.upstashToken!, prefix: config.redisPrefix, partitions: config.partitions,
      ...(config.roles.includes("process") ? { groupId: config.group, sessionTimeoutMs: config.kafkaSessionMs } : {}),
    });
  }
  // Retention covers the lag the source may run ahead plus what is read but not yet committed.
  return memoryLog({ retention: 2 * MAX_LAG + 4 * config.commitTrades, firstOffset });
}

/** What the stored checkpoints say, for a process starting up. */
export interface Resumed {
  /** Engine options of the checkpoints (they keep the intervals and rules they were created with). */
  engine?: Engine["options"];
  /** The source state of the newest checkpoint that has one. */
  source: SourceResume;
  /** Each symbol's last committed trade id, over every partition. */
  after: Record<string, number>;
  /** Where partition 0 resumes (the in-process log's first offset). */
  next0: number;
}

/** Reads the checkpoints of `group` for `partitions`: where the source and the in-process log resume. */
export async function readResume(store: CandleStore, group: string, partitions: readonly number[]): Promise<Resumed> {
  const resumed: Resumed = { source: {}, after: {}, next0: 0 };
  for (const p of partitions) {
    const saved = await store.loadCheckpoint(checkpointKey(group, p));
    if (!saved) continue;
    const engine = Engine.restore(saved.bytes);
    const at = decodeResume(p, saved.offsets);
    resumed.engine ??= engine.options;
    if (at?.source !== undefined) resumed.source = { source: at.source, ...(at.replayBase !== undefined ? { replayBase: at.replayBase } : {}) };
    if (p === 0) resumed.next0 = at?.next ?? 0;
    for (const [symbol, position] of Object.entries(engine.positions())) resumed.after[symbol] = position.id;
  }
  return resumed;
}
