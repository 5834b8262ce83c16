import { RedisClient } from "bun";
import { AdapterError } from "./errors.ts";
import { guard } from "./redis-guard.ts";
import type { Cache, Health } from "./types.ts";
import { latestCandle } from "./wire.ts";

/** Where and how `redisCache` connects. */
export interface RedisCacheOptions {
  /** Server URL (`redis://`, `rediss://` for TLS, credentials and `/db` as usual); default `redis://127.0.0.1:6379`. */
  url?: string;
  /** Put before every key and channel, so several apps or test runs share one server; default `candleflow:`. */
  prefix?: string;
  /** Longest wait for a connection to open, ms; past it the call fails with `UNAVAILABLE`. Default 1000. */
  connectTimeoutMs?: number;
  /** Longest wait for a command's reply once connected, ms; past it the call fails with `TIMEOUT`. Default 1000. */
  commandTimeoutMs?: number;
}

// Error replies after which the same call may succeed (server starting, busy, failing over).
const TRANSIENT = /^(LOADING|BUSY|TRYAGAIN|MASTERDOWN|READONLY|CLUSTERDOWN|OOM)\b/;

type Connection = {
  /** The open client, connecting first when there is none (one attempt at a time). */
  ready(): Promise<RedisClient>;
  /** The current client, if it is connected. */
  current(): RedisClient | undefined;
  /** Closes the current client; the next `ready` opens a new one. */
  drop(): void;
};

/**
 * One connection that opens on demand and, once dropped, on the next demand again. A fresh
 * `RedisClient` is made each time: Bun's own reconnect restores the socket but not the
 * server-side subscriptions while it keeps the listeners, so subscribing again would deliver
 * each message twice; and after `maxRetries` it gives up for good. Offline queueing is off:
 * Bun would otherwise hold commands without bound while the server is down.
 */
function connection(url: string, timeoutMs: number, setup: (client: RedisClient) => Promise<void>, onDown: () => void): Connection {
  let client: RedisClient | undefined;
  let opening: Promise<RedisClient> | undefined;
  const open = async () => {
    const old = client;
    client = undefined;
    old?.close();
    const c = (client = new RedisClient(url, { autoReconnect: false, enableOfflineQueue: false, connectionTimeout: timeoutMs }));
    c.onclose = () => {
      if (client === c) onDown();
    };
    try {
      await c.connect();
      await setup(c);
      // Dropped (or the cache closed) while connecting: this client must not outlive that.
      if (client !== c) throw new Error("connection dropped while opening");
      return c;
    } catch (e) {
      if (client === c) client = undefined;
      c.close();
      throw e;
    }
  };
  return {
    ready() {
      if (client?.connected && !opening) return Promise.resolve(client);
      return (opening ??= open().finally(() => (opening = undefined)));
    },
    current: () => (client?.connected && !opening ? client : undefined),
    drop() {
      const c = client;
      client = undefined;
      c?.close();
    },
  };
}

/**
 * A `Cache` on Redis, shared by every processor and API instance pointed at the same server
 * and prefix: the latest candle of each (symbol, interval) under `<prefix>latest:<symbol>:<interval>`
 * as its JSON, guarded by a Lua script, and pub/sub on `<prefix><channel>`. Nothing connects
 * until the first call. While Redis is down calls fail at once with `UNAVAILABLE`; when it is
 * back the next call reconnects and subscriptions are restored in the background.
 *
 * @example
 * const cache = redisCache({ url: process.env.REDIS_URL })
 * const off = await cache.subscribe("candles:BTCUSDT:1m", msg => send(msg))
 * await cache.setLatest([candle])
 * await off()
 */
