import { expect, test } from "bun:test";
import fc from "fast-check";
import { crc32, Reader, Writer } from "./codec.ts";

test("varints round-trip over the whole safe range, byte-for-byte LEB128", () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.nat(200), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })), { maxLength: 50 }), (values) => {
      const w = new Writer();
      for (const v of values) w.uint(v);
      const bytes = w.bytes();
      const r = new Reader(bytes);
      expect(values.map(() => r.uint())).toEqual(values);
      expect(r.done()).toBe(true);
      // Reference LEB128 with plain arithmetic.
      const reference: number[] = [];
      for (let v of values) {
        while (v >= 128) {
          reference.push((v % 128) | 128);
          v = Math.floor(v / 128);
        }
        reference.push(v);
      }
      expect([...bytes]).toEqual(reference);
    }),
  );
});

test("strings round-trip, ASCII and not", () => {
  const w = new Writer();
  const texts = ["", "BTCUSDT", "61837.63", "ü€𝄞", "x".repeat(300)];
  for (const t of texts) w.str(t);
  const r = new Reader(w.bytes());
  expect(texts.map(() => r.str())).toEqual(texts);
});

test("crc32 matches the standard check value and a bytewise reference", () => {
  expect(crc32(new TextEncoder().encode("123456789"))).toBe(0xcbf43926);
  const bytewise = (b: Uint8Array) => {
    let c = 0xffffffff;
    for (const x of b) {
      c ^= x;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    }
    return (c ^ 0xffffffff) >>> 0;
  };
  fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), (b) => expect(crc32(b)).toBe(bytewise(b))));
  // Only the first `end` bytes count, whatever follows them.
  fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), fc.nat(100), (b, n) => {
    const end = Math.min(n, b.length);
    expect(crc32(b, end)).toBe(bytewise(b.subarray(0, end)));
  }));
});
