/**
 * candleflow — event-time OHLCV candles and market alerts from trades, exact to the last
 * decimal, with deterministic checkpoints. Pure: no IO, no clock; runs on Bun, Deno,
 * Node, browsers and edge runtimes.
 *
 * @example
 * import { Engine } from "candleflow"
 * const engine = new Engine({ intervals: ["1m", "5m"], empty: "flat" })
 * const events = engine.ingestMany(trades)
 * const finals = events.filter((e) => e.type === "final")
 *
 * @module
 */
export { Engine } from "./engine.ts";
export { TradeBatch, type BatchRejection } from "./batch.ts";
export { CandleflowError, type ErrorCode } from "./errors.ts";
export { intervalMs, windowStart } from "./interval.ts";
export { CHECKPOINT_VERSION } from "./checkpoint.ts";
export { DEFAULT_INTERVALS, type Resolved as ResolvedOptions } from "./options.ts";
export { Ema, Rsi, Sma } from "./indicators.ts";
export { normalizeTs } from "./validate.ts";
export type {
  Alert, AlertRule, Candle, EngineEvent, EngineOptions, EngineStats, GapRule, PriceMoveRule, RejectReason, RuleSet,
  RulesConfig, Side, Trade, VolumeSpikeRule, WhaleRule,
} from "./types.ts";