export function redisCache(options: RedisCacheOptions = {}): Cache {
  const name = "redis";
  const url = options.url ?? "redis://127.0.0.1:6379";
  const prefix = options.prefix ?? "candleflow:";
  const connectMs = options.connectTimeoutMs ?? 1000;
  const commandMs = options.commandTimeoutMs ?? 1000;
  const channels = new Map<string, Set<(message: string) => void>>();
  let subscribed = new Map<string, Promise<unknown>>();
  let closed = false;
  let retry: ReturnType<typeof setTimeout> | undefined;
  let retries = 0;

  const open = () => {
    if (closed) throw new AdapterError(name, "CLOSED", "cache is closed");
  };
  const key = (symbol: string, interval: string) => `${prefix}latest:${symbol}:${interval}`;
  // Named so `CLIENT LIST` shows whose connections these are; a server that refuses is no reason to fail.
  const named = (c: RedisClient, role: string) => c.send("CLIENT", ["SETNAME", `${prefix}${role}`.replace(/[^!-~]/g, "_")]).catch(() => {});

  const dispatch = (message: string, channel: string) => {
    for (const handler of [...(channels.get(channel) ?? [])]) {
      try {
        handler(message);
      } catch {
        // A subscriber's failure is its own; the others still get the message.
      }
    }
  };
  // Subscribes the current subscriber client to `full` once, however many callers ask at once.
  const ensure = (c: RedisClient, full: string) => {
    let done = subscribed.get(full);
    if (!done) {
      const started = (done = c.subscribe(full, dispatch));
      subscribed.set(full, started);
      started.catch(() => subscribed.get(full) === started && subscribed.delete(full));
    }
    return done;
  };
  const commands = connection(url, connectMs, (c) => named(c, "cache"), () => {});
  const subscriber = connection(
    url,
    connectMs,
    async (c) => {
      subscribed = new Map();
      await named(c, "cache-sub");
      await Promise.all([...channels.keys()].map((full) => ensure(c, full)));
    },
    () => resubscribe(),
  );
  // Bun does not resubscribe after a lost connection, so this does, with backoff, while any channel is wanted.
  const resubscribe = () => {
    if (closed || retry || channels.size === 0) return;
    retry = setTimeout(() => {
      retry = undefined;
      subscriber.ready().then(
        () => void (retries = 0),
        () => {
          retries++;
          resubscribe();
        },
      );
    }, Math.min(50 * 2 ** retries, 2000));
    retry.unref();
  };

  const fail = (e: unknown, what: string): AdapterError => {
    if (e instanceof AdapterError) return e;
    if (closed) return new AdapterError(name, "CLOSED", `${what}: cache closed before the call completed`, { cause: e });
    const message = e instanceof Error ? e.message : String(e);
    const server = (e as { code?: string }).code === "ERR_REDIS_SERVER_ERROR";
    return new AdapterError(name, "UNAVAILABLE", `${what}: ${message}`, { retryable: !server || TRANSIENT.test(message), cause: e });
  };
  const bounded = <T>(work: Promise<T>, ms: number, late: () => AdapterError): Promise<T> => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(late()), ms)));
    return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
  };
  const where = redacted(url);
  const unreachable = (what: string) => () => new AdapterError(name, "UNAVAILABLE", `${what}: no connection to ${where} within ${connectMs} ms`);
  const connected = (link: Connection, what: string) =>
    bounded(link.ready(), connectMs, unreachable(what)).catch((e) => Promise.reject(fail(e, `${what}: ${where}`)));
  const call = async <T>(what: string, run: (c: RedisClient) => Promise<T>): Promise<T> => {
    open();
    const c = await connected(commands, what);
    try {
      return await bounded(
        (async () => run(c))(),
        commandMs,
        () => new AdapterError(name, "TIMEOUT", `${what}: no reply within ${commandMs} ms`),
      );
    } catch (e) {
      // No reply in time: the socket may be half open, so the next call starts a new one.
      if (e instanceof AdapterError && e.code === "TIMEOUT") commands.drop();
      throw fail(e, what);
    }
  };
  return {
    name,
    async setLatest(candles) {
      open();
      if (candles.length === 0) return;
      const keys = candles.map((c) => key(c.symbol, c.interval));
      await call("setLatest", (c) => guard(c, keys, candles.map((x) => JSON.stringify(x))));
    },
    async latest(symbol, interval) {
      const json = await call("latest", (c) => c.get(key(symbol, interval)));
      return json === null ? undefined : latestCandle(name, json, symbol, interval);
    },
    async publish(channel, message) {
      await call("publish", (c) => c.publish(prefix + channel, message));
    },
    async subscribe(channel, handler) {
      open();
      const full = prefix + channel;
      // Wrap so the same function subscribed twice is two subscriptions.
      const entry = (message: string) => handler(message);
      let set = channels.get(full);
      if (!set) channels.set(full, (set = new Set()));
      set.add(entry);
      const off = async () => {
        set.delete(entry);
        if (set.size > 0 || channels.get(full) !== set) return;
        channels.delete(full);
        const c = subscriber.current();
        if (!c || !subscribed.delete(full)) return;
        await bounded(c.unsubscribe(full), commandMs, () => new AdapterError(name, "TIMEOUT", "unsubscribe")).catch(() => {
          // Gone with the connection anyway; a new connection subscribes only the channels still wanted.
        });
      };
      try {
        const c = await connected(subscriber, "subscribe");
        await bounded(ensure(c, full), commandMs, () => new AdapterError(name, "TIMEOUT", `subscribe: no reply within ${commandMs} ms`));
      } catch (e) {
        await off();
        throw fail(e, "subscribe");
      }
      return off;
    },
    async health(): Promise<Health> {
      if (closed) return { adapter: name, ok: false, detail: "closed" };
      try {
        await call("health", (c) => c.ping());
        if (channels.size > 0) {
          // A subscriber connection can look open and be dead (half-open TCP); only a PING tells.
          const s = await connected(subscriber, "subscriber");
          await bounded(s.ping(), commandMs, () => new AdapterError(name, "TIMEOUT", `subscriber: no reply within ${commandMs} ms`)).catch((e) => {
            subscriber.drop();
            resubscribe();
            throw e;
          });
        }
        return { adapter: name, ok: true };
      } catch (e) {
        return { adapter: name, ok: false, detail: e instanceof Error ? e.message : String(e) };
      }
    },
    async close() {
      closed = true;
      clearTimeout(retry);
      channels.clear();
      commands.drop();
      subscriber.drop();
    },
  };
}

/** `url` without its password, for messages. */
function redacted(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "the configured URL";
  }
}
