import { decodeCheckpoint, encodeCheckpoint } from "./checkpoint.ts";
import { toNumber } from "./decimal.ts";
import { CandleflowError } from "./errors.ts";
import { IdTracker } from "./ids.ts";
import { resolveOptions, type Resolved } from "./options.ts";
import { candleAlerts, isWhale, newHistory, resolveRules, type ResolvedRules, type RuleHistory } from "./rules.ts";
import type { Alert, Candle, EngineEvent, EngineOptions, EngineStats, Trade } from "./types.ts";
import { checkTrade, valid, type PriceCache } from "./validate.ts";
import { flatCandle, Window } from "./window.ts";
import { windowStart } from "./interval.ts";

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

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
  /** Smallest watermark at which `settle` has work; recomputed by it. */
  due: number;
}

/**
 * The streaming core: trades in, candles and alerts out, as return values.
 * Pure and deterministic — no clock, no IO: the same calls give the same events and the
 * same snapshot bytes on every runtime.
 *
 * @example
 * const engine = new Engine({ intervals: ["1m", "5m"] })
 * for (const e of engine.ingest({ symbol: "BTCUSDT", id: 1, price: "61837.63", qty: "0.02", ts: 1723161255342, side: "sell" }))
 *   if (e.type === "final") console.log(e.candle)
 * const bytes = engine.snapshot()
 * const again = Engine.restore(bytes) // continues exactly where `engine` is
 */
export class Engine {
  /** The options in force, defaults filled in. */
  readonly options: Resolved;
  /** Opaque source offsets carried by the checkpoint this engine was restored from. */
  offsets: string | undefined;
  private readonly bySymbol = new Map<string, SymbolState>();
  /** Symbols sorted by name, so every sweep runs in the same order everywhere. */
  private readonly order: SymbolState[] = [];
  private readonly counters: EngineStats = {
    trades: 0, rejected: 0, duplicates: 0, late: 0, revisions: 0, finals: 0, alerts: 0, gapsEvicted: 0,
  };
  private out: EngineEvent[] = [];
  private dirty: Window[] = [];
  /** Coalescing epoch of `update` events: one per call, or one per pull in "pull" mode. */
  private epoch = 1; // windows start at mark 0: never "already queued"
  private last: SymbolState | null = null;
  /** Price cache for a symbol's very first trade, before it has state. */
  private readonly scratch: PriceCache = { lastPrice: "", lastPM: 0, lastPE: 0 };
  private readonly evict = () => { this.counters.gapsEvicted++; };

  constructor(options: EngineOptions = {}) {
    this.options = resolveOptions(options);
  }

  /** Aggregates one trade. Invalid trades come back as a `rejected` event. */
  ingest(trade: Trade): EngineEvent[] {
    this.begin();
    this.one(trade);
    return this.end();
  }

  /** Aggregates many trades; `update` events are coalesced to one per touched window. */
  ingestMany(trades: Iterable<Trade>): EngineEvent[] {
    this.begin();
    for (const t of trades) this.one(t);
    return this.end();
  }

  /**
   * Tells the engine that event time has reached `now` (ms) at the source: every
   * symbol's watermark moves to at least `now − outOfOrderness`, closing idle windows.
   */
  advance(now: number): EngineEvent[] {
    if (!Number.isFinite(now)) throw new CandleflowError("INVALID_ARGUMENT", `advance(now): ${now} is not a finite time in ms`);
    this.begin();
    const wm = now - this.options.outOfOrderness;
    for (const sym of this.order) {
      if (wm > sym.wm) {
        sym.wm = wm;
        if (wm >= sym.due) this.settle(sym);
      }
    }
    return this.end();
  }

  /**
   * End of input: makes every open window final (and reports every id gap), without
   * inventing windows past each interval's last trade.
   */
  flush(): EngineEvent[] {
    this.begin();
    for (const sym of this.order) {
      let wm = sym.wm;
      for (const i of this.options.drainOrder) {
        const s = sym.series[i]!;
        const last = s.open[s.open.length - 1];
        if (last) {
          this.drain(sym, s, last.end);
          if (last.end > wm) wm = last.end;
        }
      }
      for (let i = 0; i < sym.ids.gaps.length; i += 4) wm = Math.max(wm, sym.ids.gaps[i + 2]! + 1);
      sym.wm = wm;
      this.settleIds(sym);
    }
    return this.end();
  }

  /** Canonical, versioned bytes of the whole state, with the driver's opaque `offsets`. */
  snapshot(offsets?: string): Uint8Array {
    return encodeCheckpoint(this.options, this.counters, this.order, offsets ?? this.offsets);
  }

