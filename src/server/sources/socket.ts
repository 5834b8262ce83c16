/** One WebSocket connection as a promise, with the timers every exchange feed needs, and the loop that keeps one open. */
import type { Backoff } from "./backoff.ts";
import type { Sleep, SourceStatus } from "./types.ts";

/** What a session does with its socket. */
export interface SessionHandlers {
  /** Called once the socket is open (send subscriptions here). */
  open?(ws: WebSocket): void;
  /** Called with each text message. */
  message(text: string, ws: WebSocket): void;
}

/** Session timers, ms; 0 turns one off. */
export interface SessionOptions {
  /** Give up if the socket is not open after this long; default 10 000. */
  openTimeoutMs?: number;
  /** Close when no message arrived for this long (a half-open TCP connection says nothing); default 0. */
  idleMs?: number;
  /** Close after this long even if healthy (exchanges cut long connections; leaving first is cleaner); default 0. */
  maxAgeMs?: number;
}

/** How a session ended. */
export interface SessionEnd {
  /** The socket opened at all. */
  opened: boolean;
  /** At least one message arrived. */
  received: boolean;
  /** We closed it on purpose because of `maxAgeMs` (not a failure). */
  rotated: boolean;
  /** Close code and reason, or why we closed it. */
  code: number;
  reason: string;
}

/**
 * Opens `url` and resolves when the socket closes, for whatever reason; aborting `signal`
 * closes it. Rejects only if the WebSocket cannot even be constructed (bad URL).
 *
 * Ping/pong needs nothing here: WebSocket clients answer server ping frames with pongs
 * inside the runtime (Bun does; `binance.test.ts` checks it), and the browser-style API
 * never exposes them.
 */
export function session(url: string, handlers: SessionHandlers, signal: AbortSignal, options: SessionOptions = {}): Promise<SessionEnd> {
  return new Promise((resolve) => {
    const end: SessionEnd = { opened: false, received: false, rotated: false, code: 0, reason: "" };
    const ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    const timers: ReturnType<typeof setTimeout>[] = [];
    let idle: ReturnType<typeof setTimeout> | undefined;
    const close = (reason: string) => {
      if (!end.reason) end.reason = reason;
      try {
        ws.close(1000, reason.slice(0, 120));
      } catch {
        // already closing
      }
    };
    const armIdle = () => {
      if (!options.idleMs) return;
      if (idle) clearTimeout(idle);
      idle = setTimeout(() => close(`no message for ${options.idleMs} ms`), options.idleMs);
    };
    const onAbort = () => close("stopped");
    signal.addEventListener("abort", onAbort, { once: true });
    const openTimeout = options.openTimeoutMs ?? 10_000;
    if (openTimeout) timers.push(setTimeout(() => end.opened || close(`not open after ${openTimeout} ms`), openTimeout));

    ws.addEventListener("open", () => {
      end.opened = true;
      armIdle();
      if (options.maxAgeMs) {
        timers.push(
          setTimeout(() => {
            end.rotated = true;
            close("connection age limit");
          }, options.maxAgeMs),
        );
      }
      handlers.open?.(ws);
    });
    ws.addEventListener("message", (event) => {
      end.received = true;
      armIdle();
      const data = event.data;
      handlers.message(typeof data === "string" ? data : new TextDecoder().decode(data as ArrayBuffer), ws);
    });
    ws.addEventListener("close", (event) => {
      for (const t of timers) clearTimeout(t);
      if (idle) clearTimeout(idle);
      signal.removeEventListener("abort", onAbort);
      end.code = event.code;
      if (!end.reason) end.reason = event.reason || `closed with code ${event.code}`;
      resolve(end);
    });
    if (signal.aborted) close("stopped");
  });
}

/** What {@link reconnecting} needs around the session it keeps open. */
export interface Reconnecting {
  /** Ends the loop (the source stopping). */
  signal: AbortSignal;
  /** Counts reconnects and shows whether a connection is open. */
  status: Pick<SourceStatus, "reconnects" | "connected">;
  /** Records a failure for `status` (the loop goes on). */
  fail: (message: string) => void;
  /** Waits between attempts, cut short by `signal`. */
  sleep: Sleep;
  /** The delays between attempts; reset once a connection has brought messages. */
  wait: Backoff;
  /** Drops the connection when the sink falls behind (then reconnects and backfills at once). */
  load: { signal(outer: AbortSignal): AbortSignal; shed(): Promise<boolean> };
  /** Opens one session, ending on `signal`. */
  connect: (signal: AbortSignal) => Promise<SessionEnd>;
}

/**
 * Keeps a live feed's WebSocket session open until `signal` aborts: every exchange source's
 * loop. A session that ends is retried after a backoff; one shed for load, or rotated before
 * the exchange's connection age limit, is reopened at once.
 */
export async function reconnecting(r: Reconnecting): Promise<void> {
  for (let first = true; !r.signal.aborted; first = false) {
    if (!first) r.status.reconnects++;
    let end: SessionEnd | undefined;
    try {
      end = await r.connect(r.load.signal(r.signal));
    } catch (error) {
      r.fail(`connect: ${error instanceof Error ? error.message : String(error)}`);
    }
    r.status.connected = false;
    if (r.signal.aborted) break;
    if (await r.load.shed()) continue;
    if (end?.rotated) continue;
    if (end) r.fail(end.opened ? `connection closed: ${end.reason}` : `cannot connect: ${end.reason}`);
    if (end?.received) r.wait.reset();
    await r.sleep(r.wait.next(), r.signal);
  }
}
