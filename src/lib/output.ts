import type { Alert, Candle, EngineEvent, EngineStats } from "./types.ts";
import type { Window } from "./window.ts";

/**
 * What one engine call emits: its events in order, the counters they move, and the open
 * windows it touched (rendered as `update` events when the call ends, once per window).
 */
export class Output {
  events: EngineEvent[] = [];
  readonly counters: EngineStats = {
    trades: 0, rejected: 0, duplicates: 0, late: 0, revisions: 0, finals: 0, alerts: 0, gapsEvicted: 0,
  };
  /** Open windows touched since updates were last rendered. */
  readonly dirty: Window[] = [];
  /** Coalescing epoch of `update` events: a window whose `mark` equals it is already queued. */
  epoch = 1; // windows start at mark 0: never "already queued"

  /** Queues an open window for an `update`, once per epoch. */
  touch(w: Window): void {
    if (w.mark !== this.epoch) {
      w.mark = this.epoch;
      this.dirty.push(w);
    }
  }

  final(candle: Candle): void {
    this.counters.finals++;
    this.events.push({ type: "final", candle });
  }

  revision(candle: Candle): void {
    this.counters.revisions++;
    this.events.push({ type: "revision", candle });
  }

  alert(alert: Alert): void {
    this.counters.alerts++;
    this.events.push({ type: "alert", alert });
  }
}
