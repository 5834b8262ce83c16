/**
 * The part of the Cloudflare Workers platform the workerd entry uses, declared here because
 * the project type-checks with Bun's types (the full `@cloudflare/workers-types` redefine the
 * DOM globals Bun's types already declare).
 */
declare module "cloudflare:workers" {
  /** A Durable Object's WebSocket as the hibernation API hands it back. */
  export interface DurableSocket extends WebSocket {
    serializeAttachment(value: unknown): void;
    deserializeAttachment(): unknown;
  }

  export interface DurableObjectState {
    readonly storage: import("../../adapters/durable-store.ts").DurableStorage & {
      /** Runs the object's `alarm()` at `at` (ms since the epoch), waking it if it hibernates; one alarm per object. */
      setAlarm(at: number): Promise<void>;
      getAlarm(): Promise<number | null>;
      deleteAlarm(): Promise<void>;
    };
    blockConcurrencyWhile<T>(run: () => Promise<T>): Promise<T>;
    acceptWebSocket(ws: WebSocket, tags?: string[]): void;
    getWebSockets(tag?: string): DurableSocket[];
  }

  export abstract class DurableObject<E = unknown> {
    protected readonly ctx: DurableObjectState;
    protected readonly env: E;
    constructor(ctx: DurableObjectState, env: E);
  }

  /** A Durable Object's stub: its public methods, called over RPC (results are structured clones). */
  export type Stub<T> = { [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never } & {
    fetch(request: Request): Promise<Response>;
  };

  export interface DurableObjectNamespace<T> {
    idFromName(name: string): unknown;
    get(id: unknown): Stub<T>;
  }

  export interface ScheduledController {
    readonly scheduledTime: number;
    readonly cron: string;
  }

  export interface ExecutionContext {
    waitUntil(promise: Promise<unknown>): void;
    passThroughOnException(): void;
    readonly props: unknown;
  }
}

/** workerd's WebSocket pair: `0` goes back to the client in the 101 response, `1` is the server's end. */
declare class WebSocketPair {
  0: WebSocket;
  1: WebSocket;
}

interface ResponseInit {
  /** workerd: the client end of a `WebSocketPair`, for a 101 response. */
  webSocket?: WebSocket;
}