  /**
   * An engine that continues exactly where the snapshotted one was. Throws
   * `CandleflowError` (`CHECKPOINT_*`) for corrupt, truncated or unknown-version bytes.
   */
  static restore(bytes: Uint8Array): Engine {
    const cp = decodeCheckpoint(bytes);
    const engine = new Engine(cp.options);
    Object.assign(engine.counters, cp.stats);
    engine.offsets = cp.offsets;
    for (const s of cp.symbols) {
      const sym = engine.symbol(s.name);
      sym.maxTs = s.maxTs;
      sym.wm = s.wm;
      sym.ids.max = s.idMax;
      sym.ids.min = s.idMin;
      sym.ids.minTs = s.idMinTs;
      sym.ids.gaps = s.gaps;
      s.series.forEach((saved, i) => Object.assign(sym.series[i]!, saved));
      engine.recomputeDue(sym);
    }
    return engine;
  }

  /** Counters since the first trade (restored engines continue the count). */
  stats(): EngineStats {
    return { ...this.counters };
  }

  /**
   * Per symbol, the highest trade id and the latest trade time taken in: where a source
   * resumes after a restore (they come from the same bytes as every other state, so they
   * always match what the checkpoint holds).
   */
  positions(): Record<string, { id: number; ts: number }> {
    const out: Record<string, { id: number; ts: number }> = {};
    for (const sym of this.order) out[sym.name] = { id: sym.ids.max, ts: sym.maxTs };
    return out;
  }

  /** Symbols seen, sorted. */
  symbols(): string[] {
    return this.order.map((s) => s.name);
  }

  /** The open (non-final) candles of `symbol`, by interval then time. */
  openCandles(symbol: string): Candle[] {
    const sym = this.bySymbol.get(symbol);
    if (!sym) return [];
    return sym.series.flatMap((s) => s.open.map((w) => this.render(w))).filter((c) => c.trades > 0);
  }

  /**
   * In `updates: "pull"` mode: an `update` event for each open window touched since the
   * last pull (none for windows that went final meanwhile). Pending pulls are a view of
   * open state, not part of checkpoints.
   */
  pullUpdates(): EngineEvent[] {
    const out: EngineEvent[] = [];
    this.renderDirty(out);
    this.epoch++;
    return out;
  }

  private begin(): void {
    if (this.options.updates !== "pull") this.epoch++;
    this.out = [];
  }

  private end(): EngineEvent[] {
    if (this.options.updates !== "pull") this.renderDirty(this.out);
    return this.out;
  }

  /** Appends an `update` for each queued open window, and empties the queue. */
  private renderDirty(out: EngineEvent[]): void {
    const dirty = this.dirty;
    const { rollup, base, intervals } = this.options;
    if (rollup) {
      // A trade in a pane changed every open larger window holding it
      // (even when the pane has closed since: its trades are then folded into them).
      for (let i = 0, n = dirty.length; i < n; i++) {
        const pane = dirty[i]!;
        if (pane.interval !== intervals[base]) continue;
        for (const w of this.containing(this.bySymbol.get(pane.symbol)!, pane.openTime, false)) {
          if (w.mark !== this.epoch) {
            w.mark = this.epoch;
            dirty.push(w);
          }
        }
      }
    }
    for (const w of dirty) if (!w.final) out.push({ type: "update", candle: this.render(w) });
    dirty.length = 0;
  }

  /** An open window's candle; a larger window under roll-up also shows its open panes. */
  private render(w: Window): Candle {
    const { rollup, base, intervals } = this.options;
    if (!rollup || w.final || w.interval === intervals[base]) return w.toCandle();
    const view = w.clone();
    for (const pane of this.bySymbol.get(w.symbol)!.series[base]!.open) {
      if (pane.openTime >= w.openTime && pane.openTime < w.end) view.merge(pane);
    }
    return view.toCandle();
  }

