import { CandleflowError } from "./errors.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Appends little-endian primitives to a growing byte buffer. */
export class Writer {
  private buf: Uint8Array;
  private view: DataView;
  private pos = 0;

  /**
   * Writes into `into` (grown when it fills up), or into a new buffer of `into` bytes: the
   * expected size, so a large snapshot does not regrow its buffer many times.
   */
  constructor(into: Uint8Array | number = 1024) {
    this.buf = typeof into === "number" ? new Uint8Array(Math.max(64, into)) : into;
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): void {
    this.room(1);
    this.buf[this.pos++] = v;
  }

  u32(v: number): void {
    this.room(4);
    this.view.setUint32(this.pos, v, true);
    this.pos += 4;
  }

  /** Unsigned LEB128 of an integer in [0, 2^53). */
  uint(v: number): void {
    this.room(8);
    const buf = this.buf;
    let pos = this.pos;
    if (v >= 0x10000000) {
      // Ids, mantissas and sums pass 2^31: peel the low 28 bits once, then stay in 32-bit ops.
      const low = v % 0x10000000;
      buf[pos++] = (low & 127) | 128;
      buf[pos++] = ((low >>> 7) & 127) | 128;
      buf[pos++] = ((low >>> 14) & 127) | 128;
      buf[pos++] = ((low >>> 21) & 127) | 128;
      v = (v - low) / 0x10000000;
    }
    while (v >= 128) {
      buf[pos++] = (v & 127) | 128;
      v >>>= 7;
    }
    buf[pos++] = v;
    this.pos = pos;
  }

  /** A double (never NaN here: optional values are written with `opt`). */
  f64(v: number): void {
    this.room(8);
    this.view.setFloat64(this.pos, v, true);
    this.pos += 8;
  }

  /** A double that may be absent (NaN): a presence byte, then the value. */
  opt(v: number): void {
    if (v !== v) this.u8(0);
    else {
      this.u8(1);
      this.f64(v);
    }
  }

  str(s: string): void {
    // Names and decimals are ASCII: write them directly; anything else goes through UTF-8.
    const n = s.length;
    if (n < 128) {
      this.room(n + 1);
      const start = this.pos;
      this.buf[this.pos++] = n;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c > 127) break;
        this.buf[this.pos++] = c;
      }
      if (i === n) return;
      this.pos = start;
    }
    const bytes = encoder.encode(s);
    this.uint(bytes.length);
    this.room(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  /** The bytes written so far (a copy). */
  bytes(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }

  /** The bytes written so far, as a view of the buffer (valid until the next write). */
  written(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }

  /** The whole buffer written into, grown or not: for a caller that reuses it. */
  get buffer(): Uint8Array {
    return this.buf;
  }

  /** Bytes written so far. */
  get length(): number {
    return this.pos;
  }

  /** Overwrites 4 bytes at `at` (for a length written after the fact). */
  patchU32(at: number, v: number): void {
    this.view.setUint32(at, v, true);
  }
}

/** Reads what `Writer` wrote; every overrun or bad value is a `CHECKPOINT_CORRUPT`. */
export class Reader {
  private readonly view: DataView;
  pos: number;

  constructor(private readonly buf: Uint8Array, start = 0, private readonly end = buf.length) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.pos = start;
  }

  private need(n: number): void {
    if (this.pos + n > this.end) throw corrupt(`field at byte ${this.pos} runs past the end`);
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  uint(): number {
    const buf = this.buf;
    let pos = this.pos;
    if (pos + 8 <= this.end) {
      // Fast path: no bounds check per byte; the first four bytes in 32-bit ops.
      let b = buf[pos++]!;
      let v = b & 127;
      if (b >= 128) {
        b = buf[pos++]!; v |= (b & 127) << 7;
        if (b >= 128) {
          b = buf[pos++]!; v |= (b & 127) << 14;
          if (b >= 128) {
            b = buf[pos++]!; v = (v | ((b & 127) << 21)) >>> 0;
            let mul = 0x10000000;
            while (b >= 128 && pos - this.pos < 8) {
              b = buf[pos++]!;
              v += (b & 127) * mul;
              mul *= 128;
            }
            if (b >= 128 || v > Number.MAX_SAFE_INTEGER) throw corrupt(`integer at byte ${this.pos} is too long`);
          }
        }
      }
      this.pos = pos;
      return v;
    }
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      const byte = this.u8();
      v += (byte & 127) * mul;
      if (byte < 128) {
        if (v > Number.MAX_SAFE_INTEGER) break;
        return v;
      }
      mul *= 128;
    }
    throw corrupt(`integer at byte ${this.pos} is too long`);
  }

  f64(): number {
    this.need(8);
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    if (v !== v) throw corrupt(`NaN at byte ${this.pos - 8}`);
    return v;
  }

  opt(): number {
    const flag = this.u8();
    if (flag === 0) return NaN;
    if (flag !== 1) throw corrupt(`presence byte ${flag} at byte ${this.pos - 1}`);
    return this.f64();
  }

  str(): string {
    const n = this.uint();
    this.need(n);
    const s = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    try {
      return decoder.decode(s);
    } catch {
      throw corrupt(`invalid UTF-8 at byte ${this.pos - n}`);
    }
  }

  /** True when every byte up to the end was read. */
  done(): boolean {
    return this.pos === this.end;
  }
}

/** A `CHECKPOINT_CORRUPT` error. */
export function corrupt(why: string): CandleflowError {
  return new CandleflowError("CHECKPOINT_CORRUPT", `checkpoint is corrupt: ${why}`);
}

/** CRC-32 tables for slicing by eight bytes at a time (table k: a byte followed by k zero bytes). */
const CRC_TABLES = (() => {
  const t = new Uint32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    for (let k = 1; k < 8; k++) t[k * 256 + n] = (t[(k - 1) * 256 + n]! >>> 8) ^ t[t[(k - 1) * 256 + n]! & 0xff]!;
  }
  return t;
})();

/**
 * CRC-32 (IEEE 802.3, as in zip and PNG) of `bytes[0, end)`. Eight bytes per step: 1.4–1.6×
 * the speed of four on a 400 KB checkpoint (0.31–0.34 ms against 0.49–0.51 ms).
 */
export function crc32(bytes: Uint8Array, end = bytes.length): number {
  const t = CRC_TABLES;
  let c = 0xffffffff;
  let i = 0;
  for (; i + 8 <= end; i += 8) {
    const lo = c ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
    const hi = bytes[i + 4]! | (bytes[i + 5]! << 8) | (bytes[i + 6]! << 16) | (bytes[i + 7]! << 24);
    c = t[1792 + (lo & 0xff)]! ^ t[1536 + ((lo >>> 8) & 0xff)]! ^ t[1280 + ((lo >>> 16) & 0xff)]! ^ t[1024 + (lo >>> 24)]! ^
      t[768 + (hi & 0xff)]! ^ t[512 + ((hi >>> 8) & 0xff)]! ^ t[256 + ((hi >>> 16) & 0xff)]! ^ t[hi >>> 24]!;
  }
  for (; i < end; i++) c = t[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
