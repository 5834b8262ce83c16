/**
 * Incremental indicators over candle closes, for chart overlays. Each `push` takes the
 * next value and returns the indicator, or null until enough values have arrived.
 * Doubles: overlays are drawn, not summed.
 */

/** Simple moving average over the last `period` values. */
export class Sma {
  private readonly values: number[] = [];
  private sum = 0;
  constructor(readonly period: number) {
    if (!Number.isInteger(period) || period < 1) throw new RangeError(`period must be a positive integer, got ${period}`);
  }
  push(x: number): number | null {
    this.values.push(x);
    this.sum += x;
    if (this.values.length > this.period) this.sum -= this.values.shift()!;
    return this.values.length === this.period ? this.sum / this.period : null;
  }
}

/** Exponential moving average, seeded with the SMA of the first `period` values. */
export class Ema {
  private readonly alpha: number;
  private readonly seed: Sma;
  private value: number | null = null;
  constructor(readonly period: number) {
    this.seed = new Sma(period);
    this.alpha = 2 / (period + 1);
  }
  push(x: number): number | null {
    if (this.value === null) return (this.value = this.seed.push(x));
    return (this.value += this.alpha * (x - this.value));
  }
}

/** Wilder's relative strength index over `period` changes. */
export class Rsi {
  private prev: number | null = null;
  private gain = 0;
  private loss = 0;
  private seen = 0;
  constructor(readonly period: number = 14) {
    if (!Number.isInteger(period) || period < 1) throw new RangeError(`period must be a positive integer, got ${period}`);
  }
  push(x: number): number | null {
    if (this.prev === null) {
      this.prev = x;
      return null;
    }
    const change = x - this.prev;
    this.prev = x;
    const up = change > 0 ? change : 0;
    const down = change < 0 ? -change : 0;
    const n = this.period;
    if (this.seen < n) {
      this.gain += up / n;
      this.loss += down / n;
      if (++this.seen < n) return null;
    } else {
      this.gain = (this.gain * (n - 1) + up) / n;
      this.loss = (this.loss * (n - 1) + down) / n;
    }
    if (this.loss === 0) return this.gain === 0 ? 50 : 100;
    return 100 - 100 / (1 + this.gain / this.loss);
  }
}
