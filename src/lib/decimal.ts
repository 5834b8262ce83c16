/**
 * Exact decimals without a decimal library.
 *
 * A decimal string is parsed into an integer mantissa `m` and a scale `e` (digits after
 * the point, trailing zeros dropped): "61837.63000000" → m = 6183763, e = 2. Mantissas
 * stay JS numbers (exact below 2^53), so the hot path never allocates. Sums use `Sum`,
 * which adds in a number and spills into a BigInt only when the number would lose
 * exactness — a few times per window at most.
 */

/** Powers of ten that are exact doubles (10^0 … 10^22). */
export const POW10: readonly number[] = Array.from({ length: 23 }, (_, i) => 10 ** i);
/** Runs of zeros, by length (0 … 15), to pad a fraction's digits with. */
const ZEROS: readonly string[] = Array.from({ length: 16 }, (_, i) => "0".repeat(i));
const BIG10: readonly bigint[] = Array.from({ length: 80 }, (_, i) => 10n ** BigInt(i));

const MAX = Number.MAX_SAFE_INTEGER;
/** 2^53: integers up to it are exact doubles. */
const EXACT = 2 ** 53;
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
function joined(int: number, frac: number, places: number): string {
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

/**
 * An exact running sum of decimals. The value is `(BigInt(small) + big) · 10^-scale`;
 * `small` takes every add while it stays an exact integer, `big` takes the overflow.
 */
export class Sum {
  small = 0;
  big = 0n;
  scale = 0;

  /** Adds m · 10^-e (m an exact integer ≥ 0). */
  add(m: number, e: number): void {
    // Small enough for the compiler to inline at every call site: the sum's own scale and no
    // spill. Everything else is `addSlow`'s.
    const next = this.small + m;
    if (e === this.scale && next <= MAX) this.small = next;
    else this.addSlow(m, e);
  }

  private addSlow(m: number, e: number): void {
    if (e !== this.scale) {
      if (e > this.scale) this.rescale(e);
      else {
        const k = this.scale - e;
        const scaled = k < 23 ? m * POW10[k]! : Infinity;
        if (scaled > MAX) {
          this.big += BigInt(m) * BIG10[k]!;
          return;
        }
        m = scaled;
      }
    }
    const next = this.small + m;
    if (next > MAX) {
      this.big += BigInt(this.small);
      this.small = m;
    } else this.small = next;
  }

  /** Adds (m1 · m2) · 10^-(e1+e2) exactly: the notional of a trade. */
  addProduct(m1: number, e1: number, m2: number, e2: number): void {
    const p = m1 * m2;
    if (p <= MAX) this.add(p, e1 + e2);
    else this.addBig(BigInt(m1) * BigInt(m2), e1 + e2);
  }

  /** Adds an arbitrary-size integer `v · 10^-e`. */
  addBig(v: bigint, e: number): void {
    if (e > this.scale) this.rescale(e);
    this.big += v * BIG10[this.scale - e]!;
  }

  /** The exact value as an integer at `this.scale`. */
  value(): bigint {
    return this.big === 0n ? BigInt(this.small) : this.big + BigInt(this.small);
  }

  /** The value rendered canonically. */
  toString(): string {
    return this.big === 0n ? formatDecimal(this.small, this.scale) : formatScaled(this.value(), this.scale);
  }

  /** Adds another sum into this one. */
  merge(other: Sum): void {
    if (other.big === 0n) this.add(other.small, other.scale);
    else this.addBig(other.value(), other.scale);
  }

  /** Makes this sum zero. */
  clear(): void {
    this.small = 0;
    this.big = 0n;
    this.scale = 0;
  }

  /** Makes this sum equal to `other`. */
  copy(other: Sum): void {
    this.small = other.small;
    this.big = other.big;
    this.scale = other.scale;
  }

  private rescale(e: number): void {
    const k = e - this.scale;
    // Most sums never spill: skip the BigInt multiply (an allocation) when there is nothing to scale.
    if (this.big !== 0n) this.big *= BIG10[k]!;
    const scaled = k < 23 ? this.small * POW10[k]! : Infinity;
    if (scaled <= MAX) this.small = scaled;
    else {
      this.big += BigInt(this.small) * BIG10[k]!;
      this.small = 0;
    }
    this.scale = e;
  }
}

/**
 * `num / den` (integers at scales `numScale` and `denScale`) rounded half-to-even to
 * `places` decimals, rendered canonically. `"0"` when `den` is zero.
 */
export function divide(num: bigint, numScale: number, den: bigint, denScale: number, places: number): string {
  if (den === 0n) return "0";
  // value = num/den · 10^(denScale - numScale); want round(value · 10^places)
  const shift = places + denScale - numScale;
  let n = num;
  let d = den;
  if (shift >= 0) n *= shift < BIG10.length ? BIG10[shift]! : 10n ** BigInt(shift);
  else d *= -shift < BIG10.length ? BIG10[-shift]! : 10n ** BigInt(-shift);
  let q = n / d;
  const r2 = (n - q * d) * 2n;
  if (r2 > d || (r2 === d && (q & 1n) === 1n)) q += 1n;
  return formatScaled(q, places);
}


/**
 * `num / den` of two sums, as {@link divide} renders it. Sums that fit in doubles (nearly
 * all) are divided in doubles by {@link divideSmall}; others, and the rare case it
 * declines, in BigInt.
 */
export function quotient(num: Sum, den: Sum, places: number): string {
  if (num.big === 0n && den.big === 0n) {
    const text = divideSmall(num.small, num.scale, den.small, den.scale, places);
    if (text !== null) return text;
  }
  return divide(num.value(), num.scale, den.value(), den.scale, places);
}

/**
 * {@link divide} for safe integers `num ≥ 0` and `den`, without BigInt, when the result has
 * at least as many places as `num / den` needs to shift (a VWAP: quote scale ≥ volume
 * scale). Long division in chunks of digits small enough that every product and remainder
 * is an exact integer double gives the integer part and the `places` fraction digits as two
 * numbers, so the digits and the half-to-even rounding are exactly `divide`'s and the text
 * is built once. Null when the operands do not fit that (the caller divides in BigInt).
 */
export function divideSmall(num: number, numScale: number, den: number, denScale: number, places: number): string | null {
  if (den === 0) return "0";
  const shift = places + denScale - numScale;
  if (shift < 0 || shift > places || places > 15 || num + den > EXACT) return null;
  // Each step divides r · 10^k (r < den): both it and q · den stay ≤ 2^53, exact.
  let k = 15;
  while (k > 0 && den * (POW10[k]! + 1) > EXACT) k--;
  if (k === 0 && shift > 0) return null;
  let q = Math.floor(num / den);
  let r = num - q * den;
  if (r < 0) { q--; r += den; } else if (r >= den) { q++; r -= den; }
  // q's last places - shift digits are the first fraction digits of the result.
  const unit = POW10[places - shift]!;
  if (q + unit > EXACT) return null;
  let int = Math.floor(q / unit);
  let frac = q - int * unit;
  if (frac < 0) { int--; frac += unit; } else if (frac >= unit) { int++; frac -= unit; }
  for (let left = shift; left > 0;) {
    const width = left < k ? left : k;
    const a = r * POW10[width]!;
    let c = Math.floor(a / den);
    r = a - c * den;
    if (r < 0) { c--; r += den; } else if (r >= den) { c++; r -= den; }
    frac = frac * POW10[width]! + c;
    left -= width;
  }
  const twice = r * 2;
  if (places === 0) {
    if (twice > den || (twice === den && int % 2 === 1)) int++;
    return String(int);
  }
  if (twice > den || (twice === den && frac % 2 === 1)) {
    frac++;
    if (frac === POW10[places]) {
      frac = 0;
      int++;
    }
  }
  return joined(int, frac, places);
}
