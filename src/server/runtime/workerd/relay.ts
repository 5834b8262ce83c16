/**
 * `/ws` without `symbol`, the page's connection: one client socket in front of one socket per
 * symbol to that symbol's Durable Object, so a client subscribes to pairs of any symbols on one
 * connection, with the protocol of the Bun hub. Each object's hub does the work (snapshots,
 * conflation, limits); the relay only routes:
 *
 * - the hello is the first symbol's object's, naming every configured symbol;
 * - `subscribe`/`unsubscribe` go to the objects of the symbols they name (unknown symbols are
 *   refused here, as the hub refuses them); every other frame goes to the first object, which
 *   answers pings and bad frames;
 * - frames come back from every object as they are, heartbeats from the first one only;
 * - an object's socket closing closes the client's (1012: reconnect for fresh snapshots).
 *
 * The relay holds its sockets in the worker, not with the hibernation API (a worker has none):
 * the objects' ends of them are hibernatable like any client's, so the objects behind a relay
 * can hibernate, the relay's own invocation stays up while its client is connected.
 */
import { HUB_LIMITS } from "../../hub/limits.ts";
import type { Env, Settings } from "./env.ts";

const frame = (value: unknown) => JSON.stringify(value);

/** Accepts the page's WebSocket at `url` and relays it to the symbols' objects. */
export function relay(env: Env, config: Settings, url: URL): Response {
  const [outside, inside] = new WebSocketPair() as unknown as [WebSocket, WebSocket & { accept(): void }];
  inside.accept();
  const [first] = config.symbols;
  const ups = new Map<string, Promise<WebSocket>>();
  let closed = false;
  const end = (code: number, reason: string) => {
    if (closed) return;
    closed = true;
    for (const up of ups.values()) void up.then((ws) => ws.close(1000, "client gone"), () => {});
    try {
      inside.close(code, reason);
    } catch {
      // already closed
    }
  };
  const out = (data: string) => {
    if (!closed && inside.readyState === 1) inside.send(data);
  };
  const upstream = (symbol: string): Promise<WebSocket> => {
    let up = ups.get(symbol);
    if (up) return up;
    up = (async () => {
      const to = new URL(url);
      to.search = `?symbol=${encodeURIComponent(symbol)}`;
      const res = await env.CANDLES.get(env.CANDLES.idFromName(symbol)).fetch(new Request(to, { headers: { upgrade: "websocket" } }));
      const ws = (res as Response & { webSocket?: WebSocket & { accept(): void } }).webSocket;
      if (!ws) throw new Error(`${symbol}: the object answered ${res.status}, not a WebSocket`);
      ws.accept();
      ws.addEventListener("message", (e) => {
        const data = String(e.data);
        if (data.startsWith('{"type":"hello"')) {
          if (symbol === first) out(frame({ ...JSON.parse(data), symbols: [...config.symbols].sort() }));
        } else if (symbol === first || !data.startsWith('{"type":"heartbeat"')) {
          out(data);
        }
      });
      ws.addEventListener("close", () => end(1012, "restarted: reconnect for a fresh snapshot"));
      ws.addEventListener("error", () => end(1011, "upstream error"));
      return ws;
    })();
    up.catch((e) => (console.error("ws relay:", e), end(1011, "unavailable")));
    ups.set(symbol, up);
    return up;
  };
  const to = (symbol: string, data: string) => void upstream(symbol).then((ws) => ws.send(data), () => {});

  inside.addEventListener("message", (e) => {
    const raw = typeof e.data === "string" ? e.data : "";
    const routed = raw && raw.length <= HUB_LIMITS.frameBytes ? pairs(raw) : undefined;
    if (!routed) return to(first!, raw || String(e.data));
    const unknown = routed.symbols.filter((s) => !config.symbols.includes(s));
    if (unknown.length > 0) {
      return out(frame({ type: "error", code: "UNKNOWN_SYMBOL", message: `unknown symbols: ${unknown.join(", ")}; known: ${[...config.symbols].sort().join(", ")}` }));
    }
    for (const symbol of new Set(routed.symbols)) {
      if (routed.op === "unsubscribe" && !ups.has(symbol)) continue;
      to(symbol, frame({ op: routed.op, symbols: [symbol], intervals: routed.intervals }));
    }
  });
  inside.addEventListener("close", () => end(1000, "closed"));
  inside.addEventListener("error", () => end(1011, "client error"));
  upstream(first!);
  return new Response(null, { status: 101, webSocket: outside });
}

/** A well-formed `subscribe`/`unsubscribe` frame's op, symbols (upper-cased) and intervals; else undefined, for the hub to judge. */
function pairs(raw: string): { op: "subscribe" | "unsubscribe"; symbols: string[]; intervals: unknown } | undefined {
  let f: { op?: unknown; symbols?: unknown; intervals?: unknown };
  try {
    f = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if ((f?.op !== "subscribe" && f?.op !== "unsubscribe") || !Array.isArray(f.symbols) || f.symbols.length === 0) return undefined;
  if (!f.symbols.every((s): s is string => typeof s === "string" && s.length > 0 && s.length <= 64)) return undefined;
  return { op: f.op, symbols: f.symbols.map((s) => s.toUpperCase()), intervals: f.intervals };
}
