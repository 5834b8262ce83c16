/**
 * The engine's state: what it knows per symbol and per interval. The engine mutates it and
 * the checkpoint encodes it; both import it from here and neither knows the other.
 */
import { IdTracker } from "./ids.ts";
import type { Resolved } from "./options.ts";
import { newHistory, resolveRules, type ResolvedRules, type RuleHistory } from "./rules.ts";
import type { PriceCache } from "./validate.ts";
import type { Window } from "./window.ts";

/** One interval of one symbol: its open windows, and final ones still open to revisions. */
export interface Series {
  readonly label: string;
  readonly size: number;
  /** Windows the watermark has not passed, ascending by openTime. */
  open: Window[];
  /** Final windows within allowed lateness, ascending by openTime. */
  done: Window[];
  /** openTime of the last window emitted final (flat ones included); NaN before the first. */
  lastFinal: number;
  /** Close of the last final candle with trades (for flat candles); "" before it. */
  prevClose: string;
  /** Candle-rule memory, when the rules watch this interval. */
  history: RuleHistory | null;
}

/** Everything the engine knows about one symbol (the price cache is not state: snapshots leave it out). */
export interface SymbolState extends PriceCache {
  readonly name: string;
  /** Greatest trade time seen; -Infinity before the first. */
  maxTs: number;
  /** Event-time watermark: windows ending at or before it are final. */
  wm: number;
  readonly ids: IdTracker;
  readonly series: Series[];
  readonly rules: ResolvedRules;
  /** Smallest watermark at which the engine has work for this symbol; Infinity when none. */
  due: number;
}

/**
 * The rules of every symbol the options give no rules of its own, resolved once per options
 * and shared: nothing changes resolved rules. One object per symbol cost some 175 bytes of
 * each symbol's state and a good part of restoring one.
 */
const sharedRules = new WeakMap<Resolved, ResolvedRules>();

function rulesOf(options: Resolved, name: string): ResolvedRules {
  const smallest = options.intervals[0]!;
  if (options.rules.symbols?.[name] !== undefined) return resolveRules(options.rules, name, smallest);
  let rules = sharedRules.get(options);
  if (rules === undefined) sharedRules.set(options, (rules = resolveRules(options.rules, name, smallest)));
  return rules;
}

/** A symbol as it is before its first trade, under `options` (or with the id state a checkpoint gave back). */
export function newSymbol(options: Resolved, name: string, ids = new IdTracker()): SymbolState {
  const rules = rulesOf(options, name);
  return {
    name, maxTs: -Infinity, wm: -Infinity, ids, rules, due: Infinity, lastPrice: "", lastPM: 0, lastPE: 0,
    series: options.intervals.map((label, i) => ({
      label, size: options.sizes[i]!, open: [], done: [], lastFinal: NaN, prevClose: "",
      history: rules.intervals.includes(label) ? newHistory() : null,
    })),
  };
}

/** Recomputes `sym.due`: the earliest watermark at which a window closes, a flat candle or a revision expires, or an id gap is due. */
export function recomputeDue(options: Resolved, sym: SymbolState): void {
  const { empty, allowedLateness, maxSize } = options;
  let due = Infinity;
  for (const s of sym.series) {
    if (s.open.length > 0) due = Math.min(due, s.open[0]!.end);
    if (empty === "flat" && s.lastFinal === s.lastFinal) due = Math.min(due, s.lastFinal + 2 * s.size);
    if (s.done.length > 0) due = Math.min(due, s.done[0]!.end + allowedLateness);
  }
  if (sym.ids.gaps.length > 0) due = Math.min(due, sym.ids.nextDue(allowedLateness + maxSize));
  sym.due = due;
}
