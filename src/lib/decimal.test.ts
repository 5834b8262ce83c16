import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { compareExact, divide, divideSmall, formatDecimal, formatScaled, parseDecimal, parsed, quotient, Sum } from "./decimal.ts";

const parse = (s: string) => (parseDecimal(s) === null ? [parsed.m, parsed.e] : parseDecimal(s));

describe("parseDecimal", () => {
  test.each([
    ["61837.63000000", [6183763, 2]], ["0.02000000", [2, 2]], ["100", [100, 0]], ["100.", [100, 0]],
    [".5", [5, 1]], ["0", [0, 0]], ["0.00000001", [1, 8]], ["00012.3400", [1234, 2]],
  ])("%s → mantissa, scale %p", (text, expected) => {
    expect(parse(text)).toEqual(expected);
  });

  test.each(["", ".", "-1", "+1", "1e5", "1.2.3", " 1", "1,5", "NaN", "0x10", "١"])("%p is a syntax error", (text) => {
    expect(parseDecimal(text)).toBe("syntax");
  });

  test("any decimal text with up to 15 significant digits parses to its exact value, trailing zeros dropped", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 999_999_999_999_999n }), fc.nat(18), fc.nat(10), fc.nat(3),
        (digits, scale, trailing, leading) => {
          const raw = digits.toString().padStart(scale + 1, "0");
          const text = `${"0".repeat(leading)}${scale === 0 ? raw : `${raw.slice(0, -scale)}.${raw.slice(-scale)}`}${scale === 0 && trailing ? "." : ""}${"0".repeat(scale === 0 && !trailing ? 0 : trailing)}`;
          expect(parseDecimal(text)).toBeNull();
          // The same value, canonical: mantissa without trailing fraction zeros.
          expect(formatScaled(BigInt(parsed.m), parsed.e)).toBe(formatScaled(digits, scale));
          expect(parsed.m % 10 !== 0 || parsed.e === 0).toBe(true);
        },
      ),
    );
  });

  test("more digits than a double holds exactly is refused, not rounded", () => {
    expect(parseDecimal("9007199254740993")).toBe("precision");
    expect(parseDecimal("0.1234567890123456789")).toBe("precision");
    expect(parseDecimal("9007199254740991")).toBeNull();
  });
});

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

describe("formatting and division", () => {
  test("canonical text: no trailing zeros, no bare point", () => {
    expect(formatScaled(123400n, 4)).toBe("12.34");
    expect(formatScaled(5n, 3)).toBe("0.005");
    expect(formatScaled(1000n, 3)).toBe("1");
    expect(formatScaled(0n, 9)).toBe("0");
  });

  test("a mantissa and scale render as their exact BigInt value does", () => {
    const safe = fc.oneof(fc.integer({ min: 0, max: 99_999 }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.constantFrom(Number.MAX_SAFE_INTEGER, 2 ** 52, 10 ** 15, 10 ** 15 - 1));
    fc.assert(
      fc.property(safe, fc.nat(40), (m, e) => {
        expect(formatDecimal(m, e)).toBe(formatScaled(BigInt(m), e));
      }),
      { numRuns: 20_000 },
    );
  });

  test("mantissas on either side of 2^52, where rendering changes method, render exactly at every scale", () => {
    for (const base of [2 ** 52, 10 ** 15, 2 ** 53 - 64]) {
      for (let m = base - 64; m <= base + 63; m++) {
        for (let e = 0; e <= 24; e++) expect(formatDecimal(m, e)).toBe(formatScaled(BigInt(m), e));
      }
    }
  });

  test("trailing zeros of the mantissa are dropped, never a bare point", () => {
    expect(formatDecimal(1_000_000, 2)).toBe("10000");
    expect(formatDecimal(1_234_500, 4)).toBe("123.45");
    expect(formatDecimal(0, 8)).toBe("0");
    expect(formatDecimal(7, 22)).toBe("0.0000000000000000000007");
  });

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

  test("compareExact orders decimals of different scales", () => {
    expect(compareExact(15, 1, 150, 2)).toBe(0);
    expect(Math.sign(compareExact(9007199254740991, 16, 9007199254740990, 16))).toBe(1);
    // One side scaled past 2^53 (and the other not) is decided without BigInt: still exact.
    expect(Math.sign(compareExact(9007199254740991, 0, 9007199254740991, 1))).toBe(1);
    expect(Math.sign(compareExact(1, 18, 9007199254740991, 0))).toBe(-1);
  });

  test("compareExact agrees with BigInt on any two decimals", () => {
    const mantissa = fc.oneof(fc.integer({ min: 0, max: 1_000_000 }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }));
    const scale = fc.integer({ min: 0, max: 18 });
    fc.assert(
      fc.property(mantissa, scale, mantissa, scale, (m1, e1, m2, e2) => {
        const a = BigInt(m1) * 10n ** BigInt(e2);
        const b = BigInt(m2) * 10n ** BigInt(e1);
        expect(Math.sign(compareExact(m1, e1, m2, e2))).toBe(a < b ? -1 : a > b ? 1 : 0);
      }),
      { numRuns: 5000 },
    );
  });
});
