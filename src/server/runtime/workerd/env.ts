/**
 * The worker's bindings and vars (see `wrangler.toml`) and what they mean. Vars are strings;
 * each is read here once, with its default.
 */
import type { DurableObjectNamespace } from "cloudflare:workers";
import type { SymbolObject } from "./durable-object.ts";

/** What `wrangler.toml` binds. */
export interface Env {
  /** One Durable Object per symbol. */
  CANDLES: DurableObjectNamespace<SymbolObject>;
  /** Symbols served, pulled and accepted by ingest, comma-separated, e.g. `BTCUSDT,ETHUSDT`. */
  SYMBOLS: string;
  /** Candle intervals, comma-separated; default `1m,5m,15m,1h`. */
  INTERVALS?: string;
  /** Exchange REST base of the scheduled pull; default `https://api.binance.com`; empty turns the pull off. */
  EXCHANGE_REST_URL?: string;
  /** Id ranges an engine remembers as missing per symbol (dedupe and gap alerts); default the engine's (4096). */
  MAX_ID_GAPS?: string;
  /** Most REST pages (1000 trades each) one scheduled run fetches per symbol; default 5. */
  PULL_PAGES?: string;
  /**
   * Most trades one call into an object aggregates (an ingest request's batch is split into
   * calls of this size; a scheduled pull or trade-log read goes page by page up to it); default
   * 2000. See {@link TRADES_PER_CALL}.
   */
  TRADES_PER_CALL?: string;
  /** Milliseconds between heartbeats to WebSocket clients (each one an alarm of the object); default 15 000. */
  HEARTBEAT_MS?: string;
  /** Largest ingest body, bytes; default 1 MiB. */
  INGEST_MAX_BYTES?: string;
  /** Bearer token the ingest route requires when set (a secret: `wrangler secret put INGEST_TOKEN`). */
  INGEST_TOKEN?: string;
  /** Upstash REST URL; with the token, the objects follow the Upstash trade log and mirror their candles to its cache. */
  UPSTASH_REDIS_REST_URL?: string;
  /** Upstash REST token (a secret: `wrangler secret put UPSTASH_REDIS_REST_TOKEN`). */
  UPSTASH_REDIS_REST_TOKEN?: string;
  /** Prefix of the Upstash keys and channels; default `candleflow:`, as on Bun. */
  UPSTASH_PREFIX?: string;
  /** `1`/`true`: each cron run advances every object's clock to now, so idle symbols' windows close. Off by default. */
  ADVANCE_ON_CRON?: string;
}

/** The vars of `env`, parsed, defaults applied. */
export interface Settings {
  symbols: string[];
  intervals: string[];
  maxIdGaps?: number;
  restUrl: string;
  pullPages: number;
  tradesPerCall: number;
  heartbeatMs: number;
  ingestMaxBytes: number;
  ingestToken?: string;
  upstash?: { url: string; token: string; prefix: string };
  advanceOnCron: boolean;
}

/**
 * Default trades per call into an object. Workers bound the CPU time of each invocation (an
 * object's call is one): 30 s by default on the paid plan, 10 ms on the free one. One call
 * also holds the object: its sockets' frames wait for it. 2000 trades took 20 to 30 ms in
 * workerd locally (72,000 to 95,000 trades/s through one object), and two exchange pages fit in one call.
 */
export const TRADES_PER_CALL = 2000;

const list = (value: string | undefined, fallback: string) => (value?.trim() ? value : fallback).split(",").map((s) => s.trim()).filter(Boolean);
const count = (value: string | undefined, fallback: number) => (value && /^[0-9]+$/.test(value) ? Number(value) : fallback);

/** Reads the vars. */
export function settings(env: Env): Settings {
  return {
    symbols: list(env.SYMBOLS, "").map((s) => s.toUpperCase()),
    intervals: list(env.INTERVALS, "1m,5m,15m,1h"),
    ...(env.MAX_ID_GAPS ? { maxIdGaps: count(env.MAX_ID_GAPS, 4096) } : {}),
    restUrl: (env.EXCHANGE_REST_URL ?? "https://api.binance.com").replace(/\/$/, ""),
    pullPages: count(env.PULL_PAGES, 5),
    tradesPerCall: Math.max(1, count(env.TRADES_PER_CALL, TRADES_PER_CALL)),
    heartbeatMs: Math.max(100, count(env.HEARTBEAT_MS, 15_000)),
    ingestMaxBytes: count(env.INGEST_MAX_BYTES, 1024 * 1024),
    ...(env.INGEST_TOKEN ? { ingestToken: env.INGEST_TOKEN } : {}),
    // Either variable alone switches nothing, as on Bun.
    ...(env.UPSTASH_REDIS_REST_URL && env.UPSTASH_REDIS_REST_TOKEN
      ? { upstash: { url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN, prefix: env.UPSTASH_PREFIX ?? "candleflow:" } }
      : {}),
    advanceOnCron: /^(1|true|yes|on)$/i.test(env.ADVANCE_ON_CRON ?? ""),
  };
}
