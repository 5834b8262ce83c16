/**
 * The server, composed from its ports: source → log → pipeline (engine, store, checkpoints)
 * → cache and pub/sub → WebSocket hub and REST app. Which adapters is `ports.ts`'s choice;
 * which of the three roles (ingest, process, api) run here is the configuration's.
 * Runtime-free: `runtime/bun.ts` puts it on a socket.
 */
import { Hono } from "hono";
import { Engine } from "../lib/engine.ts";
import type { Cache, CandleStore, Health, TradeLog } from "./adapters/types.ts";
import { createApp } from "./app.ts";
import type { Config } from "./config.ts";
import { createHub } from "./hub/hub.ts";
import type { HubLimits } from "./hub/limits.ts";
import type { Hub } from "./hub/types.ts";
import { exposition } from "./metrics.ts";
import { pipeline, type Pipeline } from "./pipeline/processor.ts";
import { MAX_LAG, openCache, openLog, openStore, readResume } from "./ports.ts";
import { ingest } from "./ingest.ts";
import { configuredSymbols, makeSource, sourceState } from "./sources/index.ts";
import type { Source } from "./sources/types.ts";

/** Parts a caller (a test) may supply instead of the configured adapters. */
export interface Parts {
  source?: Source;
  store?: CandleStore;
  cache?: Cache;
  log?: TradeLog;
  hubLimits?: Partial<HubLimits>;
  clock?: () => number;
  onError?: (error: unknown) => void;
}

/** A started server, not yet listening. */
export interface Running {
  app: Hono;
  hub: Hub;
  /** The source, when this process ingests. */
  source?: Source;
  /** The processor, when this process processes. */
  processor?: Pipeline;
  /** Intervals in force (a restored checkpoint's, else the configured ones). */
  intervals: string[];
  /** Log offset partition 0 resumed from (0 for a fresh store). */
  resumedAt: number;
  /** Things worth telling the operator at start-up. */
  notes: string[];
  /** Stops the source, commits what was processed, closes everything; failures to close are reported through `onError`, not thrown. */
  stop(): Promise<void>;
}

/** JSON with keys sorted at every depth, to compare configurations whatever their key order. */
function sortedJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) =>
    v !== null && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]])) : v,
  );
}

/** The app of a process without the api role: only its own /health and /metrics, for probes and its operator. */
function probesOnly(app: Hono): Hono {
  return new Hono().all("*", (c) => /^\/api\/v1\/(health|metrics)$/.test(c.req.path)
    ? app.fetch(c.req.raw)
    : c.json({ error: { code: "NOT_FOUND", message: "this process serves no API (its --roles leave out api)" } }, 404));
}

/**
 * Builds and starts everything but the socket: restores the checkpoints (or starts fresh),
 * starts the roles this process has. Throws when the store cannot be opened or the engine
 * options are invalid (`CandleflowError` `INVALID_OPTIONS`).
 *
 * @example
 * const running = await startServer(config)
 * Bun.serve({ fetch: running.app.fetch, websocket: running.hub.websocket })
 */
