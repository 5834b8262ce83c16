import type { TradeBatch } from "./batch.ts";
import { decodeCheckpoint, encodeCheckpoint } from "./checkpoint.ts";
import { drain, settle, settleIds } from "./close.ts";
import { formatDecimal, toNumber } from "./decimal.ts";
import { CandleflowError } from "./errors.ts";
import { windowStart } from "./interval.ts";
import { plainOptions, resolveOptions, type Resolved } from "./options.ts";
import { Output } from "./output.ts";
import { isWhale, reachesWhale } from "./rules.ts";
import { containing, findOrInsert, render } from "./series.ts";
import { newSymbol, recomputeDue, type Series, type SymbolState } from "./state.ts";
import type { Candle, EngineEvent, EngineOptions, EngineStats, RejectReason, Trade } from "./types.ts";
import { checkTrade, valid, type PriceCache } from "./validate.ts";
import type { Window } from "./window.ts";

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/**
 * The last window of a list, or undefined. Not `list[list.length - 1]`: on an empty list
 * (every time a window closes) that reads index -1, which throws the optimized per-trade
 * code back to the interpreter.
 */
function newest(list: Window[]): Window | undefined {
  const n = list.length;
  return n > 0 ? list[n - 1] : undefined;
}

/**
 * The streaming core: trades in, candles and alerts out, as return values.
 * Pure and deterministic — no clock, no IO: the same calls give the same events and the
 * same snapshot bytes on every runtime.
 *
 * The lifecycle reads top to bottom: ingest (trades into windows), advance (the watermark
 * without trades), emit (finals on the watermark, updates at the end of a call), snapshot
 * and restore.
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
  private order: SymbolState[] = [];
  private readonly out = new Output();
  private last: SymbolState | null = null;
  /** Price cache for a symbol's very first trade, before it has state. */
  private readonly scratch: PriceCache = { lastPrice: "", lastPM: 0, lastPE: 0 };
  private readonly evict = () => { this.out.counters.gapsEvicted++; };
  // Options the per-trade path reads, as fields.
  private readonly rollup: boolean;
  private readonly base: number;
  private readonly queueUpdates: boolean;
  private readonly maxIdGaps: number;
  private readonly outOfOrderness: number;

  constructor(options: EngineOptions = {}) {
    this.options = resolveOptions(options);
    this.rollup = this.options.rollup;
    this.base = this.options.base;
    this.queueUpdates = this.options.updates !== false;
    this.maxIdGaps = this.options.maxIdGaps;
    this.outOfOrderness = this.options.outOfOrderness;
  }

  // ── ingest ────────────────────────────────────────────────────────────────

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
   * Aggregates a {@link TradeBatch}: the same events and state as `ingestMany` of the same
   * trades, without a trade object or a decimal string per trade.
   */
  ingestBatch(batch: TradeBatch): EngineEvent[] {
    this.begin();
    const { length, names, sym, id, ts, pm, pe, qm, qe, buy, count, rejected } = batch;
    const slots: (SymbolState | undefined)[] = [];
    let next = 0;
    let skip = rejected.length > 0 ? rejected[0]!.row : -1;
    for (let i = 0; i < length; i++) {
      if (i === skip) {
        const r = rejected[next++]!;
        this.rejected(r.reason, r.detail, r.trade);
        skip = next < rejected.length ? rejected[next]!.row : -1;
        continue;
      }
      const k = sym[i]!;
      let s = slots[k];
      if (s === undefined) s = slots[k] = this.symbol(names[k]!);
      this.take(s, id[i]!, ts[i]!, pm[i]!, pe[i]!, qm[i]!, qe[i]!, buy[i] === 1, count[i]!);
    }
    return this.end();
  }

  /** One untrusted trade object: checked, then taken. */
  private one(t: Trade): void {
    const name = (t as Trade | null)?.symbol as string; // checked by checkTrade before use
    let sym = this.last;
    if (sym === null || sym.name !== name) sym = this.bySymbol.get(name) ?? null;
    const rejection = checkTrade(t, sym ?? this.scratch);
    if (rejection !== null) {
      this.rejected(rejection.reason, rejection.detail, t);
      return;
    }
    // A symbol exists once it has a valid trade.
    if (sym === null) sym = this.symbol(name);
    this.last = sym;
    this.take(sym, t.id, valid.ts, valid.pm, valid.pe, valid.qm, valid.qe, t.side === "buy", valid.count);
  }

  /** The per-trade hot path, for a valid trade: dedupe, windows, whale rule, watermark. */
  private take(sym: SymbolState, id: number, ts: number, pm: number, pe: number, qm: number, qe: number, buy: boolean, count: number): void {
    if (ts < sym.wm && this.lateEverywhere(sym, id, ts)) return;
    const counters = this.out.counters;
    const ids = sym.ids;
    // The next id in sequence is new and changes no gap: skip the tracker's general case.
    if (id === ids.max + 1 && ids.max >= 0) ids.max = id;
    else if (ids.accept(id, ts, this.maxIdGaps, this.evict)) {
      // A gap opened, moved or closed: work out when the symbol is due again. Only lowering
      // `due` (as before) left it early once a late trade filled its gap, and `settle` then
      // ran for nothing: some 7,000 times per million trades of the bench market.
      recomputeDue(this.options, sym);
    } else {
      counters.duplicates++;
      return;
    }
    counters.trades++;
    const product = pm * qm;
    const nm = product <= MAX_SAFE ? product : -1;
    const series = sym.series;
    if (this.rollup) {
      // An open pane carries the trade into every larger window when it folds; a closed
      // pane (or none) means the larger windows must take the trade themselves.
      const s = series[this.base]!;
      const w = newest(s.open);
      if (w !== undefined && ts >= w.openTime && ts < w.end && !w.final) {
        w.add(ts, id, pm, pe, qm, qe, nm, buy, count);
        if (this.queueUpdates) this.out.touch(w);
      } else {
        const pane = this.place(sym, s, id, ts, pm, pe, qm, qe, nm, buy, count);
        if (pane === null || pane.final) {
          for (let i = 0; i < series.length; i++) {
            if (i !== this.base) this.place(sym, series[i]!, id, ts, pm, pe, qm, qe, nm, buy, count);
          }
        }
      }
    } else {
      for (let i = 0; i < series.length; i++) this.place(sym, series[i]!, id, ts, pm, pe, qm, qe, nm, buy, count);
    }
    const whale = sym.rules.whale;
    // In integers while the notional's mantissa is exact, in BigInt past that.
    if (whale !== null && (nm >= 0 ? reachesWhale(whale, nm, pe + qe) : isWhale(whale, pm, pe, qm, qe))) {
      this.whale(sym, id, ts, pm, pe, qm, qe, whale.v);
    }
    if (ts > sym.maxTs) {
      sym.maxTs = ts;
      const wm = ts - this.outOfOrderness;
      if (wm > sym.wm) {
        sym.wm = wm;
        if (wm >= sym.due) settle(this.options, this.out, sym);
      }
    }
  }

  /** Adds the trade to its window in `s`; emits a revision when that window was final. Null when late. */
  private place(sym: SymbolState, s: Series, id: number, ts: number, pm: number, pe: number, qm: number, qe: number, nm: number, buy: boolean, count: number): Window | null {
    let w = newest(s.open);
    if (w === undefined || ts < w.openTime || ts >= w.end) {
      const found = this.locate(sym, s, id, ts);
      if (found === null) return null;
      w = found;
    }
    w.add(ts, id, pm, pe, qm, qe, nm, buy, count);
    if (w.final) {
      w.rev++;
      this.out.revision(w.toCandle());
    } else if (this.queueUpdates) this.out.touch(w);
    return w;
  }

  /** The window of `ts` in series `s`: open, or final but within lateness; null when late. */
  private locate(sym: SymbolState, s: Series, id: number, ts: number): Window | null {
    const o = this.options;
    const start = windowStart(ts, s.size, o.offset);
    const end = start + s.size;
    if (end > sym.wm) {
      const w = findOrInsert(s.open, sym.name, s.label, start, end);
      if (end < sym.due) sym.due = end;
      if (o.rollup && s === sym.series[o.base]) containing(o, sym, start);
      return w;
    }
    if (end + o.allowedLateness > sym.wm) {
      const w = findOrInsert(s.done, sym.name, s.label, start, end);
      w.final = true;
      return w;
    }
    this.late(sym, s, id, ts);
    return null;
  }

  /** True (and reports it) when `ts` is too late for every interval's window. */
  private lateEverywhere(sym: SymbolState, id: number, ts: number): boolean {
    const { offset, allowedLateness } = this.options;
    for (const s of sym.series) {
      if (windowStart(ts, s.size, offset) + s.size + allowedLateness > sym.wm) return false;
    }
    for (const s of sym.series) this.late(sym, s, id, ts);
    return true;
  }

  private late(sym: SymbolState, s: Series, id: number, ts: number): void {
    this.out.counters.late++;
    const openTime = windowStart(ts, s.size, this.options.offset);
    this.out.events.push({ type: "late", symbol: sym.name, interval: s.label, openTime, id, ts });
  }

  private rejected(reason: RejectReason, detail: string, trade: unknown): void {
    this.out.counters.rejected++;
    this.out.events.push({ type: "rejected", reason, detail, trade });
  }

  private whale(sym: SymbolState, id: number, ts: number, pm: number, pe: number, qm: number, qe: number, threshold: number): void {
    // The notional as a double is the alert's value and text only; the test above was exact.
    const notional = toNumber(pm, pe) * toNumber(qm, qe);
    const price = formatDecimal(pm, pe);
    const qty = formatDecimal(qm, qe);
    this.out.alert({
      id: `whale:${sym.name}:${id}`, rule: "whale", symbol: sym.name, ts, value: notional, threshold,
      message: `${sym.name} trade ${id}: ${qty} @ ${price} = ${notional.toFixed(2)} notional (threshold ${threshold})`,
    });
  }

  /** Finds or creates a symbol's state, keeping `order` sorted. */
  private symbol(name: string): SymbolState {
    let sym = this.bySymbol.get(name);
    if (sym) return sym;
    sym = newSymbol(this.options, name);
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

  // ── advance ───────────────────────────────────────────────────────────────

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
        if (wm >= sym.due) settle(this.options, this.out, sym);
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
          drain(this.options, this.out, sym, s, last.end);
          if (last.end > wm) wm = last.end;
        }
      }
      for (let i = 0; i < sym.ids.gaps.length; i += 4) wm = Math.max(wm, sym.ids.gaps[i + 2]! + 1);
      sym.wm = wm;
      settleIds(this.options, this.out, sym);
    }
    return this.end();
  }

  // ── emit ──────────────────────────────────────────────────────────────────

  /**
   * In `updates: "pull"` mode: an `update` event for each open window touched since the
   * last pull (none for windows that went final meanwhile). Pending pulls are a view of
   * open state, not part of checkpoints.
   */
  pullUpdates(): EngineEvent[] {
    const events: EngineEvent[] = [];
    this.renderDirty(events);
    this.out.epoch++;
    return events;
  }

  private begin(): void {
    if (this.options.updates !== "pull") this.out.epoch++;
    this.out.events = [];
  }

  private end(): EngineEvent[] {
    const events = this.out.events;
    if (this.options.updates !== "pull") this.renderDirty(events);
    // The caller owns them now: the engine keeps no reference (a call can emit a candle per open window).
    this.out.events = [];
    return events;
  }

  /** Appends an `update` for each queued open window, and empties the queue. */
  private renderDirty(events: EngineEvent[]): void {
    const { dirty } = this.out;
    const o = this.options;
    if (o.rollup) {
      // A trade in a pane changed every open larger window holding it
      // (even when the pane has closed since: its trades are then folded into them).
      for (let i = 0, n = dirty.length; i < n; i++) {
        const pane = dirty[i]!;
        if (pane.interval !== o.intervals[o.base]) continue;
        for (const w of containing(o, this.bySymbol.get(pane.symbol)!, pane.openTime, false)) this.out.touch(w);
      }
    }
    for (const w of dirty) if (!w.final) events.push({ type: "update", candle: render(o, this.bySymbol.get(w.symbol)!, w) });
    dirty.length = 0;
  }

  // ── snapshot and restore ──────────────────────────────────────────────────

  /** Canonical, versioned bytes of the whole state, with the driver's opaque `offsets`. */
  snapshot(offsets?: string): Uint8Array {
    return encodeCheckpoint(this.options, this.out.counters, this.order, offsets ?? this.offsets);
  }

  /**
   * An engine that continues exactly where the snapshotted one was. Throws
   * `CandleflowError` (`CHECKPOINT_*`) for corrupt, truncated or unknown-version bytes.
   */
  static restore(bytes: Uint8Array): Engine {
    const cp = decodeCheckpoint(bytes);
    const engine = new Engine(plainOptions(cp.options));
    Object.assign(engine.out.counters, cp.stats);
    engine.offsets = cp.offsets;
    engine.order = cp.symbols;
    for (const sym of cp.symbols) {
      engine.bySymbol.set(sym.name, sym);
      recomputeDue(engine.options, sym);
    }
    return engine;
  }

  // ── read ──────────────────────────────────────────────────────────────────

  /** Counters since the first trade (restored engines continue the count). */
  stats(): EngineStats {
    return { ...this.out.counters };
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
    return sym.series.flatMap((s) => s.open.map((w) => render(this.options, sym, w))).filter((c) => c.trades > 0);
  }
}
