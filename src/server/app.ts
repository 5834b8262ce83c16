/**
 * The REST API (`/api/v1`) as a Hono app over the ports. Web-standard only, so any runtime
 * can serve it; inputs are checked with zod, and a dependency that fails answers 503 for the
 * routes that need it instead of taking the process down.
 */
import { Hono, type Context } from "hono";
import { z } from "zod";
import { AdapterError } from "./adapters/errors.ts";
import type { Cache, CandleStore, Health } from "./adapters/types.ts";
import { METRICS_CONTENT_TYPE } from "./metrics.ts";

/** What the API serves from. Only `store` and `intervals` are required. */
export interface AppOptions {
  store: CandleStore;
  /** Latest candles are read here first (then from the store). */
  cache?: Cache;
  /** The configured intervals; other values of `interval` are a 400. */
  intervals: string[];
  /** Every symbol the server knows; default the store's. */
  symbols?: () => Promise<string[]>;
  /** Health of dependencies the app does not hold itself (source, log, pipeline), by name. */
  health?: Record<string, () => Promise<Health> | Health>;
  /** Extra numbers for `/health`, e.g. `lag` and `lastTradeAgeMs`. */
  vitals?: () => Record<string, number | undefined>;
  /** Prometheus text for `/metrics`. */
  metrics?: () => Promise<string> | string;
  /** Wall clock, ms; default Date.now. */
  clock?: () => number;
  /** Longest wait for a dependency, ms; default 2000. */
  timeoutMs?: number;
}

/** An answer other than 200: rendered as `{"error":{code, field?, message}}`. */
export class ApiError extends Error {
  constructor(readonly status: 400 | 401 | 404 | 413 | 503, readonly code: string, message: string, readonly field?: string) {
    super(message);
  }
}

const ALERTS_WINDOW_MS = 86_400_000;
const digits = (what: string) => z.string().regex(/^-?[0-9]{1,16}$/, `must be ${what}`).transform(Number);
const time = digits("an integer time in epoch milliseconds");
const limit = (max: number) => digits("a whole number").pipe(z.number().int().min(1, "must be at least 1").max(max, `must be at most ${max}`));

/** Parses `query` (or a request body) with `schema`; the first problem becomes a 400 naming its field. */
export function parse<T extends z.ZodType>(schema: T, query: unknown): z.output<T> {
  const got = schema.safeParse(query);
  if (got.success) return got.data;
  const issue = got.error.issues[0]!;
  const field = issue.path.map(String).join(".") || "query";
  throw new ApiError(400, "BAD_REQUEST", `${field}: ${issue.message}`, field);
}

/**
 * Builds the API app. Mount it as is (`fetch: app.fetch`) or under another Hono app.
 *
 * @example
 * const app = createApp({ store: sqliteStore({ path: "data/candleflow.sqlite" }), intervals: ["1m", "5m"] })
 * const res = await app.request("/api/v1/candles/BTCUSDT?interval=1m&limit=100")
 */
