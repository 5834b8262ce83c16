/**
 * What a watermark closes: final candles (and flat ones under `empty: "flat"`), the panes
 * they fold into larger windows, candle alerts, expiry of revisions, and id-gap alerts.
 */
import { toNumber } from "./decimal.ts";
import type { Resolved } from "./options.ts";
import type { Output } from "./output.ts";
import { candleAlerts } from "./rules.ts";
import { containing } from "./series.ts";
import { recomputeDue, type Series, type SymbolState } from "./state.ts";
import type { Alert } from "./types.ts";
import { flatCandle, type Window } from "./window.ts";

/** Emits what the symbol's watermark has made due; panes first, so they fold before larger windows close. */
export function settle(o: Resolved, out: Output, sym: SymbolState): void {
  for (const i of o.drainOrder) drain(o, out, sym, sym.series[i]!, sym.wm);
  settleIds(o, out, sym);
}

/** Reports the id gaps the watermark has passed, then recomputes when work is due next. */
export function settleIds(o: Resolved, out: Output, sym: SymbolState): void {
  if (sym.ids.gaps.length > 0) {
    sym.ids.confirm(sym.wm, o.allowedLateness + o.maxSize, (from, to, ts) => {
      const missing = to - from + 1;
      const min = sym.rules.gapMin;
      if (min === null || missing < min) return;
      out.alert({
        id: `gap:${sym.name}:${from}-${to}`, rule: "gap", symbol: sym.name, ts, value: missing, threshold: min,
        message: `${sym.name} trade ids ${from}–${to} missing (${missing})`,
      });
    });
  }
  recomputeDue(o, sym);
}

/** Finalizes series `s` up to watermark `wm`: finals, flat candles, revision expiry. */
export function drain(o: Resolved, out: Output, sym: SymbolState, s: Series, wm: number): void {
  if (o.empty === "flat") {
    for (;;) {
      const next = s.lastFinal === s.lastFinal ? s.lastFinal + s.size : s.open[0]?.openTime;
      if (next === undefined || next + s.size > wm) break;
      const w = s.open[0];
      if (w !== undefined && w.openTime === next) finalize(o, out, sym, s, w);
      else if (s.prevClose !== "") out.final(flatCandle(sym.name, s.label, next, s.prevClose));
      s.lastFinal = next;
    }
  } else {
    while (s.open.length > 0 && s.open[0]!.end <= wm) {
      const w = s.open[0]!;
      finalize(o, out, sym, s, w);
      s.lastFinal = w.openTime;
    }
  }
  while (s.done.length > 0 && s.done[0]!.end + o.allowedLateness <= wm) s.done.shift();
}

function finalize(o: Resolved, out: Output, sym: SymbolState, s: Series, w: Window): void {
  s.open.shift();
  w.final = true;
  if (o.rollup && s === sym.series[o.base]) {
    for (const larger of containing(o, sym, w.openTime)) larger.merge(w);
  }
  const candle = w.toCandle();
  out.final(candle);
  s.prevClose = candle.close;
  if (s.history !== null) {
    const found: Alert[] = [];
    candleAlerts(sym.rules, s.history, sym.name, s.label, w.openTime,
      toNumber(w.oM, w.oE), toNumber(w.cM, w.cE), Number(candle.volume), found);
    for (const a of found) out.alert(a);
  }
  if (o.allowedLateness > 0) s.done.push(w);
}
