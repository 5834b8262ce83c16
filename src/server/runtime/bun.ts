/**
 * Puts a started server on Bun.serve: the page (`src/web/index.html`, bundled by Bun) at `/`,
 * the hub on Bun's native WebSocket at `/ws`, and the Hono app for everything else.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Running } from "../server.ts";
import type { HubData } from "../hub/types.ts";

/** The page's entry; served as a placeholder until it exists. */
const PAGE = fileURLToPath(new URL("../../web/index.html", import.meta.url));

const PLACEHOLDER = `<!doctype html><meta charset="utf-8"><title>candleflow</title>
<h1>candleflow</h1><p>The page is not built yet (src/web/index.html). The API is live:</p>
<ul><li><a href="/api/v1/symbols">/api/v1/symbols</a></li><li><a href="/api/v1/health">/api/v1/health</a></li>
<li><a href="/api/v1/metrics">/api/v1/metrics</a></li><li>WebSocket: /ws</li></ul>`;

/** A JSON error answer, shaped like the API's (`{"error":{code, message}}`). */
const problem = (status: number, code: string, message: string, headers: Record<string, string> = {}) =>
  Response.json({ error: { code, message } }, { status, headers });

/** A listening server. */
export interface Listening {
  /** Where it listens, e.g. `http://127.0.0.1:3000/`. */
  url: URL;
  /** Closes the socket and every connection. */
  stop(): Promise<void>;
}

/**
 * Listens on `host:port` (port 0 picks a free one). The page is bundled when it exists at
 * start-up (Bun's HTML bundler, rebuilt on change with NODE_ENV=development); until then a placeholder.
 *
 * @example
 * const { url } = await listen(await startServer(config), { port: 3000, host: "127.0.0.1" })
 */
export async function listen(running: Running, options: { port: number; host: string; development?: boolean }): Promise<Listening> {
  const page = existsSync(PAGE)
    ? ((await import(PAGE)).default as Bun.HTMLBundle)
    : () => new Response(PLACEHOLDER, { headers: { "content-type": "text/html; charset=utf-8" } });
  const { hub, app } = running;
  const server = Bun.serve({
    port: options.port,
    hostname: options.host,
    // Hot reload and unminified bundles only when asked for: a served page should not carry them.
    development: options.development ?? process.env.NODE_ENV === "development",
    // The page answers GET (and HEAD); other methods on `/` fall through to `fetch`, which refuses them.
    // Bun serves an HTML bundle per method at run time; its types allow one only per path, hence the cast.
    routes: { "/": { GET: page as unknown as () => Response } },
    fetch(req, srv) {
      // Bun builds `req.url` from the Host header; a malformed one is the client's mistake, not an error to log.
      const url = URL.parse(req.url);
      if (!url) return problem(400, "BAD_REQUEST", "the Host header is not a valid host");
      if (url.pathname === "/") return problem(405, "METHOD_NOT_ALLOWED", `${req.method} / is not allowed; the page answers GET`, { allow: "GET, HEAD" });
      if (url.pathname === "/ws") {
        if (srv.upgrade(req, { data: {} })) return undefined;
        return new Response("expected a WebSocket upgrade", { status: 426 });
      }
      return app.fetch(req);
    },
    // Anything the handlers above did not expect: one log line, and the API's error body instead of Bun's page.
    error(e) {
      console.error(`candleflow: http: ${e instanceof Error ? e.message : String(e)}`);
      return problem(500, "INTERNAL", "internal error");
    },
    websocket: {
      data: {} as HubData,
      open: (ws) => hub.websocket.open(ws),
      message: (ws, message) => hub.websocket.message(ws, message),
      drain: (ws) => hub.websocket.drain(ws),
      close: (ws) => hub.websocket.close(ws),
      // Frames past frameBytes get a TOO_LARGE answer; far past it Bun closes with 1009.
      maxPayloadLength: Math.max(64 * 1024, hub.limits.frameBytes * 16),
      // The hub closes slow clients at maxBytes; Bun's own limit is only a backstop.
      backpressureLimit: hub.limits.maxBytes * 2,
      closeOnBackpressureLimit: false,
      idleTimeout: 120,
      sendPings: true,
    },
  });
  hub.attach(server);
  return {
    url: server.url,
    async stop() {
      await server.stop(true);
    },
  };
}
