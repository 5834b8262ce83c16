/**
 * Moving-average lines over candle closes, from the library's incremental indicators.
 * Recomputed from the closes in view on each render: a few hundred values cost
 * microseconds, and the open candle's close changes on every update.
 */
import { Ema, Sma } from "../lib/index.ts";

/** One indicator line drawn over the candles. */
export interface Overlay {
  /** Legend label, e.g. `SMA 20`. */
  label: string;
  /** Line color. */
  color: string;
  /** One value per candle; null until the indicator has enough closes. */
  compute(closes: readonly number[]): (number | null)[];
}

/** An overlay of an indicator with a `push(x)` that returns the value or null. */
function line(label: string, color: string, make: () => { push(x: number): number | null }): Overlay {
  return {
    label,
    color,
    compute(closes) {
      const indicator = make();
      return closes.map((close) => indicator.push(close));
    },
  };
}

/** The page's overlays: SMA(20) and EMA(50). */
export const OVERLAYS: readonly Overlay[] = [
  line("SMA 20", "#f0b429", () => new Sma(20)),
  line("EMA 50", "#5b9cf6", () => new Ema(50)),
];
