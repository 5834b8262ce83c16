/**
 * `POST /api/v1/ingest`: trades pushed by a producer, `{"trades":[Trade, …]}`, checked with zod
 * like every other route (a bad body is a 400 naming the field), bounded in size (413), and
 * handed to each symbol's Durable Object in calls of at most `TRADES_PER_CALL` trades, one after
 * the other (each call is one commit, and one bounded slice of the object's CPU time). Values are
 * checked once more by the engine, which refuses and counts what it cannot aggregate; the answer
 * says so per symbol, summed over its calls.
 */
import type { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { z } from "zod";
import type { Trade } from "../../../lib/types.ts";
import { ApiError, parse } from "../../app.ts";
import type { IngestResult } from "./durable-object.ts";
import type { Env, Settings } from "./env.ts";

/**
 * Most trades in one request. The body limit (1 MiB by default) binds first for most producers:
 * a trade is 110 to 120 bytes of JSON, so 1 MiB holds 8,700 to 9,600 of them.
 */
export const MAX_TRADES = 10_000;

/** `b` added into `a`: counts summed, the first ten rejections kept. */
const sum = (a: IngestResult, b: IngestResult): IngestResult => ({
  trades: a.trades + b.trades, duplicates: a.duplicates + b.duplicates, late: a.late + b.late, rejected: a.rejected + b.rejected,
  rejections: [...a.rejections, ...b.rejections].slice(0, 10), candles: a.candles + b.candles, alerts: a.alerts + b.alerts,
});

const decimal = z.string().regex(/^[0-9]{1,40}(\.[0-9]{1,40})?$/, "must be a decimal string");

/** Adds the route to `api` (the app of `createApp`, whose error rendering it shares). */
export function ingestRoute(api: Hono, env: Env, config: Settings): void {
  const Body = z.object({
    trades: z.array(z.object({
      symbol: z.string().refine((s) => config.symbols.includes(s), `must be one of the configured symbols: ${config.symbols.join(", ")}`),
      id: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER), price: decimal, qty: decimal,
      ts: z.number().int().positive(), side: z.enum(["buy", "sell"]), count: z.number().int().positive().optional(),
    })).min(1).max(MAX_TRADES),
  });
  const limit = bodyLimit({
    maxSize: config.ingestMaxBytes,
    onError: () => {
      throw new ApiError(413, "TOO_LARGE", `the body is over ${config.ingestMaxBytes} bytes; send at most ${MAX_TRADES} trades in smaller requests`);
    },
  });
  api.post("/ingest", limit, async (c) => {
    if (config.ingestToken !== undefined && c.req.header("authorization") !== `Bearer ${config.ingestToken}`) {
      throw new ApiError(401, "UNAUTHORIZED", "ingest needs the Authorization: Bearer token of INGEST_TOKEN");
    }
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      throw new ApiError(400, "BAD_REQUEST", "body: must be JSON", "body");
    }
    const { trades } = parse(Body, body);
    const bySymbol = new Map<string, Trade[]>();
    for (const t of trades) bySymbol.set(t.symbol, [...(bySymbol.get(t.symbol) ?? []), t]);
    const results = await Promise.all([...bySymbol].map(async ([symbol, batch]) => {
      const object = env.CANDLES.get(env.CANDLES.idFromName(symbol));
      try {
        let done: IngestResult | undefined;
        for (let i = 0; i < batch.length; i += config.tradesPerCall) {
          const r = await object.ingest(symbol, batch.slice(i, i + config.tradesPerCall));
          done = done ? sum(done, r) : r;
        }
        return [symbol, done!] as const;
      } catch (e) {
        throw new ApiError(503, "UNAVAILABLE", `${symbol}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }));
    return c.json({ symbols: Object.fromEntries(results) as Record<string, IngestResult> });
  });
}
