/**
 * Keeps each symbol's trade ids contiguous across reconnects: live trades pass through
 * while ids follow on; a skipped id (or a new connection) fills the hole from REST before
 * anything newer goes out. Dedupe is by id, so overlaps between REST and the socket vanish.
 * Exchanges number trades per symbol without holes (Binance trade and aggregate ids,
 * Coinbase trade_id), which is what makes "last id delivered" a complete cursor.
 */
import type { Trade } from "../../lib/types.ts";
import { backoff, type BackoffOptions } from "./backoff.ts";
import type { Feed } from "./feed.ts";
import type { Sleep, SourceStatus } from "./types.ts";

/** Fetches a symbol's trades with `after < id` (and `id < before` when given), one page per yield, in any order. */
export type FetchRange = (symbol: string, after: number, before: number | undefined, signal: AbortSignal) => AsyncIterable<Trade[]>;

/** What the gap filler needs from its source. */
export interface GapsOptions {
  fetch: FetchRange;
  /** Receives trades in id order per symbol. */
  emit(trades: Trade[]): void;
  /** Counts failures into the source's status. */
  fail(message: string): void;
  /** The source's status; `gaps` and `backfilled` are counted here. */
  status: SourceStatus;
  signal: AbortSignal;
  sleep: Sleep;
  /** Most trades fetched for one hole before giving up on it; default 100 000. */
  maxBackfill?: number;
  /** Fetch rounds in a row without progress before a hole is accepted; default 5. */
  retries?: number;
  backoff?: BackoffOptions;
}

interface SymbolState {
  last?: number;
  filling: boolean;
  /** A connection opened during the fill: look again once it ends. */
  again: boolean;
  /** Live trades that arrived while filling, released after it. */
  held: Trade[];
}

/** Per-symbol id cursor with REST gap filling. */
export class Gaps {
  readonly #o: GapsOptions;
  readonly #symbols = new Map<string, SymbolState>();

  constructor(options: GapsOptions) {
    this.#o = options;
  }

  /** Marks `lastId` as already delivered for `symbol` (resume after a restart). */
  resume(symbol: string, lastId: number): void {
    this.#state(symbol).last = lastId;
  }

  /** The last id delivered per symbol: the source's offsets. */
  cursor(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [symbol, s] of this.#symbols) if (s.last !== undefined) out[symbol] = s.last;
    return out;
  }

  /** A trade from the live stream; returns true when it revealed a hole (a fill has started). */
  accept(trade: Trade): boolean {
    const s = this.#state(trade.symbol);
    if (s.filling) {
      s.held.push(trade);
    } else if (s.last === undefined || trade.id === s.last + 1) {
      this.#out(s, [trade]);
    } else if (trade.id > s.last) {
      this.#o.status.gaps++;
      s.held.push(trade);
      void this.#fill(trade.symbol, s, false);
      return true;
    }
    return false;
  }

  /** A new connection opened: trades may have been missed for every symbol already seen. */
  reopened(): void {
    for (const [symbol, s] of this.#symbols) {
      if (s.filling) s.again = true;
      else if (s.last !== undefined) void this.#fill(symbol, s, true);
    }
  }

  #state(symbol: string): SymbolState {
    let s = this.#symbols.get(symbol);
    if (!s) this.#symbols.set(symbol, (s = { filling: false, again: false, held: [] }));
    return s;
  }

  #out(s: SymbolState, trades: Trade[]): void {
    if (trades.length === 0) return;
    s.last = trades[trades.length - 1]!.id;
    this.#o.emit(trades);
  }

  async #fill(symbol: string, s: SymbolState, reopened: boolean): Promise<void> {
    const o = this.#o;
    const max = o.maxBackfill ?? 100_000;
    const retries = o.retries ?? 5;
    const wait = backoff(o.backoff);
    const pending = new Map<number, Trade>();
    let fetched = 0;
    let misses = 0;
    let recovered = 0;
    s.filling = true;
    // Pending trades go out as soon as they join up with the last delivered id.
    const release = (): boolean => {
      const run: Trade[] = [];
      for (let t = pending.get(s.last! + 1 + run.length); t; t = pending.get(s.last! + 1 + run.length)) run.push(t);
      for (const t of run) pending.delete(t.id);
      if (reopened && recovered === 0 && run.length > 0) o.status.gaps++;
      recovered += run.length;
      o.status.backfilled += run.length;
      this.#out(s, run);
      return run.length > 0;
    };
    while (!o.signal.aborted) {
      const target = s.held.length ? s.held.reduce((m, t) => Math.min(m, t.id), Infinity) : undefined;
      if (target !== undefined && s.last! >= target - 1) break;
      let progressed = false;
      let complete = false;
      try {
        for await (const page of o.fetch(symbol, s.last!, target, o.signal)) {
          for (const t of page) if (t.id > s.last! && (target === undefined || t.id < target)) pending.set(t.id, t);
          fetched += page.length;
          if (release()) progressed = true;
          if (fetched >= max || (target !== undefined && s.last! >= target - 1)) break;
        }
        complete = true;
      } catch (error) {
        if (o.signal.aborted) break;
        o.fail(`${symbol} backfill: ${error instanceof Error ? error.message : String(error)}`);
      }
      if (complete && target === undefined && s.held.length === 0) break;
      if (fetched >= max) {
        o.fail(`${symbol} backfill: gap after id ${s.last} is larger than ${max} trades; accepted`);
        break;
      }
      if (progressed) {
        misses = 0;
      } else if (++misses > retries) {
        o.fail(`${symbol} backfill: ids after ${s.last} not available from REST; gap accepted`);
        break;
      } else {
        await o.sleep(wait.next(), o.signal);
      }
    }
    if (o.signal.aborted) return;
    if (reopened && recovered === 0 && pending.size > 0) o.status.gaps++;
    o.status.backfilled += pending.size;
    // Whatever could not be joined up still goes out, in id order: a hole, never a loss.
    const rest = [...pending.values(), ...s.held].sort((a, b) => a.id - b.id);
    s.held = [];
    s.filling = false;
    const fresh: Trade[] = [];
    for (const t of rest) if (t.id > (fresh.length ? fresh[fresh.length - 1]!.id : (s.last ?? -Infinity))) fresh.push(t);
    this.#out(s, fresh);
    if (s.again) {
      s.again = false;
      void this.#fill(symbol, s, true);
    }
  }
}

/**
 * The gap filler of a live source: trades go to `out` (unless the run is stopping) and
 * advance the status's last trade time.
 */
export function feedGaps(out: Feed, options: Omit<GapsOptions, "emit">): Gaps {
  return new Gaps({
    ...options,
    emit: (trades) => {
      if (options.signal.aborted) return;
      options.status.lastTradeTs = trades[trades.length - 1]!.ts;
      out.push(trades);
    },
  });
}
