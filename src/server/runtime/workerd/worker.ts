/**
 * The Cloudflare Workers entry: the same REST API as on Bun (`createApp`, over the symbols'
 * Durable Objects as its store), `POST /api/v1/ingest` for producers, `/ws?symbol=` handed to
 * that symbol's object, `/ws` (the page's, any symbols) relayed to the objects, the page itself
 * as static assets (`[assets]`, built by `bun run build:worker`), and a cron trigger that pulls trades from the exchange by id, has the
 * objects follow the Upstash trade log when it is configured, and (`ADVANCE_ON_CRON`) moves
 * their clocks to the run's time.
 *
 *   npx wrangler dev      # local, no account
 *   npx wrangler deploy
 */
import type { ExecutionContext, ScheduledController } from "cloudflare:workers";
import type { Hono } from "hono";
import { createApp } from "../../app.ts";
import { settings, type Env } from "./env.ts";
import { ingestRoute } from "./ingest.ts";
import { objectsStore } from "./objects.ts";
import { followAll, pullAll } from "./pull.ts";
import { relay } from "./relay.ts";

export { SymbolObject } from "./durable-object.ts";

let built: { env: Env; api: Hono } | undefined;

/** The API of `env`, built once per isolate. */
function api(env: Env): Hono {
  if (built?.env === env) return built.api;
  const config = settings(env);
  const app = createApp({ store: objectsStore(env, config.symbols), intervals: config.intervals, symbols: async () => config.symbols });
  ingestRoute(app, env, config);
  built = { env, api: app };
  return app;
}

const problem = (status: number, code: string, message: string) => Response.json({ error: { code, message } }, { status });

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname !== "/ws") return api(env).fetch(request, env, ctx);
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") return problem(426, "UPGRADE_REQUIRED", "expected a WebSocket upgrade");
    const config = settings(env);
    const { symbols } = config;
    if (!url.searchParams.has("symbol")) return relay(env, config, url);
    const symbol = url.searchParams.get("symbol")?.toUpperCase() ?? "";
    if (!symbols.includes(symbol)) return problem(400, "BAD_REQUEST", `symbol: must be one of ${symbols.join(", ")} (one symbol per connection: /ws?symbol=BTCUSDT)`);
    url.searchParams.set("symbol", symbol);
    return env.CANDLES.get(env.CANDLES.idFromName(symbol)).fetch(new Request(url, request));
  },

  async scheduled(controller: ScheduledController, env: Env, ctx: ExecutionContext): Promise<void> {
    const run = (async () => {
      const [pulled, followed] = await Promise.all([pullAll(env), followAll(env)]);
      for (const p of pulled) if (p.error) console.error(`pull ${p.symbol}: ${p.error}`);
      for (const f of followed) if (f.error) console.error(`trade log ${f.symbol}: ${f.error}`);
      const { symbols, advanceOnCron } = settings(env);
      if (!advanceOnCron) return;
      const advanced = await Promise.allSettled(symbols.map((s) => env.CANDLES.get(env.CANDLES.idFromName(s)).advance(controller.scheduledTime)));
      advanced.forEach((r, i) => r.status === "rejected" && console.error(`advance ${symbols[i]}: ${r.reason}`));
    })();
    ctx.waitUntil(run);
    await run;
  },
};
