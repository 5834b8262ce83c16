import { CandleflowError } from "./errors.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Appends little-endian primitives to a growing byte buffer. */
export class Writer {
  private buf = new Uint8Array(1024);
  private view = new DataView(this.buf.buffer);
  private pos = 0;

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
    while (v >= 128) {
      this.buf[this.pos++] = (v % 128) | 128;
      v = Math.floor(v / 128);
    }
    this.buf[this.pos++] = v;
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
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.u8();
      v += (b & 127) * mul;
      if (b < 128) {
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

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE 802.3, as in zip and PNG) of `bytes[0, end)`. */
export function crc32(bytes: Uint8Array, end = bytes.length): number {
  let c = 0xffffffff;
  for (let i = 0; i < end; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