export function createApp(options: AppOptions): Hono {
  const { store, cache, intervals } = options;
  const clock = options.clock ?? Date.now;
  const timeoutMs = options.timeoutMs ?? 2000;
  const interval = z.string().refine((i) => intervals.includes(i), `must be one of ${intervals.join(", ")}`).default(intervals[0]!);

  /** Runs a dependency call; any failure or timeout is a 503 naming the dependency. */
  const need = async <T>(dependency: string, call: () => Promise<T>): Promise<T> => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      return await Promise.race([
        call(),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs))),
      ]);
    } catch (e) {
      if (e instanceof ApiError) throw e;
      if (e instanceof AdapterError && e.code === "INVALID_ARGUMENT") throw e;
      throw new ApiError(503, "UNAVAILABLE", `${dependency}: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      clearTimeout(timer);
    }
  };

  const known = async (symbol: string): Promise<string> => {
    const all = await need("store", options.symbols ?? (() => store.symbols()));
    const found = all.includes(symbol) ? symbol : all.includes(symbol.toUpperCase()) ? symbol.toUpperCase() : undefined;
    if (found === undefined) throw new ApiError(404, "NOT_FOUND", `unknown symbol "${symbol}"; see /api/v1/symbols`);
    return found;
  };

  const healthOf = async (name: string, check: () => Promise<Health> | Health): Promise<Health> => {
    try {
      return await need(name, async () => check());
    } catch (e) {
      return { adapter: name, ok: false, detail: e instanceof Error ? e.message : String(e) };
    }
  };

  const app = new Hono().basePath("/api/v1");

  app.get("/symbols", async (c) => c.json({ symbols: [...(await need("store", options.symbols ?? (() => store.symbols())))].sort(), intervals }));

  app.get("/latest/:symbol", async (c) => {
    const q = parse(z.object({ interval }), c.req.query());
    const symbol = await known(c.req.param("symbol"));
    let candle = cache ? await cache.latest(symbol, q.interval).catch(() => undefined) : undefined;
    candle ??= await need("store", () => store.latest(symbol, q.interval));
    if (!candle) throw new ApiError(404, "NOT_FOUND", `no ${q.interval} candle of ${symbol} yet`);
    return c.json({ candle });
  });

  app.get("/candles/:symbol", async (c) => {
    const q = parse(z.object({
      interval, from: time.optional(), to: time.optional(), limit: limit(5000).optional(),
      cursor: z.string().regex(/^[A-Za-z0-9_.~-]{1,200}$/, "must be the cursor of a previous page").optional(),
    }).refine((v) => v.from === undefined || v.to === undefined || v.from < v.to, { message: "must be greater than from", path: ["to"] }), c.req.query());
    const symbol = await known(c.req.param("symbol"));
    const { interval: label, ...query } = q;
    try {
      const page = await need("store", () => store.candles(symbol, label, query));
      return c.json({ symbol, interval: label, candles: page.candles, cursor: page.cursor ?? null });
    } catch (e) {
      if (e instanceof AdapterError && q.cursor !== undefined) throw new ApiError(400, "BAD_REQUEST", "cursor: must be the cursor of a previous page", "cursor");
      throw e;
    }
  });

  app.get("/alerts", async (c) => {
    const q = parse(z.object({ symbol: z.string().min(1).max(64).optional(), since: time.optional(), limit: limit(5000).optional() }), c.req.query());
    const symbol = q.symbol === undefined ? undefined : await known(q.symbol);
    const limitN = q.limit ?? 100;
    if (q.since !== undefined) return c.json({ alerts: await need("store", () => store.alerts({ symbol, since: q.since, limit: limitN })) });
    // Without `since`: the most recent ones of the last day, oldest first.
    const recent = await need("store", () => store.alerts({ symbol, since: clock() - ALERTS_WINDOW_MS, limit: 5000 }));
    return c.json({ alerts: recent.slice(-limitN) });
  });

  app.get("/health", async (c) => {
    const checks: Record<string, () => Promise<Health> | Health> = { ...options.health, store: () => store.health() };
    if (cache) checks.cache = () => cache.health();
    const names = Object.keys(checks);
    const results = await Promise.all(names.map((n) => healthOf(n, checks[n]!)));
    const dependencies = Object.fromEntries(names.map((n, i) => [n, results[i]!]));
    const ok = results.every((r) => r.ok);
    return c.json({ status: ok ? "ok" : "down", dependencies, ...options.vitals?.() }, ok ? 200 : 503);
  });

  app.get("/metrics", async (c) => {
    const text = options.metrics ? await options.metrics() : "";
    return c.body(text, 200, { "content-type": METRICS_CONTENT_TYPE });
  });

  app.notFound((c) => c.json({ error: { code: "NOT_FOUND", message: `no route ${c.req.method} ${c.req.path}` } }, 404));
  app.onError((e, c: Context) => {
    if (e instanceof ApiError) {
      return c.json({ error: { code: e.code, ...(e.field ? { field: e.field } : {}), message: e.message } }, e.status);
    }
    if (e instanceof AdapterError && e.code === "INVALID_ARGUMENT") return c.json({ error: { code: "BAD_REQUEST", message: e.message } }, 400);
    console.error(`api: ${c.req.method} ${c.req.path}:`, e);
    return c.json({ error: { code: "INTERNAL", message: "internal error" } }, 500);
  });
  return app;
}
