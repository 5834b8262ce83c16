/**
 * `POST /api/v1/ingest`: trades pushed by a producer, `{"trades":[Trade, …]}`, checked with zod
 * like every other route (a bad body is a 400 naming the field), bounded in size (413), and
 * handed to each symbol's Durable Object. Values are checked once more by the engine, which
 * refuses and counts what it cannot aggregate; the answer says so per symbol.
 */
import type { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { z } from "zod";
import type { Trade } from "../../../lib/types.ts";
import { ApiError, parse } from "../../app.ts";
import type { IngestResult } from "./durable-object.ts";
import type { Env, Settings } from "./env.ts";

/** Most trades in one request. */
export const MAX_TRADES = 10_000;

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
      try {
        return [symbol, await env.CANDLES.get(env.CANDLES.idFromName(symbol)).ingest(symbol, batch)] as const;
      } catch (e) {
        throw new ApiError(503, "UNAVAILABLE", `${symbol}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }));
    return c.json({ symbols: Object.fromEntries(results) as Record<string, IngestResult> });
  });
}
