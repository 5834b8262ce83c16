import { CandleflowError } from "./errors.ts";

const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * Interval label → milliseconds. Accepts `<n><unit>` with unit s, m, h, d or w.
 *
 * @example intervalMs("15m") // 900000
 */
export function intervalMs(label: string): number {
  const match = /^([1-9][0-9]{0,5})([smhdw])$/.exec(label);
  if (!match) throw new CandleflowError("INVALID_OPTIONS", `interval "${label}" is not <n><s|m|h|d|w>, e.g. 1m`);
  return Number(match[1]) * UNIT_MS[match[2]!]!;
}

/** Start of the tumbling window of `size` ms (boundaries shifted by `offset`) that holds `ts`. */
export function windowStart(ts: number, size: number, offset: number): number {
  const r = (ts - offset) % size;
  return ts - (r < 0 ? r + size : r);
}
