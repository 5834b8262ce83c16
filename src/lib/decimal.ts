/**
 * Exact decimals without a decimal library.
 *
 * A decimal string is parsed into an integer mantissa `m` and a scale `e` (digits after
 * the point, trailing zeros dropped): "61837.63000000" → m = 6183763, e = 2. Mantissas
 * stay JS numbers (exact below 2^53), so the hot path never allocates. This module parses,
 * compares and renders them; running sums and their division are `sum.ts`'s.
 */

/** Powers of ten that are exact doubles (10^0 … 10^22). */
export const POW10: readonly number[] = Array.from({ length: 23 }, (_, i) => 10 ** i);
/** Runs of zeros, by length (0 … 15), to pad a fraction's digits with. */
const ZEROS: readonly string[] = Array.from({ length: 16 }, (_, i) => "0".repeat(i));
/** Powers of ten as BigInts (10^0 … 10^79). */
export const BIG10: readonly bigint[] = Array.from({ length: 80 }, (_, i) => 10n ** BigInt(i));

const MAX = Number.MAX_SAFE_INTEGER;
/** 2^53: integers up to it are exact doubles. */
export const EXACT = 2 ** 53;
/** Most digits after the point accepted in an input. */
export const MAX_SCALE = 18;

/** Result registers of `parseDecimal` (one parse at a time; the core is single-threaded). */
export const parsed = { m: 0, e: 0 };

/** Why `parseDecimal` failed. */
export type ParseFailure = "syntax" | "precision";

/**
 * Parses a non-negative decimal string (`123`, `0.02000000`, `.5`, `5.`) into `parsed.m`
 * and `parsed.e`. Returns null on success, otherwise why not: `syntax` for anything that
 * is not digits with one optional point (signs, exponents, spaces included), `precision`
 * for more significant digits than a double holds exactly or more than 18 decimals.
 */
export function parseDecimal(s: string): ParseFailure | null {
  const dot = s.indexOf(".");
  let intEnd = s.length;
  let fracEnd = intEnd;
  if (dot >= 0) {
    intEnd = dot;
    while (fracEnd > dot + 1 && s.charCodeAt(fracEnd - 1) === 48) fracEnd--;
  }
  let m = 0;
  for (let i = 0; i < intEnd; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return "syntax";
    m = m * 10 + d;
  }
  let e = 0;
  if (dot >= 0) {
    for (let i = dot + 1; i < fracEnd; i++) {
      const d = s.charCodeAt(i) - 48;
      if (d < 0 || d > 9) return "syntax";
      m = m * 10 + d;
    }
    e = fracEnd - dot - 1;
    if (s.length === 1) return "syntax";
  } else if (s.length === 0) return "syntax";
  // Digits are ≥ 0, so m only grows: one check at the end catches any overflow.
  if (m > MAX || e > MAX_SCALE) return "precision";
  parsed.m = m;
  parsed.e = e;
  return null;
}

/** `m / 10^e` as the nearest double: monotonic in the exact value, so fine for ordering. */
export function toNumber(m: number, e: number): number {
  return e === 0 ? m : m / POW10[e]!;
}

/** Exact comparison of m1·10^-e1 and m2·10^-e2: negative, zero or positive. */
export function compareExact(m1: number, e1: number, m2: number, e2: number): number {
  if (e1 === e2) return m1 - m2;
  // Brought to one scale in a double while that stays exact (a product of exact integers
  // at most MAX is exact; one above it compares as above it), BigInt past that.
  if (e1 < e2) {
    if (e2 - e1 < 23 && m2 <= MAX) {
      const a = m1 * POW10[e2 - e1]!;
      return a <= MAX ? a - m2 : 1;
    }
  } else if (e1 - e2 < 23 && m1 <= MAX) {
    const b = m2 * POW10[e1 - e2]!;
    return b <= MAX ? m1 - b : -1;
  }
  const a = BigInt(m1) * BIG10[e2]!;
  const b = BigInt(m2) * BIG10[e1]!;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Renders `value · 10^-scale` canonically: no trailing zeros after the point, `"0"` for zero. */
export function formatScaled(value: bigint, scale: number): string {
  if (value === 0n) return "0";
  return value < 0n ? `-${placePoint((-value).toString(), scale)}` : placePoint(value.toString(), scale);
}

/** Puts the point `scale` digits from the right of `digits` (no leading zeros, not "0"), trailing zeros dropped. */
function placePoint(digits: string, scale: number): string {
  if (scale === 0) return digits;
  if (digits.length <= scale) digits = "0".repeat(scale - digits.length + 1) + digits;
  const cut = digits.length - scale;
  let end = digits.length;
  while (end > cut && digits.charCodeAt(end - 1) === 48) end--;
  return end === cut ? digits.slice(0, cut) : `${digits.slice(0, cut)}.${digits.slice(cut, end)}`;
}

// Rendered candles repeat the same few prices (open, high, low, close of every update):
// a small direct-mapped table of recent renders skips the number-to-string conversion.
const MEMO = 2048;
const memoM = new Float64Array(MEMO).fill(-1);
const memoE = new Uint8Array(MEMO);
const memoS: string[] = new Array<string>(MEMO).fill("");

/** Renders a parsed mantissa and scale canonically (no BigInt: mantissas are exact doubles). */
export function formatDecimal(m: number, e: number): string {
  // The mantissa's low bits pick the slot: a floor of an exact power-of-two division, not
  // `%`, which is a floating-point remainder on mantissas past 2^31 and costs tens of ns.
  const slot = (m - Math.floor(m * (1 / MEMO)) * MEMO + e * 31) & (MEMO - 1);
  if (memoM[slot] === m && memoE[slot] === e) return memoS[slot]!;
  const text = render(m, e);
  memoM[slot] = m;
  memoE[slot] = e;
  memoS[slot] = text;
  return text;
}

/** Mantissas below 2^52 render through `toFixed` (see `render`). */
const FIXED = 2 ** 52;

function render(m: number, e: number): string {
  if (e === 0) return String(m);
  // Below 2^52, m / 10^e (10^e exact up to 10^22, the division correctly rounded) lies within
  // half a unit of the e-th place of the exact value, and `toFixed`, which the language defines
  // exactly on the double, gives back those digits: one native conversion and one flat string,
  // where joining two converted parts builds a rope that every reader must flatten.
  if (m < FIXED && e <= 22) {
    const text = (m / POW10[e]!).toFixed(e);
    let end = text.length;
    while (text.charCodeAt(end - 1) === 48) end--;
    if (text.charCodeAt(end - 1) === 46) end--;
    return end === text.length ? text : text.slice(0, end);
  }
  return m === 0 ? "0" : placePoint(String(m), e);
}

/**
 * `int + frac · 10^-places` (integers, 0 ≤ frac < 10^places ≤ 10^15) rendered canonically:
 * each part converted once, trailing zeros dropped as numbers, not as text.
 */
export function joined(int: number, frac: number, places: number): string {
  if (frac === 0) return String(int);
  let width = places;
  // frac / 10 is within 0.02 of its true value below 10^15: the floor is exact.
  for (let tenth = Math.floor(frac / 10); frac === tenth * 10; tenth = Math.floor(frac / 10)) {
    frac = tenth;
    width--;
  }
  const digits = String(frac);
  return `${int}.${ZEROS[width - digits.length]!}${digits}`;
}
