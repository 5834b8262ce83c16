import { CandleflowError } from "./errors.ts";
import { parseDecimal, parsed, POW10 } from "./decimal.ts";
import type { Alert, RuleSet, RulesConfig } from "./types.ts";

/** A symbol's rules, resolved once when the symbol is first seen (and shared by symbols with the same rules). */
export interface ResolvedRules {
  /** Whale threshold as an exact decimal (mantissa, scale) and a double; null when off. */
  readonly whale: { readonly m: number; readonly e: number; readonly v: number } | null;
  readonly percent: number | null;
  readonly zScore: number | null;
  readonly zLookback: number;
  readonly spikeFactor: number | null;
  readonly spikeLookback: number;
  readonly gapMin: number | null;
  /** Interval labels whose final candles the candle rules watch. */
  readonly intervals: readonly string[];
}

/** Per-symbol, per-interval memory of the candle rules. */
export interface RuleHistory {
  /** Close of the previous final candle with trades; NaN before it. */
  prevClose: number;
  /** Previous close-to-close returns, oldest first (at most the z-score lookback). */
  returns: number[];
  /** Previous volumes, oldest first (at most the spike lookback). */
  volumes: number[];
}

/** An empty history. */
export function newHistory(): RuleHistory {
  return { prevClose: NaN, returns: [], volumes: [] };
}

/** Resolves the rules of `symbol`; `smallest` is the default interval for candle rules. */
export function resolveRules(config: RulesConfig | undefined, symbol: string, smallest: string): ResolvedRules {
  const set: RuleSet = { ...config?.default, ...config?.symbols?.[symbol] };
  let whale: ResolvedRules["whale"] = null;
  if (set.whale) {
    const text = String(set.whale.notional);
    if (parseDecimal(text) !== null) throw new CandleflowError("INVALID_OPTIONS", `whale.notional "${text}" is not a decimal`);
    whale = { m: parsed.m, e: parsed.e, v: Number(text) };
  }
  return {
    whale,
    percent: set.priceMove?.percent ?? null,
    zScore: set.priceMove?.zScore ?? null,
    zLookback: set.priceMove?.lookback ?? 20,
    spikeFactor: set.volumeSpike?.factor ?? null,
    spikeLookback: set.volumeSpike?.lookback ?? 20,
    gapMin: set.gap ? (set.gap.minMissing ?? 1) : null,
    intervals: set.intervals ?? [smallest],
  };
}

/**
 * Whether an exact notional `nm · 10^-ne` (nm an integer no greater than
 * `Number.MAX_SAFE_INTEGER`) reaches the whale threshold: the per-trade test, one
 * multiplication and no division. Scaling one side to the other's scale is exact while the
 * product stays safe, and a product past that is past the other side too.
 */
export function reachesWhale(rule: { m: number; e: number }, nm: number, ne: number): boolean {
  const k = ne - rule.e;
  if (k < 0) return nm * POW10[-k]! >= rule.m;
  return k < 23 ? nm >= rule.m * POW10[k]! : rule.m === 0;
}

/** Whether price × qty (exact, any size) ≥ the whale threshold. */
export function isWhale(rule: { m: number; e: number; v: number }, pm: number, pe: number, qm: number, qe: number): boolean {
  // Doubles decide unless the two are within rounding of each other.
  const nv = (pe === 0 ? pm : pm / POW10[pe]!) * (qe === 0 ? qm : qm / POW10[qe]!);
  if (nv > rule.v * (1 + 1e-9)) return true;
  if (nv < rule.v * (1 - 1e-9)) return false;
  const lhs = BigInt(pm) * BigInt(qm) * 10n ** BigInt(rule.e);
  const rhs = BigInt(rule.m) * 10n ** BigInt(pe + qe);
  return lhs >= rhs;
}

/**
 * Evaluates the candle rules on a final candle and updates the history. Values are
 * doubles from the exact decimals: the statistics, not the candles, carry rounding.
 */
export function candleAlerts(
  rules: ResolvedRules,
  history: RuleHistory,
  symbol: string,
  interval: string,
  openTime: number,
  open: number,
  close: number,
  volume: number,
  out: Alert[],
): void {
  const key = `${symbol}:${interval}:${openTime}`;
  if (rules.percent !== null && open > 0) {
    const move = ((close - open) / open) * 100;
    if (Math.abs(move) >= rules.percent) {
      out.push({
        id: `price_move:${key}`, rule: "price_move", symbol, interval, ts: openTime, value: move, threshold: rules.percent,
        message: `${symbol} ${interval} moved ${move.toFixed(3)}% (threshold ${rules.percent}%)`,
      });
    }
  }
  if (rules.zScore !== null && history.prevClose > 0) {
    const r = close / history.prevClose - 1;
    const past = history.returns;
    if (past.length === rules.zLookback) {
      let mean = 0;
      for (const x of past) mean += x;
      mean /= past.length;
      let sq = 0;
      for (const x of past) sq += (x - mean) * (x - mean);
      const sd = Math.sqrt(sq / past.length);
      const z = sd > 0 ? (r - mean) / sd : 0;
      if (Math.abs(z) >= rules.zScore) {
        out.push({
          id: `zscore:${key}`, rule: "zscore", symbol, interval, ts: openTime, value: z, threshold: rules.zScore,
          message: `${symbol} ${interval} return z-score ${z.toFixed(2)} over ${past.length} candles (threshold ${rules.zScore})`,
        });
      }
    }
    past.push(r);
    if (past.length > rules.zLookback) past.shift();
  }
  if (rules.spikeFactor !== null) {
    const past = history.volumes;
    if (past.length === rules.spikeLookback) {
      let mean = 0;
      for (const x of past) mean += x;
      mean /= past.length;
      if (mean > 0 && volume >= rules.spikeFactor * mean) {
        out.push({
          id: `volume_spike:${key}`, rule: "volume_spike", symbol, interval, ts: openTime, value: volume / mean,
          threshold: rules.spikeFactor,
          message: `${symbol} ${interval} volume ${(volume / mean).toFixed(2)}× its ${past.length}-candle mean (threshold ${rules.spikeFactor}×)`,
        });
      }
    }
    past.push(volume);
    if (past.length > rules.spikeLookback) past.shift();
  }
  history.prevClose = close;
}
