/** Waiting between attempts: jittered exponential backoff and an abortable sleep. */
import type { Sleep } from "./types.ts";

/** Backoff settings. */
export interface BackoffOptions {
  /** First delay, ms; default 500. */
  baseMs?: number;
  /** Largest delay, ms; default 30 000. */
  maxMs?: number;
  /** Source of randomness in [0, 1); default Math.random. */
  random?: () => number;
}

/** A backoff sequence: `next()` gives the delay before the next attempt, `reset()` after a success. */
export interface Backoff {
  next(): number;
  reset(): void;
}

/**
 * Exponential backoff with "equal jitter": attempt n waits between half and all of
 * min(max, base × 2ⁿ), so many clients that lost the same server do not return in step.
 *
 * @example
 * const b = backoff({ baseMs: 100, maxMs: 5000 });
 * await sleep(b.next()); // 50..100 ms, then 100..200, ...
 */
export function backoff(options: BackoffOptions = {}): Backoff {
  const base = options.baseMs ?? 500;
  const max = options.maxMs ?? 30_000;
  const random = options.random ?? Math.random;
  let attempt = 0;
  return {
    next() {
      const cap = Math.min(max, base * 2 ** Math.min(attempt++, 30));
      return cap / 2 + (random() * cap) / 2;
    },
    reset() {
      attempt = 0;
    },
  };
}

/** Timer-based {@link Sleep}: resolves after `ms`, or at once when `signal` aborts. */
export const sleep: Sleep = (ms, signal) =>
  new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal?.addEventListener("abort", done, { once: true });
  });
