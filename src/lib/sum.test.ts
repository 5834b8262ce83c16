import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { formatScaled } from "./decimal.ts";
import { divide, divideSmall, quotient, Sum } from "./sum.ts";

describe("Sum", () => {
  const exact = (parts: [bigint, number][]) => {
    const scale = Math.max(0, ...parts.map(([, e]) => e));
    return formatScaled(parts.reduce((acc, [v, e]) => acc + v * 10n ** BigInt(scale - e), 0n), scale);
  };

  test("equals BigInt arithmetic for any mix of scales and sizes, spills included", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.integer({ min: 0, max: 18 })), { maxLength: 40 }), (parts) => {
        const sum = new Sum();
        for (const [m, e] of parts) sum.add(m, e);
        expect(sum.toString()).toBe(exact(parts.map(([m, e]) => [BigInt(m), e])));
      }),
    );
  });

  test("products are exact even when they overflow a double", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 99_999_999_999 }), fc.nat(8), fc.integer({ min: 1, max: 99_999_999_999 }), fc.nat(8)), { maxLength: 30 }), (rows) => {
        const sum = new Sum();
        for (const [a, ea, b, eb] of rows) sum.addProduct(a, ea, b, eb);
        expect(sum.toString()).toBe(exact(rows.map(([a, ea, b, eb]) => [BigInt(a) * BigInt(b), ea + eb])));
      }),
    );
  });

  test("a rescale while the number part is near 2^53 keeps the BigInt part right", () => {
    const sum = new Sum();
    sum.add(9007200, 0);
    sum.addProduct(1, 2, 1, 7);
    expect(sum.toString()).toBe("9007200.000000001");
  });
});

describe("division", () => {
  test("divide rounds half to even", () => {
    expect(divide(1n, 0, 8n, 0, 2)).toBe("0.12"); // 0.125 → 0.12
    expect(divide(3n, 0, 8n, 0, 2)).toBe("0.38"); // 0.375 → 0.38
    expect(divide(2n, 0, 3n, 0, 12)).toBe("0.666666666667");
    expect(divide(1n, 0, 0n, 0, 12)).toBe("0");
  });

  test("division in doubles gives divide's digits and rounding, or declines", () => {
    const safe = fc.oneof(fc.integer({ min: 0, max: 999 }), fc.integer({ min: 0, max: 99_999_999 }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }));
    fc.assert(
      fc.property(safe, fc.nat(36), safe, fc.nat(18), fc.nat(14), (num, numScale, den, denScale, places) => {
        const fast = divideSmall(num, numScale, den, denScale, places);
        if (fast !== null) expect(fast).toBe(divide(BigInt(num), numScale, BigInt(den), denScale, places));
      }),
      { numRuns: 20_000 },
    );
    // Ties, carries and chunk boundaries.
    for (const [num, den, places] of [[1, 8, 2], [3, 8, 2], [5, 2, 0], [7, 2, 0], [2, 3, 12], [999_999_999_999_995, 1_000, 12], [1, 16, 3], [1, 7, 15], [123_456_789, 1, 12], [0, 5, 12]] as const) {
      const fast = divideSmall(num, 0, den, 0, places);
      if (fast !== null) expect(fast).toBe(divide(BigInt(num), 0, BigInt(den), 0, places));
    }
    expect(divideSmall(2, 0, 3, 0, 12)).toBe("0.666666666667");
    expect(divideSmall(1, 0, 0, 0, 12)).toBe("0");
  });

  test("the quotient of two sums is divide's, spilled or not", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), fc.nat(18)), { minLength: 1, maxLength: 6 }), fc.array(fc.tuple(fc.integer({ min: 1, max: 99_999_999 }), fc.nat(8)), { minLength: 1, maxLength: 6 }), (nums, dens) => {
        const a = new Sum();
        const b = new Sum();
        for (const [m, e] of nums) a.add(m, e);
        for (const [m, e] of dens) b.add(m, e);
        expect(quotient(a, b, 12)).toBe(divide(a.value(), a.scale, b.value(), b.scale, 12));
      }),
    );
  });
});
