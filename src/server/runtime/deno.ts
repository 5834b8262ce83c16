/**
 * The server on Deno (and Deno Deploy): `Deno.serve` with the hub on `Deno.upgradeWebSocket`
 * sockets, over in-process topics. Only the socket and the server are translated here; the
 * app, the hub and the ports are the same as on Bun.
 *
 *   deno run -A src/server/runtime/deno.ts --port 8000 --store postgres --database-url postgres://…
 */
import { loadConfig, usage } from "../config.ts";
import { startServer, type Running } from "../server.ts";
import { topics, type PlainSocket } from "./topics.ts";

/** The part of Deno's API this file uses (the project's type checker runs with Bun's types). */
declare const Deno: {
  serve(options: { port: number; hostname: string; onListen?: (addr: { hostname: string; port: number }) => void }, handler: (req: Request) => Response | Promise<Response>): { finished: Promise<void>; shutdown(): Promise<void> };
  upgradeWebSocket(req: Request): { socket: PlainSocket & WebSocket; response: Response };
  args: string[];
  env: { toObject(): Record<string, string> };
  addSignalListener(signal: "SIGINT" | "SIGTERM", handler: () => void): void;
  exit(code: number): never;
};

const PAGE = `<!doctype html><meta charset="utf-8"><title>candleflow</title>
<h1>candleflow</h1><p>The API is live: <a href="/api/v1/symbols">/api/v1/symbols</a>, <a href="/api/v1/health">/api/v1/health</a>; WebSocket at /ws.</p>`;

/** Listens on `host:port` (0: any free port); resolves with the URL and a stop function. */
export async function listen(running: Running, options: { port: number; host: string }): Promise<{ url: URL; stop(): Promise<void> }> {
  const { hub, app } = running;
  const rooms = topics({ backpressureBytes: hub.limits.slowBytes });
  hub.attach(rooms.fanout);
  const sockets = new Set<{ raw: PlainSocket; hub: ReturnType<typeof rooms.socket> }>();
  // Plain WebSockets announce no "drained": look, and tell the hub when a slow one has caught up.
  const drains = setInterval(() => {
    for (const s of sockets) if (s.raw.bufferedAmount === 0) hub.websocket.drain(s.hub);
  }, 100);
  let address: { hostname: string; port: number } | undefined;
  const listening = new Promise<void>((resolve) => {
    const server = Deno.serve({ port: options.port, hostname: options.host, onListen: (a) => ((address = a), resolve()) }, (req) => {
      const url = URL.parse(req.url);
      if (!url) return Response.json({ error: { code: "BAD_REQUEST", message: "the Host header is not a valid host" } }, { status: 400 });
      if (url.pathname === "/") return new Response(PAGE, { headers: { "content-type": "text/html; charset=utf-8" } });
      if (url.pathname !== "/ws") return app.fetch(req);
      if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") return new Response("expected a WebSocket upgrade", { status: 426 });
      const { socket, response } = Deno.upgradeWebSocket(req);
      const entry = { raw: socket, hub: rooms.socket(socket) };
      socket.onopen = () => {
        sockets.add(entry);
        void hub.websocket.open(entry.hub);
      };
      socket.onmessage = (e: MessageEvent) => void hub.websocket.message(entry.hub, typeof e.data === "string" ? e.data : new Uint8Array(e.data as ArrayBuffer));
      socket.onclose = () => {
        sockets.delete(entry);
        rooms.drop(entry.hub);
        hub.websocket.close(entry.hub);
      };
      return response;
    });
    stopServer = () => server.shutdown();
  });
  let stopServer: () => Promise<void> = async () => {};
  await listening;
  return {
    url: new URL(`http://${address!.hostname}:${address!.port}/`),
    async stop() {
      clearInterval(drains);
      await stopServer();
    },
  };
}

if (import.meta.main) {
  const loaded = loadConfig(Deno.args, Deno.env.toObject());
  if (!loaded.ok) {
    if (loaded.help) console.log(usage);
    else for (const error of loaded.errors) console.error(`serve: ${error}`);
    Deno.exit(loaded.help ? 0 : 2);
  }
  if (loaded.config.store === "sqlite") {
    console.error("serve: SQLite (bun:sqlite) exists on Bun only: on Deno use --store postgres (or DATABASE_URL), or --store memory");
    Deno.exit(2);
  }
  const running = await startServer(loaded.config);
  const listening = await listen(running, loaded.config);
  console.log(`candleflow listening on ${listening.url.href} (deno)`);
  const stop = async () => {
    await listening.stop();
    await running.stop();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
}
