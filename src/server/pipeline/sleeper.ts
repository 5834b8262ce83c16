/** An interruptible pause: `sleep` waits up to `ms`, and `wake` (or the signal) ends it early. */
export interface Sleeper {
  /** Resolves after `ms`, on `wake()`, or when `signal` aborts, whichever comes first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Ends the current `sleep` now; does nothing when none is pending. */
  wake(): void;
}

/** A {@link Sleeper}; one pending sleep at a time (the processor's idle wait). */
export function sleeper(): Sleeper {
  let waking: (() => void) | undefined;
  return {
    sleep: (ms, signal) =>
      new Promise<void>((resolve) => {
        if (signal?.aborted) return resolve();
        const timer = setTimeout(done, ms);
        waking = done;
        function done() {
          clearTimeout(timer);
          signal?.removeEventListener("abort", done);
          if (waking === done) waking = undefined;
          resolve();
        }
        signal?.addEventListener("abort", done, { once: true });
      }),
    wake: () => waking?.(),
  };
}
