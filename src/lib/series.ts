/**
 * Finding windows in a symbol's series, and rendering a larger window under roll-up
 * (where trades land only in the smallest window, the pane, until it closes).
 */
import { windowStart } from "./interval.ts";
import type { Resolved } from "./options.ts";
import type { SymbolState } from "./state.ts";
import type { Candle } from "./types.ts";
import { Window } from "./window.ts";

/** The window starting at `start` in an ascending list, created in place when missing. */
export function findOrInsert(list: Window[], symbol: string, label: string, start: number, end: number): Window {
  let i = list.length - 1;
  while (i >= 0 && list[i]!.openTime > start) i--;
  if (i >= 0 && list[i]!.openTime === start) return list[i]!;
  const w = new Window(symbol, label, start, end);
  list.splice(i + 1, 0, w);
  return w;
}

/**
 * The open window of every larger series that holds the pane starting at `start`,
 * created when missing unless `create` is false: larger windows exist from their first pane on.
 */
export function containing(o: Resolved, sym: SymbolState, start: number, create = true): Window[] {
  const found: Window[] = [];
  for (let i = 0; i < sym.series.length; i++) {
    if (i === o.base) continue;
    const s = sym.series[i]!;
    const from = windowStart(start, s.size, o.offset);
    if (create) found.push(findOrInsert(s.open, sym.name, s.label, from, from + s.size));
    else {
      const w = s.open.find((x) => x.openTime === from);
      if (w) found.push(w);
    }
  }
  return found;
}

/** Scratch for merged views (the core is single-threaded): rendering allocates no window. */
const view = new Window("", "", 0, 0);

/** An open window's candle; a larger window under roll-up also shows its open panes. */
export function render(o: Resolved, sym: SymbolState, w: Window): Candle {
  if (!o.rollup || w.final || w.interval === o.intervals[o.base]) return w.toCandle();
  view.clear();
  view.merge(w);
  for (const pane of sym.series[o.base]!.open) {
    if (pane.openTime >= w.openTime && pane.openTime < w.end) view.merge(pane);
  }
  return view.toCandle(w);
}
