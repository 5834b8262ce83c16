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
