/**
 * Live fan-out of engine events through the cache's pub/sub: candle events coalesced to the
 * latest per window (a final replaces the updates before it), alerts in order, sent on a
 * cadence. At least once and not durable: the store, not the pub/sub, is the record.
 */
import type { EngineEvent } from "../../lib/types.ts";
import type { Cache } from "../adapters/types.ts";
import { isCandleEvent, windowKey, type AlertEvent, type CandleEvent } from "./events.ts";

/** Pub/sub channel names events are published on, as `EngineEvent` JSON. */
export const channels = {
  /** `update`, `final` and `revision` events of one (symbol, interval). */
  candles: (symbol: string, interval: string): string => `candles:${symbol}:${interval}`,
  /** `alert` events of one symbol. */
  alerts: (symbol: string): string => `alerts:${symbol}`,
};

/** A queue of events in front of the cache. */
export interface Publisher {
  /** Queues events: the latest per window, and every alert. */
  queue(events: readonly EngineEvent[]): void;
  /** Whether the cadence says the queue should go out now. */
  due(): boolean;
  /** Sends what is queued and sets the latest candles; a cache failure is counted and reported, not thrown. */
  flush(): Promise<void>;
  /** Cache failures so far. */
  readonly errors: number;
  /** Candle events published so far, by kind (for metrics). */
  readonly published: Readonly<Record<CandleEvent["type"], number>>;
}

/** A publisher into `cache` (none: events are dropped), flushing at most every `everyMs` of `clock` while busy. */
export function publisher(cache: Cache | undefined, options: { clock: () => number; everyMs: number; onError: (e: unknown) => void }): Publisher {
  const { clock, everyMs, onError } = options;
  let candles = new Map<string, CandleEvent>();
  let alerts: AlertEvent[] = [];
  let last = clock();
  let errors = 0;
  const published = { update: 0, final: 0, revision: 0 };
  return {
    queue(events) {
      if (!cache) return;
      for (const e of events) {
        if (isCandleEvent(e)) {
          const key = windowKey(e.candle);
          candles.delete(key); // re-inserted last, so windows go out in the order they last changed
          candles.set(key, e);
        } else if (e.type === "alert") {
          alerts.push(e);
        }
      }
    },
    due: () => clock() - last >= everyMs,
    async flush() {
      last = clock();
      if (!cache || (candles.size === 0 && alerts.length === 0)) return;
      const sending = [...candles.values()];
      const sendingAlerts = alerts;
      candles = new Map();
      alerts = [];
      try {
        // Issued together, awaited together: a network cache pipelines them on one connection, in order.
        await Promise.all([
          ...sending.map((e) => cache.publish(channels.candles(e.candle.symbol, e.candle.interval), JSON.stringify(e)).then(() => void published[e.type]++)),
          ...sendingAlerts.map((e) => cache.publish(channels.alerts(e.alert.symbol), JSON.stringify(e))),
          cache.setLatest(sending.map((e) => e.candle)),
        ]);
      } catch (e) {
        errors++;
        onError(e);
      }
    },
    get errors() {
      return errors;
    },
    published,
  };
}
