/**
 * The embedded server, composed: source → in-process log → pipeline (engine, SQLite store,
 * checkpoints) → in-process cache and pub/sub → WebSocket hub and REST app. Runtime-free:
 * `runtime/bun.ts` puts it on a socket.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { Hono } from "hono";
import { Engine } from "../lib/engine.ts";
import { memoryCache } from "./adapters/memory-cache.ts";
import { memoryLog } from "./adapters/memory-log.ts";
import { sqliteStore } from "./adapters/sqlite.ts";
import type { Cache, CandleStore, Health, TradeLog } from "./adapters/types.ts";
import { createApp } from "./app.ts";
import type { Config } from "./config.ts";
import { exposition } from "./metrics.ts";
import { pipeline } from "./pipeline/processor.ts";
import { binanceSource } from "./sources/binance.ts";
import { coinbaseSource } from "./sources/coinbase.ts";
import { coingeckoSource } from "./sources/coingecko.ts";
import { replaySource, type ReplaySource } from "./sources/replay.ts";
import type { Source } from "./sources/types.ts";
import { createHub, type Hub, type HubLimits } from "./ws.ts";

/** Parts a caller (a test) may supply instead of the embedded defaults. */
export interface Parts {
  source?: Source;
  store?: CandleStore;
  cache?: Cache;
  hubLimits?: Partial<HubLimits>;
  clock?: () => number;
  onError?: (error: unknown) => void;
}

/** A started server, not yet listening. */
export interface Running {
  app: Hono;
  hub: Hub;
  source: Source;
  /** Intervals in force (a restored checkpoint's, else the configured ones). */
  intervals: string[];
  /** Log offset the pipeline resumed from (0 for a fresh database). */
  resumedAt: number;
  /** Things worth telling the operator at start-up. */
  notes: string[];
  /** Stops the source, commits what was processed, closes everything. */
  stop(): Promise<void>;
}

/**
 * Driver state committed with each checkpoint (in its offsets string), so a restart resumes
 * the source where the committed trades end: the source's name and a replay's time shift.
 * Where each symbol's trades stopped comes from the checkpointed engine itself.
 */
type Resume = {
  source?: string;
  replayBase?: number;
};

const CHECKPOINT = "candleflow:0";

/** JSON with keys sorted at every depth, to compare configurations whatever their key order. */
function sortedJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) =>
    v !== null && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]])) : v,
  );
}
/** The sink waits while the pipeline is this far behind: the log stays small and queueing short. */
const MAX_LAG = 50_000;
const DEFAULT_SYMBOLS = { binance: ["BTCUSDT", "ETHUSDT"], coinbase: ["BTC-USD", "ETH-USD"], coingecko: ["bitcoin", "ethereum"] };

/** The in-process log with offsets moved by `base`, so they continue across restarts. */
function continued(inner: TradeLog, base: number): TradeLog {
  return {
    name: inner.name,
    partitions: () => inner.partitions(),
    append: (trades) => inner.append(trades),
    read: async (p, from, max) => {
      const got = await inner.read(p, from - base, max);
      return { records: got.records.map((r) => ({ offset: r.offset + base, trade: r.trade })), next: got.next + base };
    },
    highWatermark: async (p) => base + (await inner.highWatermark(p)),
    lowWatermark: async (p) => base + (await inner.lowWatermark(p)),
    health: () => inner.health(),
    close: () => inner.close(),
  };
}

