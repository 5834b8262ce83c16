/** Hands batches to a sink one at a time, from event handlers that cannot await. */
import type { Trade } from "../../lib/types.ts";
import type { Sink, SourceStatus } from "./types.ts";

/** A serial queue in front of a sink. */
export interface Feed {
  /** Queues a batch; batches reach the sink in push order, each after the previous settled. */
  push(trades: Trade[]): void;
  /** Resolves when every queued batch has been handed over. */
  drained(): Promise<void>;
  /** The first error the sink threw, if any; later batches are dropped once it is set. */
  readonly failure: unknown;
  /** Trades queued and not yet taken by the sink. */
  readonly backlog: number;
  /** Resolves once at most `n` trades are queued. */
  below(n: number): Promise<void>;
}

/**
 * Wraps `sink` so socket handlers can push without awaiting. The first sink error is kept
 * and reported through `onFailure`, which the sources use to end themselves loudly.
 */
export function feed(sink: Sink, onFailure: (error: unknown) => void): Feed {
  let chain: Promise<void> = Promise.resolve();
  let failure: unknown;
  let failed = false;
  let backlog = 0;
  const waiting: { n: number; resolve: () => void }[] = [];
  const settle = () => {
    for (let i = waiting.length - 1; i >= 0; i--) {
      if (backlog <= waiting[i]!.n || failed) waiting.splice(i, 1)[0]!.resolve();
    }
  };
  return {
    push(trades) {
      if (failed || trades.length === 0) return;
      backlog += trades.length;
      chain = chain.then(async () => {
        try {
          if (!failed) await sink(trades);
        } catch (error) {
          failed = true;
          failure = error;
          onFailure(error);
        } finally {
          backlog -= trades.length;
          settle();
        }
      });
    },
    drained: () => chain,
    get failure() {
      return failure;
    },
    get backlog() {
      return backlog;
    },
    below(n) {
      return backlog <= n || failed ? Promise.resolve() : new Promise((resolve) => waiting.push({ n, resolve }));
    },
  };
}

/** The start/stop half of a source: what `run` does between them is the source's own. */
export interface Lifecycle {
  start(sink: Sink): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Runs `run` once per `start` (a second start throws); `start` settles when `run` does,
 * and `stop` aborts its signal and waits for the end.
 */
export function lifecycle(name: string, run: (sink: Sink, signal: AbortSignal) => Promise<void>): Lifecycle {
  let control: AbortController | undefined;
  let running: Promise<void> | undefined;
  return {
    start(sink) {
      if (running) throw new Error(`${name} source: already started`);
      control = new AbortController();
      running = run(sink, control.signal);
      return running;
    },
    async stop() {
      control?.abort();
      await running?.catch(() => {});
    },
  };
}

/**
 * A lifecycle for sources fed by socket handlers that cannot await: a feed sits in front
 * of the sink, a sink error aborts the run, and `start` rejects with it once the queued
 * batches are handed over.
 */
export function fedLifecycle(name: string, run: (out: Feed, signal: AbortSignal) => Promise<void>): Lifecycle {
  return lifecycle(name, async (sink, signal) => {
    const local = new AbortController();
    const stop = () => local.abort();
    signal.addEventListener("abort", stop, { once: true });
    let failure: unknown;
    const out = feed(sink, (error) => {
      failure = error;
      local.abort();
    });
    try {
      await run(out, local.signal);
      await out.drained();
    } finally {
      signal.removeEventListener("abort", stop);
    }
    if (failure !== undefined) throw failure;
  });
}

/**
 * Keeps a live connection from outrunning a slow sink. Each connection gets `signal()`;
 * `check()` after each message drops the connection once more than `max` trades are queued;
 * after the connection ends, `shed()` waits until the queue is down to half, counts it in
 * `status.shed`, and says whether the end was this (then reconnect at once: the gap filler
 * backfills what the exchange sent meanwhile, so nothing is lost and memory stays bounded).
 */
export function shedder(out: Feed, max: number, status: SourceStatus) {
  let ctl = new AbortController();
  return {
    signal(outer: AbortSignal): AbortSignal {
      ctl = new AbortController();
      return AbortSignal.any([outer, ctl.signal]);
    },
    check(): void {
      if (out.backlog > max && !ctl.signal.aborted) ctl.abort();
    },
    async shed(): Promise<boolean> {
      if (!ctl.signal.aborted) return false;
      status.shed = (status.shed ?? 0) + 1;
      await out.below(max / 2);
      return true;
    },
  };
}
