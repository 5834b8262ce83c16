/**
 * Exact running sums of decimals, and their quotient (a candle's VWAP). A sum adds in a
 * number and spills into a BigInt only when the number would lose exactness — a few times
 * per window at most.
 */
import { BIG10, EXACT, formatDecimal, formatScaled, joined, POW10 } from "./decimal.ts";

const MAX = Number.MAX_SAFE_INTEGER;

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
