import { CandleflowError } from "./errors.ts";
import { intervalMs } from "./interval.ts";
import type { EngineOptions, RulesConfig } from "./types.ts";

/** Engine options with every default filled in, plus derived window sizes. */
export interface Resolved {
  intervals: string[];
  /** Window size in ms of each interval, same order. */
  sizes: number[];
  /** The largest window size, ms. */
  maxSize: number;
  /** Index of the smallest interval. */
  base: number;
  /**
   * Every interval is a multiple of the smallest: trades then update only the smallest
   * window (a pane), and panes fold into the larger windows when they close.
   */
  rollup: boolean;
  /** Series indexes in the order windows close: the smallest first, so panes fold before larger windows close. */
  drainOrder: number[];
  offset: number;
  outOfOrderness: number;
  allowedLateness: number;
  empty: "skip" | "flat";
  updates: boolean | "pull";
  rules: RulesConfig;
  maxIdGaps: number;
}

/** The default intervals. */
export const DEFAULT_INTERVALS = ["1m", "5m", "15m", "1h"];

/** Fills defaults and checks every field; throws `INVALID_OPTIONS` with the field's name. */
export function resolveOptions(o: EngineOptions): Resolved {
  const intervals = o.intervals ?? DEFAULT_INTERVALS;
  if (!Array.isArray(intervals) || intervals.length === 0) fail("intervals must be a non-empty list, e.g. [\"1m\"]");
  if (new Set(intervals).size !== intervals.length) fail(`intervals must not repeat: ${intervals.join(",")}`);
  const sizes = intervals.map(intervalMs);
  const whole = (name: string, v: number, min: number) => {
    if (!Number.isSafeInteger(v) || v < min) fail(`${name} must be an integer ≥ ${min} (ms), got ${v}`);
    return v;
  };
  const base = sizes.indexOf(Math.min(...sizes));
  const rollup = sizes.length > 1 && sizes.every((size) => size % sizes[base]! === 0);
  const empty = o.empty ?? "skip";
  if (empty !== "skip" && empty !== "flat") fail(`empty must be "skip" or "flat", got ${JSON.stringify(empty)}`);
  if (o.updates !== undefined && typeof o.updates !== "boolean" && o.updates !== "pull") {
    fail(`updates must be true, false or "pull", got ${JSON.stringify(o.updates)}`);
  }
  return {
    intervals: [...intervals],
    sizes,
    maxSize: Math.max(...sizes),
    base,
    rollup,
    drainOrder: [base, ...sizes.map((_, i) => i).filter((i) => i !== base)],
    offset: o.offset === undefined ? 0 : whole("offset", o.offset, Number.MIN_SAFE_INTEGER),
    outOfOrderness: o.outOfOrderness === undefined ? 10_000 : whole("outOfOrderness", o.outOfOrderness, 0),
    allowedLateness: o.allowedLateness === undefined ? 0 : whole("allowedLateness", o.allowedLateness, 0),
    empty,
    updates: o.updates ?? true,
    rules: o.rules ?? {},
    maxIdGaps: o.maxIdGaps === undefined ? 4096 : whole("maxIdGaps", o.maxIdGaps, 1),
  };
}

/** The options as given back to `new Engine` (what a checkpoint stores). */
export function plainOptions(r: Resolved): EngineOptions {
  return {
    intervals: r.intervals, offset: r.offset, outOfOrderness: r.outOfOrderness, allowedLateness: r.allowedLateness,
    empty: r.empty, updates: r.updates, rules: r.rules, maxIdGaps: r.maxIdGaps,
  };
}

function fail(message: string): never {
  throw new CandleflowError("INVALID_OPTIONS", message);
}
