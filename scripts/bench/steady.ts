/**
 * Runs `f` twice after a full collection and returns the second result: the timed run.
 *
 * Bun frees dead objects lazily: `Bun.gc(true)` marks them, and whatever allocates next
 * sweeps them. A run timed straight after the collection paid for freeing the garbage of
 * whichever run came before it: the WebSocket batch decode, which followed the object
 * decode and its two million trade objects, took 30–50% longer than on its own, while
 * `JSON.parse`, which followed a run that leaves little, paid almost nothing. The untimed
 * first pass leaves the garbage this same work leaves, so the timed pass pays what it would
 * pay running on and on, as in a server: its own work, its own garbage, and nobody else's.
 */
export function steady<T>(f: () => T): T {
  Bun.gc(true);
  f();
  return f();
}

/** `f` under {@link steady}, timed: milliseconds of the second pass. */
export function steadyMs(f: () => unknown): number {
  return steady(() => {
    const t0 = performance.now();
    f();
    return performance.now() - t0;
  });
}