export async function startServer(config: Config, parts: Parts = {}): Promise<Running> {
  const clock = parts.clock ?? Date.now;
  const onError = parts.onError ?? ((e: unknown) => console.error(`candleflow: ${e instanceof Error ? e.message : String(e)}`));
  const has = (role: Config["roles"][number]) => config.roles.includes(role);
  const store = parts.store ?? (await openStore(config));
  const opened = await store.health();
  if (!opened.ok) {
    if (!parts.store) await store.close();
    throw new Error(`cannot open the store ${config.store === "postgres" ? config.databaseUrl : config.db}: ${opened.detail}`);
  }
  const probe = config.log === "memory" || parts.log ? [0] : Array.from({ length: config.partitions }, (_, i) => i);
  const resumed = await readResume(store, config.group, probe);
  const intervals = resumed.engine?.intervals ?? config.intervals;
  const notes: string[] = [];
  if (resumed.engine && resumed.engine.intervals.join() !== config.intervals.join()) {
    notes.push(`the checkpoint keeps its intervals ${resumed.engine.intervals.join(",")}; use a new store for ${config.intervals.join(",")}`);
  }
  if (resumed.engine && sortedJson(resumed.engine.rules) !== sortedJson(config.rules)) notes.push("the checkpoint keeps its alert rules; use a new store for new ones");
  // Checked now, so bad options stop the start-up instead of failing the pipeline later.
  new Engine({ intervals, rules: config.rules });

  const log = has("ingest") || has("process") ? parts.log ?? (await openLog(config, resumed.next0)) : undefined;
  const cache = parts.cache ?? (await openCache(config));
  const source = has("ingest") ? parts.source ?? makeSource(config, resumed.source, resumed.after) : undefined;
  const ctl = new AbortController();
  let processing: Promise<void> | undefined;
  let processor: Pipeline | undefined;
  if (log && has("process")) {
    processor = pipeline({
      log, store, cache, name: config.group, engine: { intervals, rules: config.rules }, commitTrades: config.commitTrades, commitMs: config.commitMs,
      clock, eventTime: config.source === "replay" ? undefined : clock, onError,
      // Nothing wakes a processor when another process appends to a shared log: it polls (over HTTP on Upstash, less often).
      idleMs: config.log === "kafka" ? 10 : config.log === "upstash" ? 50 : undefined,
      ...(source ? { checkpointMeta: () => sourceState(source) } : {}),
    });
    await processor.start();
    processing = processor.run(ctl.signal).catch(onError);
  }

  const feed = source && log
    ? ingest({
      source, log, clock, onError,
      ...(config.source === "replay" && config.symbols ? { symbols: new Set(configuredSymbols(config)) } : {}),
      // Replays bound their recordings at load instead: their moved times may run ahead of the clock at speed > 1.
      ...(config.source === "replay" ? {} : { maxFutureMs: config.maxFutureMs }),
      ...(processor && config.log === "memory"
        ? { backlog: { max: MAX_LAG, behind: async () => (await log.highWatermark(0)) - (processor!.status().partitions[0]?.offset ?? 0) } }
        : {}),
      appended: () => processor?.wake(),
    })
    : undefined;

  // Listed: configured symbols, symbols of trades the engine accepted, and stored ones; never raw input.
  const symbols = async () => [...new Set([...configuredSymbols(config), ...(processor?.symbols() ?? []), ...(await store.symbols())])].sort();
  const hub = createHub({
    cache, store, intervals, heartbeatMs: config.heartbeatMs, history: config.history, limits: parts.hubLimits, clock, onError,
    symbols: () => symbols().catch(() => [...configuredSymbols(config), ...(processor?.symbols() ?? [])].sort()),
  });
  const pipelineHealth = (): Health => {
    const s = processor!.status();
    return { adapter: "pipeline", ok: s.state !== "failed", detail: s.error ?? s.state };
  };
  const health: Record<string, () => Promise<Health> | Health> = {};
  if (feed) health.source = () => feed.health();
  if (log) health.log = () => log.health();
  if (processor) health.pipeline = pipelineHealth;
  const app = createApp({
    store, cache, intervals, symbols, clock, health,
    vitals: () => {
      const src = source?.status();
      const ts = src?.lastTradeTs;
      const s = processor?.status();
      return {
        lag: s?.lag, lastTradeAgeMs: ts === undefined ? undefined : Math.max(0, clock() - ts),
        sourceErrors: src?.errors, futureTrades: feed?.future(),
        tradesPerSecond: s === undefined ? undefined : Math.round(s.tradesPerSecond),
      };
    },
    metrics: () => {
      const s = processor?.status();
      const h = hub.stats();
      const e = s?.engine;
      return exposition({
        trades: e?.trades ?? 0, rejected: e?.rejected ?? 0, late: e?.late ?? 0, duplicates: e?.duplicates ?? 0, alerts: e?.alerts ?? 0,
        candles: s?.published ?? { update: 0, final: 0, revision: 0 }, wsClients: h.clients, wsBuffered: h.buffered, wsBadMessages: h.badMessages, wsConflated: h.conflated,
        wsClosed: { slow: h.closedSlow, abusive: h.closedAbusive }, lagRecords: s?.lag ?? 0,
        checkpointAgeSeconds: s?.lastCommitAt === undefined ? Number.NaN : (clock() - s.lastCommitAt) / 1000, commits: s?.commits ?? 0,
        deadLetters: s?.deadLetters ?? 0, sourceErrors: source?.status().errors ?? 0, futureTrades: feed?.future() ?? 0, ...(s ? { commitMs: s.commitMs } : {}),
        up: { ...(feed ? { source: feed.health().ok } : {}), ...(processor ? { pipeline: pipelineHealth().ok } : {}) },
      });
    },
  });

  return {
    app: has("api") ? app : probesOnly(app), hub, source, processor, intervals, resumedAt: resumed.next0, notes,
    async stop() {
      // Each step runs whatever the one before did: a connection that fails to close (a server
      // that restarted under it) is reported, and never keeps the rest from closing.
      const step = async (close: (() => Promise<unknown>) | undefined) => {
        try {
          await close?.();
        } catch (e) {
          onError(e);
        }
      };
      await step(feed && (() => feed.stop()));
      ctl.abort();
      await step(processing && (() => processing!));
      await step(() => hub.close());
      await step(() => cache.close());
      await step(log && (() => log.close()));
      if (!parts.store) await step(() => store.close());
    },
  };
}
