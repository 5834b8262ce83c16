import type { Candle } from "../../lib/types.ts";

/**
 * Whether `next` may replace `prev` for the same (symbol, interval, openTime) — the upsert
 * guard every store and cache applies, so a replayed or reordered write never rolls a
 * candle back:
 *
 * - a final candle is replaced only by a final one with a higher `rev` (a revision);
 * - an open candle (`final: false`) is replaced by any final one, and by an open one with
 *   at least as many trades (an open window only ever gains trades).
 *
 * @example supersedes({ ...c, final: true, rev: 1 }, { ...c, final: true, rev: 0 }) // true
 */
export function supersedes(next: Candle, prev: Candle): boolean {
  if (prev.final) return next.final && next.rev > prev.rev;
  return next.final || next.trades >= prev.trades;
}

/** Whether `next` should become the latest candle of its (symbol, interval) over `prev`. */
export function newer(next: Candle, prev: Candle | undefined): boolean {
  if (prev === undefined || next.openTime > prev.openTime) return true;
  return next.openTime === prev.openTime && supersedes(next, prev);
}
