/**
 * The hub's cache subscriptions: one per channel, shared by every client that wants it, and
 * asked for again, backing off, while the cache is down (Redis restarting) and anyone still
 * wants the channel.
 */
import type { Cache } from "../adapters/types.ts";

/** Shared cache subscriptions, counted by how many clients hold each. */
export interface Feeds {
  /** Holds `channel` once more; the first holder's `handler` takes its messages. */
  acquire(channel: string, handler: (message: string) => void): void;
  /** Lets go of `channel` once; the last release unsubscribes. */
  release(channel: string): void;
  /** Unsubscribes everything. */
  close(): Promise<void>;
}

interface Feed {
  count: number;
  off: Promise<(() => Promise<void>) | undefined>;
}

/** {@link Feeds} over `cache`; a handler that throws, or a cache that refuses, goes to `onError`. */
export function sharedFeeds(cache: Cache, onError: (error: unknown) => void): Feeds {
  const feeds = new Map<string, Feed>();
  return {
    acquire(channel, handler) {
      const feed = feeds.get(channel);
      if (feed) return void feed.count++;
      const guarded = (m: string) => {
        try {
          handler(m);
        } catch (e) {
          onError(e);
        }
      };
      const entry: Feed = { count: 1, off: Promise.resolve(undefined) };
      const attach = (waitMs: number): Feed["off"] =>
        cache.subscribe(channel, guarded).catch(async (e) => {
          onError(e);
          await new Promise((r) => setTimeout(r, waitMs));
          return feeds.get(channel) === entry ? attach(Math.min(waitMs * 2, 5000)) : undefined;
        });
      entry.off = attach(250);
      feeds.set(channel, entry);
    },
    release(channel) {
      const feed = feeds.get(channel);
      if (!feed || --feed.count > 0) return;
      feeds.delete(channel);
      void feed.off.then((off) => off?.()).catch(onError);
    },
    async close() {
      await Promise.all([...feeds.values()].map((f) => f.off.then((off) => off?.()).catch(() => {})));
      feeds.clear();
    },
  };
}
