import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { compareExact, formatDecimal, formatScaled, joined, parseDecimal, parsed } from "./decimal.ts";

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

describe("formatting and comparing", () => {
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

  test("an integer part and fraction digits join into the exact decimal", () => {
    fc.assert(
      fc.property(fc.oneof(fc.nat(999), fc.nat(99_999_999), fc.nat(2 ** 40)), fc.integer({ min: 1, max: 15 }), fc.double({ min: 0, max: 1, noNaN: true }), (int, places, share) => {
        const frac = Math.min(Math.floor(share * 10 ** places), 10 ** places - 1);
        expect(joined(int, frac, places)).toBe(formatScaled(BigInt(int) * 10n ** BigInt(places) + BigInt(frac), places));
      }),
      { numRuns: 20_000 },
    );
  });

  test("trailing zeros of the mantissa are dropped, never a bare point", () => {
    expect(formatDecimal(1_000_000, 2)).toBe("10000");
    expect(formatDecimal(1_234_500, 4)).toBe("123.45");
    expect(formatDecimal(0, 8)).toBe("0");
    expect(formatDecimal(7, 22)).toBe("0.0000000000000000000007");
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
