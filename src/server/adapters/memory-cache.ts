import type { Candle } from "../../lib/types.ts";
import { AdapterError } from "./errors.ts";
import { newer } from "./candle-order.ts";
import type { Cache, Health } from "./types.ts";

/**
 * The reference `Cache`: latest candles in a map, pub/sub delivered in-process. A handler
 * that throws is isolated: other subscribers still get the message.
 *
 * @example
 * const cache = memoryCache()
 * const off = await cache.subscribe("candles:BTCUSDT:1m", msg => send(msg))
 * await cache.publish("candles:BTCUSDT:1m", JSON.stringify(event))
 * await off()
 */
export function memoryCache(): Cache {
  const name = "memory-cache";
  const latest = new Map<string, Candle>();
  const channels = new Map<string, Set<(message: string) => void>>();
  let closed = false;
  const open = () => {
    if (closed) throw new AdapterError(name, "CLOSED", "cache is closed");
  };
  const key = (symbol: string, interval: string) => `${symbol}\u0000${interval}`;

  return {
    name,
    async setLatest(candles) {
      open();
      for (const candle of candles) {
        const k = key(candle.symbol, candle.interval);
        if (newer(candle, latest.get(k))) latest.set(k, { ...candle });
      }
    },
    async latest(symbol, interval) {
      open();
      const candle = latest.get(key(symbol, interval));
      return candle && { ...candle };
    },
    async publish(channel, message) {
      open();
      for (const handler of [...(channels.get(channel) ?? [])]) {
        try {
          handler(message);
        } catch {
          // A subscriber's failure is its own; the publisher and the others carry on.
        }
      }
    },
    async subscribe(channel, handler) {
      open();
      // Wrap so the same function subscribed twice is two subscriptions.
      const entry = (message: string) => handler(message);
      let set = channels.get(channel);
      if (!set) channels.set(channel, (set = new Set()));
      set.add(entry);
      return async () => {
        set.delete(entry);
        if (set.size === 0 && channels.get(channel) === set) channels.delete(channel);
      };
    },
    async health(): Promise<Health> {
      return closed ? { adapter: name, ok: false, detail: "closed" } : { adapter: name, ok: true };
    },
    async close() {
      closed = true;
      channels.clear();
      latest.clear();
    },
  };
}
