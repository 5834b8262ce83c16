/**
 * Topics for runtimes whose WebSockets have no pub/sub of their own (Deno, workerd): the
 * hub's `subscribe`/`unsubscribe`/`publish` done in process, over plain Web-standard
 * WebSockets. Bun has native topics and does not need this.
 */
import type { Fanout, HubData, HubSocket } from "../hub/types.ts";

/** A Web-standard WebSocket as a server runtime hands it out. */
export interface PlainSocket {
  send(data: string): void;
  close(code?: number, reason?: string): void;
  readonly readyState: number;
  readonly bufferedAmount: number;
}

/** In-process topics and the hub sockets that use them. */
export interface Topics {
  /** The fan-out the hub attaches to. */
  fanout: Fanout;
  /** Wraps a runtime's socket as a hub socket on these topics. */
  socket(ws: PlainSocket): HubSocket;
  /** Forgets a closed socket's topics. */
  drop(socket: HubSocket): void;
}

const OPEN = 1;

/**
 * Topics over plain WebSockets. `send` answers as Bun's does: the bytes sent, 0 when the
 * socket is closed, -1 when it was sent but the socket's buffer holds more than
 * `backpressureBytes`, so the hub's slow-client rules work unchanged.
 */
export function topics(options: { backpressureBytes: number }): Topics {
  const members = new Map<string, Set<HubSocket>>();
  const joined = new Map<HubSocket, Set<string>>();
  const send = (ws: PlainSocket, data: string): number => {
    if (ws.readyState !== OPEN) return 0;
    ws.send(data);
    return ws.bufferedAmount > options.backpressureBytes ? -1 : data.length;
  };
  return {
    fanout: {
      publish(topic, data) {
        let result = 0;
        for (const s of members.get(topic) ?? []) {
          const r = s.send(data);
          if (r === -1) result = -1;
          else if (result !== -1) result += r;
        }
        return result;
      },
    },
    socket(ws) {
      const own = new Set<string>();
      const s: HubSocket = {
        data: {} as HubData,
        send: (data) => send(ws, data),
        subscribe(topic) {
          own.add(topic);
          let set = members.get(topic);
          if (!set) members.set(topic, (set = new Set()));
          set.add(s);
        },
        unsubscribe(topic) {
          own.delete(topic);
          const set = members.get(topic);
          set?.delete(s);
          if (set?.size === 0) members.delete(topic);
        },
        getBufferedAmount: () => ws.bufferedAmount,
        close: (code, reason) => ws.close(code, reason),
        // Plain WebSockets have no forced close: a close frame is all the runtime offers.
        terminate: () => ws.close(1013, "too slow"),
      };
      joined.set(s, own);
      return s;
    },
    drop(s) {
      for (const topic of joined.get(s) ?? []) s.unsubscribe(topic);
      joined.delete(s);
    },
  };
}
