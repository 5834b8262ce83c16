/** Hands batches to a sink one at a time, from event handlers that cannot await. */
import type { Trade } from "../../lib/types.ts";
import type { Sink } from "./types.ts";

/** A serial queue in front of a sink. */
export interface Feed {
  /** Queues a batch; batches reach the sink in push order, each after the previous settled. */
  push(trades: Trade[]): void;
  /** Resolves when every queued batch has been handed over. */
  drained(): Promise<void>;
  /** The first error the sink threw, if any; later batches are dropped once it is set. */
  readonly failure: unknown;
}

/**
 * Wraps `sink` so socket handlers can push without awaiting. The first sink error is kept
 * and reported through `onFailure`, which the sources use to end themselves loudly.
 */
export function feed(sink: Sink, onFailure: (error: unknown) => void): Feed {
  let chain: Promise<void> = Promise.resolve();
  let failure: unknown;
  let failed = false;
  return {
    push(trades) {
      if (failed || trades.length === 0) return;
      chain = chain.then(async () => {
        if (failed) return;
        try {
          await sink(trades);
        } catch (error) {
          failed = true;
          failure = error;
          onFailure(error);
        }
      });
    },
    drained: () => chain,
    get failure() {
      return failure;
    },
  };
}

/** The start/stop half of a live source: what `run` does between them is the source's own. */
export interface Lifecycle {
  start(sink: Sink): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Runs `run` once per `start` with a feed in front of the sink: a sink error aborts the
 * run and `start` rejects with it once the queued batches are handed over; `stop` aborts
 * and waits for the end.
 */
export function lifecycle(name: string, run: (out: Feed, signal: AbortSignal) => Promise<void>): Lifecycle {
  let control: AbortController | undefined;
  let running: Promise<void> | undefined;
  return {
    start(sink) {
      if (running) throw new Error(`${name} source: already started`);
      const ctl = (control = new AbortController());
      let failure: unknown;
      const out = feed(sink, (error) => {
        failure = error;
        ctl.abort();
      });
      running = run(out, ctl.signal).then(async () => {
        await out.drained();
        if (failure !== undefined) throw failure;
      });
      return running;
    },
    async stop() {
      control?.abort();
      await running?.catch(() => {});
    },
  };
}