/** The cache, counting the candle events published through it by kind. */
function counted(inner: Cache, counts: Record<"update" | "final" | "revision", number>): Cache {
  return {
    name: inner.name,
    setLatest: (candles) => inner.setLatest(candles),
    latest: (symbol, interval) => inner.latest(symbol, interval),
    publish: (channel, message) => {
      const kind = /^\{"type":"(update|final|revision)"/.exec(message)?.[1] as keyof typeof counts | undefined;
      if (kind && channel.startsWith("candles:")) counts[kind]++;
      return inner.publish(channel, message);
    },
    subscribe: (channel, handler) => inner.subscribe(channel, handler),
    health: () => inner.health(),
    close: () => inner.close(),
  };
}

function makeSource(config: Config, resume: Resume, after: Record<string, number>): Source {
  const same = resume.source === config.source && Object.keys(after).length > 0;
  if (config.source === "replay") {
    // Looping: history up to now at once, then paced; once through: paced from now. A restart
    // keeps the first run's time shift and continues after the last committed trade.
    return replaySource({
      file: config.file, speed: config.speed, loop: config.loop, anchor: config.loop ? "end" : "start",
      ...(same && resume.replayBase !== undefined ? { base: resume.replayBase, resumeAfter: after } : {}),
    });
  }
  const symbols = config.symbols ?? DEFAULT_SYMBOLS[config.source];
  if (config.source === "binance") return binanceSource({ symbols, ...(same ? { resumeAfter: after } : {}) });
  if (config.source === "coinbase") return coinbaseSource({ products: symbols });
  return coingeckoSource({ ids: symbols });
}

function symbolsOf(config: Config): string[] {
  if (config.source === "replay") return config.symbols ?? [];
  const symbols = config.symbols ?? DEFAULT_SYMBOLS[config.source];
  return config.source === "coingecko" ? symbols.map((id) => `${id}-usd`.toUpperCase()) : symbols.map((s) => s.toUpperCase());
}

/**
 * Builds and starts everything but the socket: restores the checkpoint (or starts fresh),
 * starts the pipeline and the source. Throws when the store cannot be opened or the engine
 * options are invalid (`CandleflowError` `INVALID_OPTIONS`).
 *
 * @example
 * const running = await startServer(config)
 * Bun.serve({ fetch: running.app.fetch, websocket: running.hub.websocket })
 */
export async function startServer(config: Config, parts: Parts = {}): Promise<Running> {
  const clock = parts.clock ?? Date.now;
  const onError = parts.onError ?? ((e: unknown) => console.error(`candleflow: ${e instanceof Error ? e.message : String(e)}`));
  if (!parts.store && config.db !== ":memory:") mkdirSync(dirname(config.db), { recursive: true });
  const store = parts.store ?? sqliteStore({ path: config.db });
  const opened = await store.health();
  if (!opened.ok) throw new Error(`cannot open the store ${config.db}: ${opened.detail}`);
  const saved = await store.loadCheckpoint(CHECKPOINT);
  const meta = saved ? (JSON.parse(saved.offsets) as Resume & Record<string, unknown>) : {};
  const base = Number(meta["0"] ?? 0);
  const checkpointed = saved ? Engine.restore(saved.bytes) : undefined;
  const restored = checkpointed?.options;
  const after = Object.fromEntries(Object.entries(checkpointed?.positions() ?? {}).map(([symbol, p]) => [symbol, p.id]));
  const intervals = restored?.intervals ?? config.intervals;
  const notes: string[] = [];
  if (restored && restored.intervals.join() !== config.intervals.join()) {
    notes.push(`the checkpoint keeps its intervals ${restored.intervals.join(",")}; use a new --db for ${config.intervals.join(",")}`);
  }
  if (restored && sortedJson(restored.rules) !== sortedJson(config.rules)) notes.push("the checkpoint keeps its alert rules; use a new --db for new ones");
  // Checked now, so bad options stop the start-up instead of failing the pipeline later.
  new Engine({ intervals, rules: config.rules });

  // Retention covers the lag the source may run ahead plus what is read but not yet
  // committed; the source waits rather than outrun it.
  const log = continued(memoryLog({ retention: 2 * MAX_LAG + 4 * config.commitTrades }), base);
  const counts = { update: 0, final: 0, revision: 0 };
  const cache = counted(parts.cache ?? memoryCache(), counts);
  const source = parts.source ?? makeSource(config, meta, after);
  const seen = new Set(symbolsOf(config));
  const p = pipeline({
    log, store, cache, engine: { intervals, rules: config.rules }, commitTrades: config.commitTrades, commitMs: config.commitMs,
    clock, eventTime: config.source === "replay" ? undefined : clock, onError,
    checkpointMeta: (): Resume => {
      const replayBase = "base" in source ? (source as ReplaySource).base() : undefined;
      return { source: source.name, ...(replayBase !== undefined ? { replayBase } : {}) };
    },
  });
  await p.start();
  const ctl = new AbortController();
  const processing = p.run(ctl.signal).catch(onError);

  const wanted = config.source === "replay" && config.symbols ? new Set(config.symbols.map((s) => s.toUpperCase())) : undefined;
  let stopping = false;
  let sourceState: "running" | "ended" | "failed" = "running";
  let sourceError = "";
  const feeding = source.start(async (trades) => {
    const batch = wanted ? trades.filter((t) => wanted.has(t.symbol)) : trades;
    for (const t of batch) seen.add(t.symbol);
    await log.append(batch);
    p.wake();
    while (!stopping && (await log.highWatermark(0)) - (p.status().partitions[0]?.offset ?? 0) > MAX_LAG) await new Promise((r) => setTimeout(r, 20));
  }).then(() => void (sourceState = "ended"), (e) => {
    sourceState = "failed";
    sourceError = e instanceof Error ? e.message : String(e);
    onError(e);
  });

  const symbols = async () => [...new Set([...seen, ...(await store.symbols())])].sort();
  const hub = createHub({
    cache, store, intervals, heartbeatMs: config.heartbeatMs, history: config.history, limits: parts.hubLimits, clock, onError,
    symbols: () => symbols().catch(() => [...seen].sort()),
  });
  const sourceHealth = (): Health => {
    const s = source.status();
    const ok = sourceState === "ended" || (sourceState === "running" && s.connected);
    const detail = sourceState === "failed" ? sourceError : sourceState === "ended" ? "input ended" : s.connected ? undefined : s.lastError ?? "connecting";
    return { adapter: source.name, ok, ...(detail ? { detail } : {}) };
  };
  const pipelineHealth = (): Health => {
    const s = p.status();
    return { adapter: "pipeline", ok: s.state !== "failed", detail: s.error ?? s.state };
  };
  const app = createApp({
    store, cache, intervals, symbols, clock,
    health: { source: sourceHealth, log: () => log.health(), pipeline: pipelineHealth },
    vitals: () => {
      const s = p.status();
      const ts = source.status().lastTradeTs;
      return { lag: s.lag, lastTradeAgeMs: ts === undefined ? undefined : clock() - ts, tradesPerSecond: Math.round(s.tradesPerSecond) };
    },
    metrics: () => {
      const s = p.status();
      const h = hub.stats();
      return exposition({
        trades: s.engine.trades, rejected: s.engine.rejected, late: s.engine.late, duplicates: s.engine.duplicates, alerts: s.engine.alerts,
        candles: counts, wsClients: h.clients, wsBuffered: h.buffered, wsBadMessages: h.badMessages, wsConflated: h.conflated,
        wsClosed: { slow: h.closedSlow, abusive: h.closedAbusive }, lagRecords: s.lag,
        checkpointAgeSeconds: s.lastCommitAt === undefined ? Number.NaN : (clock() - s.lastCommitAt) / 1000, commits: s.commits,
        up: { source: sourceHealth().ok, pipeline: pipelineHealth().ok },
      });
    },
  });

  return {
    app, hub, source, intervals, resumedAt: base, notes,
    async stop() {
      stopping = true;
      await source.stop();
      await feeding;
      ctl.abort();
      await processing;
      await hub.close();
      await cache.close();
      await log.close();
      if (!parts.store) await store.close();
    },
  };
}