  /** Finds or creates a symbol's state, keeping `order` sorted. */
  private symbol(name: string): SymbolState {
    let sym = this.bySymbol.get(name);
    if (sym) return sym;
    const o = this.options;
    const rules = resolveRules(o.rules, name, o.intervals[0]!);
    sym = {
      name, maxTs: -Infinity, wm: -Infinity, ids: new IdTracker(), rules, due: Infinity, lastPrice: "", lastPM: 0, lastPE: 0,
      series: o.intervals.map((label, i) => ({
        label, size: o.sizes[i]!, open: [], done: [], lastFinal: NaN, prevClose: "",
        history: rules.intervals.includes(label) ? newHistory() : null,
      })),
    };
    this.bySymbol.set(name, sym);
    let lo = 0;
    let hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.order[mid]!.name < name) lo = mid + 1;
      else hi = mid;
    }
    this.order.splice(lo, 0, sym);
    return sym;
  }

  /** The per-trade hot path. */
  private one(t: Trade): void {
    const name = (t as Trade | null)?.symbol as string; // checked by checkTrade before use
    let sym = this.last;
    if (sym === null || sym.name !== name) sym = this.bySymbol.get(name) ?? null;
    const rejection = checkTrade(t, sym ?? this.scratch);
    if (rejection !== null) {
      this.counters.rejected++;
      this.out.push({ type: "rejected", reason: rejection.reason, detail: rejection.detail, trade: t });
      return;
    }
    const { pm, pe, qm, qe, ts, count } = valid;
    // A symbol exists once it has a valid trade.
    if (sym === null) sym = this.symbol(name);
    this.last = sym;
    if (ts < sym.wm && this.lateEverywhere(sym, t, ts)) return;
    const seen = sym.ids.accept(t.id, ts, this.options.maxIdGaps, this.evict);
    if (!seen) {
      this.counters.duplicates++;
      return;
    }
    if (sym.ids.gaps.length > 0 && ts + 1 < sym.due) sym.due = ts + 1;
    this.counters.trades++;
    const pv = toNumber(pm, pe);
    const product = pm * qm;
    const nm = product <= MAX_SAFE ? product : -1;
    const buy = t.side === "buy";
    const series = sym.series;
    const { rollup, base } = this.options;
    if (rollup) {
      // An open pane carries the trade into every larger window when it folds; a closed
      // pane (or none) means the larger windows must take the trade themselves.
      const pane = this.place(sym, series[base]!, t, ts, pm, pe, pv, qm, qe, nm, buy, count);
      if (pane === null || pane.final) {
        for (let i = 0; i < series.length; i++) {
          if (i !== base) this.place(sym, series[i]!, t, ts, pm, pe, pv, qm, qe, nm, buy, count);
        }
      }
    } else {
      for (let i = 0; i < series.length; i++) this.place(sym, series[i]!, t, ts, pm, pe, pv, qm, qe, nm, buy, count);
    }
    const whale = sym.rules.whale;
    const notional = whale === null ? 0 : pv * toNumber(qm, qe);
    if (whale !== null && isWhale(whale, pm, pe, qm, qe, notional)) {
      this.alert({
        id: `whale:${sym.name}:${t.id}`, rule: "whale", symbol: sym.name, ts, value: notional, threshold: whale.v,
        message: `${sym.name} trade ${t.id}: ${t.qty} @ ${t.price} = ${notional.toFixed(2)} notional (threshold ${whale.v})`,
      });
    }
    if (ts > sym.maxTs) {
      sym.maxTs = ts;
      const wm = ts - this.options.outOfOrderness;
      if (wm > sym.wm) {
        sym.wm = wm;
        if (wm >= sym.due) this.settle(sym);
      }
    }
  }

  /** Adds the trade to its window in `s`; emits a revision when that window was final. Null when late. */
  private place(sym: SymbolState, s: Series, t: Trade, ts: number, pm: number, pe: number, pv: number, qm: number, qe: number, nm: number, buy: boolean, count: number): Window | null {
    let w = s.open[s.open.length - 1];
    if (w === undefined || ts < w.openTime || ts >= w.end) {
      const found = this.locate(sym, s, t, ts);
      if (found === null) return null;
      w = found;
    }
    w.add(ts, t.id, pm, pe, pv, qm, qe, nm, buy, count);
    if (w.final) {
      w.rev++;
      this.counters.revisions++;
      this.out.push({ type: "revision", candle: w.toCandle() });
    } else if (this.options.updates !== false && w.mark !== this.epoch) {
      w.mark = this.epoch;
      this.dirty.push(w);
    }
    return w;
  }

  /** True (and reports it) when `ts` is too late for every interval's window. */
  private lateEverywhere(sym: SymbolState, t: Trade, ts: number): boolean {
    const { offset, allowedLateness } = this.options;
    for (const s of sym.series) {
      if (windowStart(ts, s.size, offset) + s.size + allowedLateness > sym.wm) return false;
    }
    for (const s of sym.series) this.late(sym, s, t, ts);
    return true;
  }

  private late(sym: SymbolState, s: Series, t: Trade, ts: number): void {
    this.counters.late++;
    const openTime = windowStart(ts, s.size, this.options.offset);
    this.out.push({ type: "late", symbol: sym.name, interval: s.label, openTime, id: t.id, ts });
  }

  /** The window of `ts` in series `s`: open, or final but within lateness; null when late. */
  private locate(sym: SymbolState, s: Series, t: Trade, ts: number): Window | null {
    const start = windowStart(ts, s.size, this.options.offset);
    const end = start + s.size;
    if (end > sym.wm) {
      const w = findOrInsert(s.open, sym.name, s.label, start, end);
      if (end < sym.due) sym.due = end;
      if (this.options.rollup && s === sym.series[this.options.base]) this.containing(sym, start);
      return w;
    }
    if (end + this.options.allowedLateness > sym.wm) {
      const w = findOrInsert(s.done, sym.name, s.label, start, end);
      w.final = true;
      return w;
    }
    this.late(sym, s, t, ts);
    return null;
  }

  /**
   * The open window of every larger series that holds the pane starting at `start`,
   * created when missing unless `create` is false: larger windows exist from their first pane on.
   */
  private containing(sym: SymbolState, start: number, create = true): Window[] {
    const { base, offset } = this.options;
    const found: Window[] = [];
    for (let i = 0; i < sym.series.length; i++) {
      if (i === base) continue;
      const s = sym.series[i]!;
      const from = windowStart(start, s.size, offset);
      if (create) found.push(findOrInsert(s.open, sym.name, s.label, from, from + s.size));
      else {
        const w = s.open.find((o) => o.openTime === from);
        if (w) found.push(w);
      }
    }
    return found;
  }

  /** Emits what the symbol's watermark has made due; panes first, so they fold before larger windows close. */
  private settle(sym: SymbolState): void {
    for (const i of this.options.drainOrder) this.drain(sym, sym.series[i]!, sym.wm);
    this.settleIds(sym);
  }

  /** Reports the id gaps the watermark has passed, then recomputes when work is due next. */
  private settleIds(sym: SymbolState): void {
    const horizon = this.options.allowedLateness + this.options.maxSize;
    if (sym.ids.gaps.length > 0) {
      sym.ids.confirm(sym.wm, horizon, (from, to, ts) => {
        const missing = to - from + 1;
        const min = sym.rules.gapMin;
        if (min === null || missing < min) return;
        this.alert({
          id: `gap:${sym.name}:${from}-${to}`, rule: "gap", symbol: sym.name, ts, value: missing, threshold: min,
          message: `${sym.name} trade ids ${from}–${to} missing (${missing})`,
        });
      });
    }
    this.recomputeDue(sym);
  }

  /** Finalizes series `s` up to watermark `wm`: finals, flat candles, revision expiry. */
  private drain(sym: SymbolState, s: Series, wm: number): void {
    const { empty, allowedLateness } = this.options;
    if (empty === "flat") {
      for (;;) {
        const next = s.lastFinal === s.lastFinal ? s.lastFinal + s.size : s.open[0]?.openTime;
        if (next === undefined || next + s.size > wm) break;
        const w = s.open[0];
        if (w !== undefined && w.openTime === next) this.finalize(sym, s, w);
        else if (s.prevClose !== "") {
          this.counters.finals++;
          this.out.push({ type: "final", candle: flatCandle(sym.name, s.label, next, s.prevClose) });
        }
        s.lastFinal = next;
      }
    } else {
      while (s.open.length > 0 && s.open[0]!.end <= wm) {
        const w = s.open[0]!;
        this.finalize(sym, s, w);
        s.lastFinal = w.openTime;
      }
    }
    while (s.done.length > 0 && s.done[0]!.end + allowedLateness <= wm) s.done.shift();
  }

  private finalize(sym: SymbolState, s: Series, w: Window): void {
    s.open.shift();
    w.final = true;
    if (this.options.rollup && s === sym.series[this.options.base]) {
      for (const larger of this.containing(sym, w.openTime)) larger.merge(w);
    }
    this.counters.finals++;
    const candle = w.toCandle();
    this.out.push({ type: "final", candle });
    s.prevClose = candle.close;
    if (s.history !== null) {
      const found: Alert[] = [];
      candleAlerts(sym.rules, s.history, sym.name, s.label, w.openTime,
        toNumber(w.oM, w.oE), toNumber(w.cM, w.cE), Number(candle.volume), found);
      for (const a of found) this.alert(a);
    }
    if (this.options.allowedLateness > 0) s.done.push(w);
  }

  private alert(alert: Alert): void {
    this.counters.alerts++;
    this.out.push({ type: "alert", alert });
  }

  private recomputeDue(sym: SymbolState): void {
    const { empty, allowedLateness, maxSize } = this.options;
    let due = Infinity;
    for (const s of sym.series) {
      if (s.open.length > 0) due = Math.min(due, s.open[0]!.end);
      if (empty === "flat" && s.lastFinal === s.lastFinal) due = Math.min(due, s.lastFinal + 2 * s.size);
      if (s.done.length > 0) due = Math.min(due, s.done[0]!.end + allowedLateness);
    }
    if (sym.ids.gaps.length > 0) due = Math.min(due, sym.ids.nextDue(allowedLateness + maxSize));
    sym.due = due;
  }
}

/** The window starting at `start` in an ascending list, created in place when missing. */
function findOrInsert(list: Window[], symbol: string, label: string, start: number, end: number): Window {
  let i = list.length - 1;
  while (i >= 0 && list[i]!.openTime > start) i--;
  if (i >= 0 && list[i]!.openTime === start) return list[i]!;
  const w = new Window(symbol, label, start, end);
  list.splice(i + 1, 0, w);
  return w;
}
