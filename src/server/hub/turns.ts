/**
 * Snapshot reads taking turns across all clients, one at a time, yielding to the event loop
 * after each: a SQLite read is synchronous, so a burst of them back to back would hold every
 * socket (and /health) until the last one is done.
 */

/** A queue of reads, oldest first, keyed by what each is for. */
export interface Turns<K> {
  /** Queues `read` for `key` (again: it keeps its place, with the new read), and starts reading. */
  take(key: K, read: () => Promise<void>): void;
  /** Drops the read queued for `key`, if it has not started. */
  drop(key: K): void;
  /** Settles when no read is queued or running. */
  settled(): Promise<void>;
}

/** {@link Turns}; a read that fails goes to `onError` and the queue goes on. */
export function turns<K>(onError: (error: unknown) => void): Turns<K> {
  const queued = new Map<K, () => Promise<void>>();
  let reading: Promise<void> | undefined;
  const run = () =>
    (reading ??= (async () => {
      try {
        for (const [key, read] of queued) {
          queued.delete(key);
          await read().catch(onError);
          await new Promise((r) => setImmediate(r));
        }
      } finally {
        reading = undefined;
      }
    })());
  return {
    take(key, read) {
      queued.set(key, read);
      void run();
    },
    drop: (key) => void queued.delete(key),
    settled: () => reading ?? Promise.resolve(),
  };
}
