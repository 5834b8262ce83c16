/**
 * What one client may hold and send: the hub's bounds, and the token bucket that meters its
 * frames and the pairs they name.
 */

/** Bounds of the hub. Byte counts are what the server holds for one client. */
export interface HubLimits {
  /** Most symbol × interval pairs per client. */
  subscriptions: number;
  /** Largest client frame answered (larger: `TOO_LARGE`). */
  frameBytes: number;
  /** Above this the client is slow: taken off its topics, conflated. */
  slowBytes: number;
  /** Above this, or slow for `maxSlowMs`, the client is closed (1013). */
  maxBytes: number;
  maxSlowMs: number;
  /** More invalid frames than `badFrames` within `badWindowMs` closes the client (1008). */
  badFrames: number;
  badWindowMs: number;
  /** Frames a client may send per second, and in one burst; more are refused (`RATE_LIMITED`). */
  framesPerSecond: number;
  frameBurst: number;
  /** Symbol × interval pairs a client's frames may name per second, and in one burst (a frame costs one per pair). */
  pairsPerSecond: number;
  pairBurst: number;
}

/** Default {@link HubLimits}. */
export const HUB_LIMITS: HubLimits = {
  subscriptions: 200, frameBytes: 4096, slowBytes: 256 * 1024, maxBytes: 4 * 1024 * 1024, maxSlowMs: 30_000, badFrames: 20, badWindowMs: 10_000,
  // A page sends a frame or two when its user picks a symbol or an interval; a dashboard takes its
  // whole allowance of pairs at once, then a few a second. Each pair subscribed costs a snapshot read.
  framesPerSecond: 10, frameBurst: 20, pairsPerSecond: 20, pairBurst: 200,
};

/** Takes `n` tokens; false when the client has spent its allowance. */
export type Bucket = (n: number) => boolean;

/** A token bucket of `burst` tokens refilled at `rate` a second. */
export function bucket(rate: number, burst: number, clock: () => number): Bucket {
  let tokens = burst;
  let at = clock();
  return (n) => {
    const now = clock();
    tokens = Math.min(burst, tokens + (Math.max(0, now - at) * rate) / 1000);
    at = now;
    if (tokens < n) return false;
    tokens -= n;
    return true;
  };
}
