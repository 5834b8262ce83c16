/**
 * An Upstash-REST-compatible endpoint in front of a real Redis, so the edge adapters and
 * the unmodified `@upstash/redis` client are tested here without an Upstash account.
 *
 * What it speaks (the parts of Upstash's REST API the client uses, plus the documented rest):
 * - `POST /` with a JSON command array (`["SET","k","v"]`) → `{ result }`, or 400 `{ error }`.
 * - `POST /pipeline` with an array of commands → 200 `[{ result } | { error }, …]`, in order, not atomic.
 * - `POST /multi-exec` → the same array from one MULTI/EXEC; a command refused while
 *   queueing aborts the whole transaction with 400 `{ error }`, as Redis's EXECABORT does.
 * - Path style `GET|POST /<cmd>/<arg>/…` (a POST body is the last argument, query
 *   parameters follow as `name value`).
 * - `/subscribe/<channel>…` and `/psubscribe/<pattern>…` as server-sent events, one
 *   `data: <kind>,<channel>,<message>` line per Redis push, the form the client parses.
 * - `Authorization: Bearer <token>` (or `?_token=`), else 401 `{ error }`; other methods 405.
 * - `Upstash-Encoding: base64` (the client's default): every string of a result is base64
 *   of its bytes, at any depth, except a top-level `OK` status. The client decodes nested
 *   strings unconditionally, so a nested status must be encoded too.
 *
 * Replies come from a small RESP2 connection rather than Bun's `RedisClient`: RESP2 keeps
 * status and bulk strings apart (the `OK` rule needs that), bulk strings stay bytes (base64
 * of binary values is exact), and hashes stay flat arrays, as Upstash answers them.
 */

import type { RedisClient } from "bun";

/** Deletes the keys under `prefix` with SCAN, not KEYS: the server is shared with other test runs. */
export async function wipe(admin: RedisClient, prefix: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = (await admin.send("SCAN", [cursor, "MATCH", `${prefix}*`, "COUNT", "500"])) as [string, string[]];
    if (keys.length > 0) await admin.send("DEL", keys);
    cursor = next;
  } while (cursor !== "0");
}

/** A RESP simple-string (status) reply. */
class Status {
  constructor(readonly text: string) {}
}

/** A RESP error reply. */
class Fault {
  constructor(readonly message: string) {}
}

type Reply = Status | Fault | Uint8Array | number | null | Reply[];

const CRLF = new Uint8Array([13, 10]);
const utf8 = new TextEncoder();
const text = new TextDecoder();

