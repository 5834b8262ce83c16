/**
 * The page's WebSocket client for `/ws` (protocol version 1): keeps a set of wanted
 * symbol × interval pairs, subscribes them on every (re)connect so each one gets a fresh
 * snapshot, and reconnects by itself with exponential backoff.
 */

/** Connection state shown to people. */
export type Status = "connecting" | "live" | "reconnecting";

export type { HelloFrame, ServerFrame, SnapshotFrame } from "../server/protocol.ts";
import type { ServerFrame } from "../server/protocol.ts";

/** Options of {@link connect}. */
export interface SocketOptions {
  /** `ws:` or `wss:` URL of the endpoint. */
  url: string;
  /** Called with each parsed frame. */
  onFrame: (frame: ServerFrame) => void;
  /** Called when the connection state changes. */
  onStatus: (status: Status) => void;
  /** First retry delay, ms; default 500. */
  minDelay?: number;
  /** Longest retry delay, ms; default 10 000. */
  maxDelay?: number;
}

/** A self-healing connection. */
export interface Socket {
  /** Wants a pair: subscribes now if connected, and again after every reconnect. */
  subscribe(symbol: string, interval: string): void;
  /** No longer wants a pair. */
  unsubscribe(symbol: string, interval: string): void;
  /** Closes for good. */
  close(): void;
}

/** Opens a connection that keeps itself open until `close`. */
export function connect(options: SocketOptions): Socket {
  const { url, onFrame, onStatus, minDelay = 500, maxDelay = 10_000 } = options;
  const wanted = new Set<string>();
  let ws: WebSocket | undefined;
  let attempt = 0;
  let closed = false;
  let retry: ReturnType<typeof setTimeout> | undefined;
  let watchdog: ReturnType<typeof setTimeout> | undefined;
  let heartbeatMs = 15_000;

  const send = (op: "subscribe" | "unsubscribe", key: string) => {
    if (ws?.readyState !== WebSocket.OPEN) return;
    const [symbol, interval] = key.split(" ");
    ws.send(JSON.stringify({ op, symbols: [symbol], intervals: [interval] }));
  };

  // A silent socket (sleeping laptop, dropped NAT entry) never fires `close`; missing
  // heartbeats are the only sign, so treat them as a disconnect.
  const arm = () => {
    clearTimeout(watchdog);
    watchdog = setTimeout(() => ws?.close(), heartbeatMs * 2 + 5_000);
  };

  const open = () => {
    onStatus(attempt === 0 ? "connecting" : "reconnecting");
    const socket = new WebSocket(url);
    ws = socket;
    socket.onopen = () => {
      arm();
      for (const key of wanted) send("subscribe", key);
    };
    socket.onmessage = (event) => {
      arm();
      let frame: ServerFrame;
      try {
        frame = JSON.parse(String(event.data));
      } catch {
        return;
      }
      if (frame.type === "hello") {
        heartbeatMs = frame.heartbeatMs > 0 ? frame.heartbeatMs : heartbeatMs;
        attempt = 0;
        onStatus("live");
      }
      onFrame(frame);
    };
    socket.onclose = () => {
      clearTimeout(watchdog);
      if (ws !== socket || closed) return;
      ws = undefined;
      onStatus("reconnecting");
      // Full jitter, so a restarted server is not hit by every page at the same instant.
      const delay = Math.min(maxDelay, minDelay * 2 ** attempt++) * (0.5 + Math.random() / 2);
      retry = setTimeout(open, delay);
    };
  };

  const online = () => {
    if (closed || ws) return;
    clearTimeout(retry);
    open();
  };
  globalThis.addEventListener?.("online", online);
  open();

  return {
    subscribe(symbol, interval) {
      const key = `${symbol} ${interval}`;
      if (wanted.has(key)) return;
      wanted.add(key);
      send("subscribe", key);
    },
    unsubscribe(symbol, interval) {
      const key = `${symbol} ${interval}`;
      if (wanted.delete(key)) send("unsubscribe", key);
    },
    close() {
      closed = true;
      clearTimeout(retry);
      clearTimeout(watchdog);
      globalThis.removeEventListener?.("online", online);
      ws?.close();
    },
  };
}
