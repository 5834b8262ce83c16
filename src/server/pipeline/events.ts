/** The engine's events as the pipeline sorts them: candle events by window, alerts, refusals. */
import type { Candle, EngineEvent } from "../../lib/types.ts";

/** An `update`, `final` or `revision` event. */
export type CandleEvent = Extract<EngineEvent, { candle: Candle }>;

/** An `alert` event. */
export type AlertEvent = Extract<EngineEvent, { type: "alert" }>;

/** Whether `e` carries a candle: the events stores, caches and subscribers keep the latest of per window. */
export const isCandleEvent = (e: EngineEvent): e is CandleEvent => e.type === "update" || e.type === "final" || e.type === "revision";

/** One key per (symbol, interval, openTime): events of the same window replace each other. */
export const windowKey = (c: Candle): string => `${c.symbol}\u0000${c.interval}\u0000${c.openTime}`;
