/**
 * The hub's contract with its runtime: the socket and fan-out it drives (Bun's, or a Durable
 * Object's through a translation), its options, and the handlers and controls it hands back.
 */
import type { Cache, CandleStore } from "../adapters/types.ts";
import type { HubLimits } from "./limits.ts";

/** What the hub needs of a server socket (Bun's `ServerWebSocket<HubData>` is one); `send` answers like Bun's. */
export interface HubSocket {
  data: HubData;
  send(data: string): number;
  subscribe(topic: string): unknown;
  unsubscribe(topic: string): unknown;
  getBufferedAmount(): number;
  close(code?: number, reason?: string): void;
  terminate(): void;
}

/** Per-socket slot for the hub's client state: upgrade with `{ data: {} }`. */
export type HubData = { client?: unknown };

/** Topic fan-out (Bun's `Server.publish`): -1 when some subscriber is under backpressure. */
export type Fanout = { publish(topic: string, data: string): number };

/** Options of {@link createHub}. */
export interface HubOptions {
  cache: Cache;
  store: CandleStore;
  intervals: string[];
  /** Symbols clients may subscribe to. */
  symbols: () => Promise<string[]>;
  /** Default 15 000. */
  heartbeatMs?: number;
  /**
   * Default true. False: the hub sets no timer, and the runtime calls `beat` every `heartbeatMs`
   * and `sweep` as often as it likes (a Durable Object's alarm), so an idle hub keeps nothing
   * running that would hold its process in memory.
   */
  timers?: boolean;
  /** Candles per snapshot; default 300. */
  history?: number;
  limits?: Partial<HubLimits>;
  clock?: () => number;
  onError?: (error: unknown) => void;
}

/** Counters and gauges of the hub (`buffered`: bytes queued for all clients now). */
export type HubStats = Record<"clients" | "buffered" | "badMessages" | "conflated" | "closedSlow" | "closedAbusive", number>;

/** The hub: socket handlers for the runtime, the fan-out to attach once listening, stats, shutdown. */
export interface Hub {
  readonly limits: HubLimits;
  readonly websocket: {
    open(ws: HubSocket): Promise<void>;
    message(ws: HubSocket, message: string | ArrayBufferView | ArrayBuffer): Promise<void>;
    drain(ws: HubSocket): void;
    close(ws: HubSocket): void;
    /**
     * Takes on a client that already had its hello and its snapshots (a socket that outlived the
     * process that served it): `pairs` go live at once, nothing is sent.
     */
    adopt(ws: HubSocket, pairs: readonly (readonly [symbol: string, interval: string])[]): void;
  };
  /** The symbol × interval pairs a client is subscribed to, in the order it asked for them. */
  pairs(ws: HubSocket): [symbol: string, interval: string][];
  /** Settles when no snapshot read is queued or running. */
  settled(): Promise<void>;
  /** Sends a heartbeat to every client that is not slow. */
  beat(): void;
  /** The slow-client rules' periodic check (conflate, recover, close). */
  sweep(): void;
  attach(fanout: Fanout): void;
  stats(): HubStats;
  /** Stops timers and feeds, closes every client (1001). */
  close(): Promise<void>;
}