function encodeCommand(args: readonly (string | Uint8Array)[]): Uint8Array {
  const parts: Uint8Array[] = [utf8.encode(`*${args.length}\r\n`)];
  for (const a of args) {
    const bytes = typeof a === "string" ? utf8.encode(a) : a;
    parts.push(utf8.encode(`$${bytes.length}\r\n`), bytes, CRLF);
  }
  let size = 0;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Parses one reply at `at`; `undefined` when the buffer does not hold all of it yet. */
function parse(buf: Uint8Array, at: number): [Reply, number] | undefined {
  if (at >= buf.length) return undefined;
  let end = at;
  while (end + 1 < buf.length && !(buf[end] === 13 && buf[end + 1] === 10)) end++;
  if (end + 1 >= buf.length) return undefined;
  const line = text.decode(buf.subarray(at + 1, end));
  const next = end + 2;
  switch (buf[at]) {
    case 43: // +
      return [new Status(line), next];
    case 45: // -
      return [new Fault(line), next];
    case 58: // :
      return [Number(line), next];
    case 36: { // $
      const n = Number(line);
      if (n < 0) return [null, next];
      if (next + n + 2 > buf.length) return undefined;
      return [buf.slice(next, next + n), next + n + 2];
    }
    case 42: { // *
      const n = Number(line);
      if (n < 0) return [null, next];
      const items: Reply[] = [];
      let pos = next;
      for (let i = 0; i < n; i++) {
        const got = parse(buf, pos);
        if (!got) return undefined;
        items.push(got[0]);
        pos = got[1];
      }
      return [items, pos];
    }
    default:
      throw new Error(`unexpected RESP byte ${buf[at]}`);
  }
}

interface Connection {
  /** Sends commands in one write; resolves to their replies in order. */
  send(commands: readonly (readonly (string | Uint8Array)[])[]): Promise<Reply[]>;
  close(): void;
}

/** A RESP2 connection; with `onPush`, every reply after the handshake goes there (pub/sub). */
async function connect(redisUrl: string, onPush?: (reply: Reply) => void, onClose?: () => void): Promise<Connection> {
  const url = new URL(redisUrl);
  const waiting: { left: number; got: Reply[]; resolve: (r: Reply[]) => void; reject: (e: Error) => void }[] = [];
  let buf = new Uint8Array(0);
  let pushing = false;
  let dead: Error | undefined;
  const fail = (e: Error) => {
    dead = e;
    for (const w of waiting.splice(0)) w.reject(e);
    onClose?.();
  };
  const socket = await Bun.connect({
    hostname: url.hostname.replace(/^\[|\]$/g, ""),
    port: Number(url.port || 6379),
    socket: {
      data(_s, chunk) {
        const joined = new Uint8Array(buf.length + chunk.length);
        joined.set(buf);
        joined.set(chunk, buf.length);
        let at = 0;
        for (let got = parse(joined, at); got; got = parse(joined, at)) {
          at = got[1];
          const w = waiting[0];
          if (w) {
            w.got.push(got[0]);
            if (--w.left === 0) {
              waiting.shift();
              w.resolve(w.got);
            }
          } else if (pushing) onPush?.(got[0]);
        }
        buf = joined.slice(at);
      },
      close: () => fail(new Error("redis connection closed")),
      error: (_s, e) => fail(e),
    },
  });
  const conn: Connection = {
    send(commands) {
      if (dead) return Promise.reject(dead);
      return new Promise((resolve, reject) => {
        waiting.push({ left: commands.length, got: [], resolve, reject });
        const frames = commands.map(encodeCommand);
        const all = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
        let at = 0;
        for (const f of frames) {
          all.set(f, at);
          at += f.length;
        }
        socket.write(all);
      });
    },
    close: () => socket.end(),
  };
  const hello: string[][] = [];
  if (url.password || url.username) hello.push(["AUTH", ...(url.username ? [decodeURIComponent(url.username)] : []), decodeURIComponent(url.password)]);
  const db = url.pathname.replace(/^\//, "");
  if (db) hello.push(["SELECT", db]);
  if (hello.length > 0) {
    const replies = await conn.send(hello);
    const bad = replies.find((r) => r instanceof Fault) as Fault | undefined;
    if (bad) {
      conn.close();
      throw new Error(bad.message);
    }
  }
  pushing = onPush !== undefined;
  return conn;
}

function base64(bytes: Uint8Array): string {
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

/** A reply as JSON the way Upstash answers it: strings base64 when asked, except a top-level `OK` status. */
function json(reply: Reply, b64: boolean, top = true): unknown {
  if (reply === null || typeof reply === "number") return reply;
  if (reply instanceof Status) return b64 && !(top && reply.text === "OK") ? base64(utf8.encode(reply.text)) : reply.text;
  if (reply instanceof Fault) return reply.message;
  if (reply instanceof Uint8Array) return b64 ? base64(reply) : text.decode(reply);
  return reply.map((r) => json(r, b64, false));
}

const entry = (reply: Reply, b64: boolean) => (reply instanceof Fault ? { error: reply.message } : { result: json(reply, b64) });

/** Options of `startUpstashServer`. */
export interface UpstashServerOptions {
  /** The Redis every command goes to, e.g. `redis://127.0.0.1:6379`. */
  redisUrl: string;
  /** Bearer token clients must send. */
  token: string;
  /** Port to listen on, on 127.0.0.1; default any free one. */
  port?: number;
}

/** A running endpoint. */
export interface UpstashServer {
  /** Base URL for `new Redis({ url, token })`. */
  url: string;
  /** The token it accepts. */
  token: string;
  /** HTTP requests served so far (the client's round trips), subscriptions included. */
  requests(): number;
  /** Stops listening and closes every Redis connection. */
  stop(): Promise<void>;
}

class BadRequest extends Error {}

const toArgs = (command: unknown): string[] => {
  if (!Array.isArray(command) || command.length === 0) throw new BadRequest("ERR command must be a non-empty JSON array");
  return command.map((a) => {
    if (typeof a === "string") return a;
    if (typeof a === "number" || typeof a === "boolean") return String(a);
    throw new BadRequest(`ERR command argument ${JSON.stringify(a)} is not a string or number`);
  });
};

/**
 * Starts the endpoint on 127.0.0.1. Commands share one Redis connection (each HTTP request's
 * commands are written in one go, so a MULTI/EXEC never interleaves with another request's);
 * each subscription gets its own connection, closed when the client aborts the stream.
 * Blocking commands (`BLPOP`, `XREAD BLOCK`) would hold up the shared connection: the
 * adapters do not use them.
 *
 * @example
 * const upstash = await startUpstashServer({ redisUrl: "redis://127.0.0.1:6379", token: "t" })
 * const redis = new Redis({ url: upstash.url, token: upstash.token })
 * await upstash.stop()
 */
export async function startUpstashServer(options: UpstashServerOptions): Promise<UpstashServer> {
  const { redisUrl, token } = options;
  let shared: Promise<Connection> | undefined;
  const streams = new Set<Connection>();
  let served = 0;
  const commands = () => {
    shared ??= connect(redisUrl, undefined, () => (shared = undefined)).catch((e) => {
      shared = undefined;
      throw e;
    });
    return shared;
  };
  const reply = (body: unknown, status = 200) => Response.json(body, { status });

  const subscribe = (kind: "subscribe" | "psubscribe", names: string[], signal: AbortSignal) => {
    let conn: Connection | undefined;
    let beat: ReturnType<typeof setInterval> | undefined;
    const end = () => {
      clearInterval(beat);
      if (conn) {
        streams.delete(conn);
        conn.close();
      }
    };
    const stream = new ReadableStream<Uint8Array>({
      async start(controller) {
        const emit = (line: string) => {
          try {
            controller.enqueue(utf8.encode(`data: ${line}\n\n`));
          } catch {
            end();
          }
        };
        const push = (r: Reply) => {
          if (!Array.isArray(r)) return;
          const parts = r.map((p) => (p instanceof Uint8Array ? text.decode(p) : typeof p === "number" ? String(p) : ""));
          emit(parts.join(","));
        };
        try {
          conn = await connect(redisUrl, push, () => {
            try {
              controller.close();
            } catch {
              // Already closed by the client.
            }
          });
        } catch (e) {
          controller.error(e);
          return;
        }
        streams.add(conn);
        signal.addEventListener("abort", end, { once: true });
        // Comment lines keep idle proxies from closing the stream; the client ignores them.
        beat = setInterval(() => {
          try {
            controller.enqueue(utf8.encode(":\n\n"));
          } catch {
            end();
          }
        }, 15_000);
        // The confirmations come back as pushes: the client learns the subscription is live from them.
        void conn.send([[kind.toUpperCase(), ...names]]).then(
          (confirm) => confirm.forEach(push),
          () => end(),
        );
      },
      cancel: end,
    });
    return new Response(stream, { headers: { "Content-Type": "text/event-stream", "Cache-Control": "no-cache", Connection: "keep-alive" } });
  };

  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: options.port ?? 0,
    // Subscriptions are long-lived streams; Bun's default idle timeout would cut them.
    idleTimeout: 0,
    async fetch(req) {
      served++;
      const url = new URL(req.url);
      if (!["GET", "POST", "PUT", "HEAD"].includes(req.method)) return reply({ error: `method ${req.method} not allowed` }, 405);
      const auth = req.headers.get("authorization");
      const given = auth?.startsWith("Bearer ") ? auth.slice(7) : url.searchParams.get("_token");
      if (given !== token) return reply({ error: "Unauthorized" }, 401);
      const b64 = req.headers.get("upstash-encoding")?.toLowerCase() === "base64";
      const segments = url.pathname.split("/").filter((s) => s !== "").map(decodeURIComponent);
      try {
        const route = segments[0]?.toLowerCase();
        if (route === "subscribe" || route === "psubscribe") {
          if (segments.length < 2) throw new BadRequest(`ERR ${route} needs a channel`);
          return subscribe(route, segments.slice(1), req.signal);
        }
        const body = req.method === "POST" || req.method === "PUT" ? await req.text() : "";
        const parsed = (): unknown => {
          try {
            return JSON.parse(body);
          } catch {
            throw new BadRequest("ERR request body is not JSON");
          }
        };
        if (segments.length === 0) {
          const [r] = await (await commands()).send([toArgs(parsed())]);
          return r instanceof Fault ? reply({ error: r.message }, 400) : reply({ result: json(r!, b64) });
        }
        if (segments.length === 1 && (route === "pipeline" || route === "multi-exec")) {
          const list = parsed();
          if (!Array.isArray(list) || list.length === 0) throw new BadRequest("ERR body must be a non-empty array of commands");
          const cmds = list.map(toArgs);
          const conn = await commands();
          if (route === "pipeline") return reply((await conn.send(cmds)).map((r) => entry(r, b64)));
          const replies = await conn.send([["MULTI"], ...cmds, ["EXEC"]]);
          const exec = replies.at(-1)!;
          if (exec instanceof Fault) {
            const why = replies.slice(1, -1).find((r) => r instanceof Fault) as Fault | undefined;
            return reply({ error: why ? `${exec.message}: ${why.message}` : exec.message }, 400);
          }
          if (!Array.isArray(exec)) return reply({ error: "ERR transaction aborted" }, 400);
          return reply(exec.map((r) => entry(r, b64)));
        }
        // Path style: /set/foo/bar?EX=100, a POST body being the last argument before the query's.
        const args = [...segments];
        if (body !== "") args.push(body);
        for (const [k, v] of url.searchParams) if (k !== "_token") args.push(k, v);
        const [r] = await (await commands()).send([args]);
        return r instanceof Fault ? reply({ error: r.message }, 400) : reply({ result: json(r!, b64) });
      } catch (e) {
        if (e instanceof BadRequest) return reply({ error: e.message }, 400);
        return reply({ error: `ERR redis unavailable: ${e instanceof Error ? e.message : String(e)}` }, 500);
      }
    },
  });

  return {
    url: `http://127.0.0.1:${server.port}`,
    token,
    requests: () => served,
    async stop() {
      server.stop(true);
      for (const c of streams) c.close();
      streams.clear();
      const c = await shared?.catch(() => undefined);
      c?.close();
    },
  };
}
