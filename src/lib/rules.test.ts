import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { isWhale, reachesWhale } from "./rules.ts";

/** price × qty ≥ threshold, in BigInt: the definition both tests must meet. */
function exact(rule: { m: number; e: number }, pm: number, pe: number, qm: number, qe: number): boolean {
  return BigInt(pm) * BigInt(qm) * 10n ** BigInt(rule.e) >= BigInt(rule.m) * 10n ** BigInt(pe + qe);
}

describe("whale threshold", () => {
  const mantissa = fc.oneof(fc.integer({ min: 1, max: 100_000_000 }), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }));
  const scale = fc.integer({ min: 0, max: 18 });
  const threshold = fc.record({ m: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 10_000_000_000 })), e: fc.integer({ min: 0, max: 18 }) });

  test("the per-trade integer test is the exact comparison whenever the notional mantissa is safe", () => {
    fc.assert(
      fc.property(threshold, mantissa, scale, mantissa, scale, (rule, pm, pe, qm, qe) => {
        const nm = pm * qm;
        fc.pre(nm <= Number.MAX_SAFE_INTEGER);
        expect(reachesWhale(rule, nm, pe + qe)).toBe(exact(rule, pm, pe, qm, qe));
      }),
      { numRuns: 5000 },
    );
  });

  test("at the threshold exactly, and one unit either side", () => {
    // 100000 at scale 0 against notionals at scale 10: 10^15 is the threshold.
    const rule = { m: 100_000, e: 0 };
    expect(reachesWhale(rule, 1e15, 10)).toBe(true);
    expect(reachesWhale(rule, 1e15 - 1, 10)).toBe(false);
    expect(reachesWhale(rule, 1e15 + 1, 10)).toBe(true);
    // A threshold with more places than the notional.
    expect(reachesWhale({ m: 123_456, e: 3 }, 124, 0)).toBe(true);
    expect(reachesWhale({ m: 123_456, e: 3 }, 123, 0)).toBe(false);
    // A notional scale so fine that the threshold is past 2^53 there: only a zero threshold is reached.
    expect(reachesWhale({ m: 1, e: 0 }, Number.MAX_SAFE_INTEGER, 30)).toBe(false);
    expect(reachesWhale({ m: 0, e: 0 }, 1, 30)).toBe(true);
  });

  test("the general test (for notionals past 2^53) is exact too", () => {
    fc.assert(
      fc.property(threshold, mantissa, scale, mantissa, scale, (rule, pm, pe, qm, qe) => {
        expect(isWhale({ ...rule, v: rule.m / 10 ** rule.e }, pm, pe, qm, qe)).toBe(exact(rule, pm, pe, qm, qe));
      }),
      { numRuns: 2000 },
    );
  });
});
