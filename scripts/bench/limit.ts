import type { TradeBatch } from "../../src/lib/batch.ts";
import { POW10 } from "../../src/lib/decimal.ts";

/**
 * The limit, not a contender: one flat loop over the batch's typed arrays folding
 * float OHLCV into preallocated per-symbol, per-interval slots. No validation, dedupe,
 * watermark, late handling, events or exact decimals: what the hardware does with the
 * same bytes when nothing else is asked of it.
 */
export function limitLoop(batches: readonly TradeBatch[], sizes: readonly number[]): number {
  const symbols = Math.max(...batches.map((b) => b.names.length));
  const n = symbols * sizes.length;
  const open = new Float64Array(n).fill(-1);
  const o = new Float64Array(n), h = new Float64Array(n), l = new Float64Array(n), c = new Float64Array(n), v = new Float64Array(n);
  let candles = 0;
  for (const b of batches) {
    const { sym, ts, pm, pe, qm, qe } = b;
    for (let i = 0; i < b.length; i++) {
      const s = sym[i]! * sizes.length;
      const p = pm[i]! / POW10[pe[i]!]!;
      const q = qm[i]! / POW10[qe[i]!]!;
      for (let k = 0; k < sizes.length; k++) {
        const at = s + k;
        const t = ts[i]!;
        // Same window as the last trade: no division.
        const start = t >= open[at]! && t < open[at]! + sizes[k]! ? open[at]! : t - (t % sizes[k]!);
        if (start !== open[at]) {
          if (start > open[at]!) {
            open[at] = start;
            o[at] = h[at] = l[at] = p;
            v[at] = 0;
            candles++;
          }
        } else {
          if (p > h[at]!) h[at] = p;
          if (p < l[at]!) l[at] = p;
        }
        c[at] = p;
        v[at]! += q;
      }
    }
  }
  return candles + (v[0]! > 0 ? 0 : 1);
}
