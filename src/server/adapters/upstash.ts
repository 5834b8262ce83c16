/**
 * The Upstash adapters, the edge mode's cache and log: `upstashCache` here, `upstashLog` in
 * upstash-log.ts. Both speak Upstash's REST API through `@upstash/redis` (fetch only), so
 * they run on Cloudflare Workers, Deno and Bun alike; importing them opens nothing.
 */
import { AdapterError } from "./errors.ts";
import { GUARD } from "./redis-guard.ts";
import { failure, run, session, type UpstashOptions } from "./upstash-client.ts";
import type { Cache } from "./types.ts";
import { latestCandle } from "./wire.ts";

export { upstashLog, type UpstashLog, type UpstashLogOptions } from "./upstash-log.ts";
export type { UpstashOptions } from "./upstash-client.ts";

/** One channel's subscription: the client's SSE stream and the handlers behind it. */
interface Channel {
  handlers: Set<(message: string) => void>;
  stop: () => Promise<void>;
}

/** Longest wait for a subscription's stream to confirm, ms. */
const SUBSCRIBE_MS = 5000;

/**
 * A `Cache` on Upstash Redis, with the same keys and guard as `redisCache`: the latest
 * candle of each (symbol, interval) under `<prefix>latest:<symbol>:<interval>` as its JSON,
 * set through the same Lua script (EVALSHA: one request per `setLatest`, whatever the number
 * of candles), and pub/sub on `<prefix><channel>`. Subscriptions are the client's own
 * server-sent-event streams, one per channel however many handlers it has.
 *
 * Two quirks of the REST protocol show through: a message must not hold a raw newline (SSE
 * frames are lines; JSON messages never do), and a stream the server ends is not reported
 * by the client, so a subscription that outlives a lost connection stays silent.
 *
 * @example
 * const cache = upstashCache({ url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN })
 * await cache.setLatest(candles)
 */
export function upstashCache(options: UpstashOptions): Cache {
  const name = "upstash";
  const prefix = options.prefix ?? "candleflow:";
  const channels = new Map<string, Channel>();
  const { redis, call, ...link } = session(name, "cache", options);
  let closed = false;
  const key = (symbol: string, interval: string) => `${prefix}latest:${symbol}:${interval}`;

  // Opens the channel's stream and resolves once Redis confirmed the subscription, so a
  // message published after `subscribe` resolves is delivered.
  const open = async (full: string): Promise<Channel> => {
    const handlers = new Set<(message: string) => void>();
    const sub = redis().subscribe<string>(full);
    const stop = () => sub.unsubscribe().catch(() => {});
    sub.on("message", ({ message }) => {
      for (const handler of [...handlers]) {
        try {
          handler(String(message));
        } catch {
          // A subscriber's failure is its own; the others still get the message.
        }
      }
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        sub.on("subscribe", () => resolve());
        sub.on("error", (e) => reject(e));
        timer = setTimeout(() => reject(new AdapterError(name, "TIMEOUT", `subscribe ${full}: not confirmed within ${SUBSCRIBE_MS} ms`)), SUBSCRIBE_MS);
      });
    } catch (e) {
      await stop();
      throw failure(name, e, `subscribe ${full}`);
    } finally {
      clearTimeout(timer);
    }
    return { handlers, stop };
  };
  const opening = new Map<string, Promise<Channel>>();

  return {
    name,
    async setLatest(candles) {
      if (candles.length === 0) return void redis();
      const keys = candles.map((c) => key(c.symbol, c.interval));
      await call("setLatest", (r) => run(r, GUARD, keys, candles.map((c) => JSON.stringify(c))));
    },
    async latest(symbol, interval) {
      const json = await call("latest", (r) => r.get<string>(key(symbol, interval)));
      return json === null ? undefined : latestCandle(name, json, symbol, interval);
    },
    async publish(channel, message) {
      await call("publish", (r) => r.publish(prefix + channel, message));
    },
    async subscribe(channel, handler) {
      redis();
      const full = prefix + channel;
      let ch = channels.get(full);
      if (!ch) {
        let pending = opening.get(full);
        if (!pending) {
          pending = open(full).finally(() => opening.delete(full));
          opening.set(full, pending);
        }
        ch = await pending;
        if (closed) {
          await ch.stop();
          throw new AdapterError(name, "CLOSED", "cache closed while subscribing");
        }
        if (!channels.has(full)) channels.set(full, ch);
        ch = channels.get(full)!;
      }
      // Wrap so the same function subscribed twice is two subscriptions.
      const entry = (message: string) => handler(message);
      const held = ch;
      held.handlers.add(entry);
      return async () => {
        held.handlers.delete(entry);
        if (held.handlers.size > 0 || channels.get(full) !== held) return;
        channels.delete(full);
        await held.stop();
      };
    },
    health: link.health,
    async close() {
      closed = true;
      link.close();
      const all = [...channels.values()];
      channels.clear();
      await Promise.all(all.map((c) => c.stop()));
    },
  };
}
