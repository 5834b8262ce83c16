/**
 * What the Upstash adapters share: the `@upstash/redis` client as they configure it, scripts
 * by EVALSHA, and the mapping of client failures to `AdapterError`. Web APIs only (fetch,
 * Web Crypto), so the adapters run on edge runtimes as they are.
 */
import { Redis } from "@upstash/redis";
import { AdapterError } from "./errors.ts";
import type { Health } from "./types.ts";

/** Where and how an Upstash adapter connects. */
export interface UpstashOptions {
  /** REST URL of the database (`UPSTASH_REDIS_REST_URL`). */
  url: string;
  /** REST token (`UPSTASH_REDIS_REST_TOKEN`). */
  token: string;
  /** Put before every key and channel, so several apps or test runs share one database; default `candleflow:`. */
  prefix?: string;
  /** Longest wait for one HTTP request, ms; past it the call fails with `TIMEOUT`. Default 2000. */
  timeoutMs?: number;
  /** Times the client retries a request that failed on the network; default 1 (the client's own default, 5, waits seconds). */
  retries?: number;
}

// Error replies after which the same call may succeed (server starting, busy, failing over).
const TRANSIENT = /\b(LOADING|BUSY|TRYAGAIN|MASTERDOWN|READONLY|CLUSTERDOWN|OOM)\b|redis unavailable|rate limit|max (daily )?request/i;

/**
 * The client as the adapters use it. Replies stay raw (`automaticDeserialization: false`):
 * the client would otherwise `JSON.parse` every string it can, which turns numeric strings
 * into numbers and stream fields into objects. Auto-pipelining is off so that each call's
 * batch is explicit (and its round trips countable). Every request gets its own timeout
 * signal; subscriptions pass their own signal, so their streams are not cut by it.
 */
export function upstashClient(options: UpstashOptions): Redis {
  const timeoutMs = options.timeoutMs ?? 2000;
  return new Redis({
    url: options.url,
    token: options.token,
    automaticDeserialization: false,
    enableAutoPipelining: false,
    enableTelemetry: false,
    retry: { retries: options.retries ?? 1, backoff: (n) => 50 * 2 ** n },
    signal: () => AbortSignal.timeout(timeoutMs),
  });
}

/** Maps a failure of the client to the adapter's error: `TIMEOUT`, or `UNAVAILABLE` (retryable unless Redis refused the command). */
export function failure(adapter: string, e: unknown, what: string): AdapterError {
  if (e instanceof AdapterError) return e;
  const err = e as { name?: string; message?: string };
  const message = err?.message ?? String(e);
  if (err?.name === "TimeoutError" || err?.name === "AbortError") return new AdapterError(adapter, "TIMEOUT", `${what}: no reply in time`, { cause: e });
  // UpstashError: the endpoint answered with an error body (a Redis error, or 401); anything else is the network or a proxy.
  const refused = err?.name === "UpstashError";
  return new AdapterError(adapter, "UNAVAILABLE", `${what}: ${message}`, { retryable: !refused || TRANSIENT.test(message), cause: e });
}

const shas = new Map<string, Promise<string>>();
/** The SHA-1 of `script` as EVALSHA names it, hashed once with Web Crypto. */
export const sha1 = (script: string) => {
  let done = shas.get(script);
  if (!done) {
    done = crypto.subtle.digest("SHA-1", new TextEncoder().encode(script)).then((d) => [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, "0")).join(""));
    shas.set(script, done);
  }
  return done;
};

/**
 * Runs `script` by EVALSHA, one request; when the server does not know it (first use, a
 * restart, `SCRIPT FLUSH`) it answers NOSCRIPT and EVAL sends the text, which caches it.
 */
export async function run(redis: Redis, script: string, keys: string[], args: string[]): Promise<unknown> {
  const sha = await sha1(script);
  try {
    return await redis.evalsha(sha, keys, args);
  } catch (e) {
    if (!(e instanceof Error) || !/NOSCRIPT/i.test(e.message)) throw e;
    return await redis.eval(script, keys, args);
  }
}

/** One adapter's use of the client: made on first call, refused once closed. */
export interface Session {
  /** The client; throws `CLOSED` once `close` was called. */
  redis(): Redis;
  /** Runs `work` with the client, its failures mapped to `AdapterError`s naming `what`. */
  call<T>(what: string, work: (redis: Redis) => Promise<T>): Promise<T>;
  /** Whether a client was made (something was called). */
  used(): boolean;
  /** PING, as a `Health`. */
  health(): Promise<Health>;
  /** Later calls throw `CLOSED`. */
  close(): void;
}

/** A session of adapter `name` ("cache is closed" / "log is closed" says `what`). */
export function session(name: string, what: "cache" | "log", options: UpstashOptions): Session {
  let client: Redis | undefined;
  let closed = false;
  const redis = () => {
    if (closed) throw new AdapterError(name, "CLOSED", `${what} is closed`);
    return (client ??= upstashClient(options));
  };
  const call = async <T>(doing: string, work: (r: Redis) => Promise<T>): Promise<T> => {
    const r = redis();
    try {
      return await work(r);
    } catch (e) {
      if (closed) throw new AdapterError(name, "CLOSED", `${doing}: ${what} closed before the call completed`, { cause: e });
      throw failure(name, e, doing);
    }
  };
  return {
    redis,
    call,
    used: () => client !== undefined,
    async health() {
      if (closed) return { adapter: name, ok: false, detail: "closed" };
      try {
        await call("health", (r) => r.ping());
        return { adapter: name, ok: true };
      } catch (e) {
        return { adapter: name, ok: false, detail: e instanceof Error ? e.message : String(e) };
      }
    },
    close: () => void (closed = true),
  };
}
