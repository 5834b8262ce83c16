import { describe, expect, test } from "bun:test";
import { CandleflowError } from "./errors.ts";
import { Engine } from "./engine.ts";
import type { Trade } from "./types.ts";

const T0 = Date.UTC(2024, 7, 8, 12, 0, 0);
const trades: Trade[] = [
  { symbol: "ETHUSDT", id: 10, price: "2612.5", qty: "0.5", ts: T0 + 1_000, side: "buy" },
  { symbol: "BTCUSDT", id: 7, price: "61837.63", qty: "0.02", ts: T0 + 2_000, side: "sell" },
  { symbol: "BTCUSDT", id: 9, price: "61840", qty: "1.5", ts: T0 + 61_000, side: "buy" },
];
const options = { intervals: ["1m", "5m"], allowedLateness: 5_000, rules: { default: { whale: { notional: 50_000 }, gap: {} } } };
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

function sample(): Engine {
  const e = new Engine(options);
  e.ingestMany(trades);
  return e;
}

const code = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    if (e instanceof CandleflowError) return e.code;
    throw e;
  }
  return "no error";
};

describe("checkpoint bytes", () => {
  test("golden bytes: the format does not change by accident", () => {
    // If this changes on purpose, bump CHECKPOINT_VERSION and keep reading the old one.
    expect(hex(sample().snapshot("kafka:0=42"))).toBe(GOLDEN);
  });

  test("each snapshot owns its bytes: the next one, smaller or larger, leaves it as it was", () => {
    const e = sample();
    const first = e.snapshot("kafka:0=42");
    const kept = hex(first);
    const big = new Engine(options);
    big.ingestMany(Array.from({ length: 300 }, (_, i) => ({ ...trades[0]!, symbol: `S${i}USDT`, id: i })));
    expect(big.snapshot().length).toBeGreaterThan(first.length * 10);
    e.ingest({ ...trades[2]!, id: 11, ts: T0 + 62_000 });
    const second = e.snapshot("kafka:0=43");
    expect(hex(first)).toBe(kept);
    expect(second.byteLength).toBe(second.buffer.byteLength);
    expect(Engine.restore(first).snapshot("kafka:0=42")).toEqual(first);
  });

  test("same state, same bytes, whatever the order symbols arrived in", () => {
    const a = new Engine(options);
    a.ingestMany(trades);
    const b = new Engine(options);
    b.ingestMany([trades[1]!, trades[0]!, trades[2]!]);
    expect(hex(b.snapshot())).toBe(hex(a.snapshot()));
  });

  test("restore carries offsets and counters, and re-snapshots to the same bytes", () => {
    const bytes = sample().snapshot("kafka:0=42");
    const r = Engine.restore(bytes);
    expect(r.offsets).toBe("kafka:0=42");
    expect(r.stats()).toEqual(sample().stats());
    expect(hex(r.snapshot())).toBe(hex(bytes));
  });

  test("positions: the highest id and latest time per symbol, the same after restore", () => {
    const e = sample();
    expect(e.positions()).toEqual({ BTCUSDT: { id: 9, ts: T0 + 61_000 }, ETHUSDT: { id: 10, ts: T0 + 1_000 } });
    expect(Engine.restore(e.snapshot()).positions()).toEqual(e.positions());
  });

  test("a restored engine emits what the original emits", () => {
    const a = sample();
    const b = Engine.restore(a.snapshot());
    const more: Trade[] = [
      { symbol: "BTCUSDT", id: 8, price: "61000", qty: "3", ts: T0 + 3_000, side: "buy" }, // fills the gap: revision
      { symbol: "BTCUSDT", id: 12, price: "61900", qty: "0.1", ts: T0 + 400_000, side: "sell" },
    ];
    expect(b.ingestMany(more)).toEqual(a.ingestMany(more));
    expect(b.flush()).toEqual(a.flush());
    expect(hex(b.snapshot())).toBe(hex(a.snapshot()));
  });
});

describe("bad checkpoints are refused whole, with a typed error", () => {
  const bytes = sample().snapshot();

  test("every single flipped byte is caught", () => {
    for (let i = 0; i < bytes.length; i++) {
      const bad = bytes.slice();
      bad[i]! ^= 0x5a;
      expect(["CHECKPOINT_CORRUPT", "CHECKPOINT_VERSION", "CHECKPOINT_TRUNCATED"]).toContain(code(() => Engine.restore(bad)));
    }
  });

  test("every truncation is caught", () => {
    for (let n = 0; n < bytes.length; n++) {
      expect(["CHECKPOINT_CORRUPT", "CHECKPOINT_TRUNCATED"]).toContain(code(() => Engine.restore(bytes.slice(0, n))));
    }
    expect(code(() => Engine.restore(bytes.slice(0, bytes.length - 1)))).toBe("CHECKPOINT_TRUNCATED");
  });

  test("an unknown version says so", () => {
    const v2 = bytes.slice();
    v2[4] = 2;
    expect(code(() => Engine.restore(v2))).toBe("CHECKPOINT_VERSION");
  });

  test("trailing bytes, garbage and non-bytes are corrupt", () => {
    const longer = new Uint8Array(bytes.length + 1);
    longer.set(bytes);
    expect(code(() => Engine.restore(longer))).toBe("CHECKPOINT_CORRUPT");
    expect(code(() => Engine.restore(new TextEncoder().encode("{\"hello\":1}")))).toBe("CHECKPOINT_CORRUPT");
    expect(code(() => Engine.restore("CFCK" as never))).toBe("CHECKPOINT_CORRUPT");
  });
});

const GOLDEN =
  "4346434b0119020000bb017b22616c6c6f7765644c6174656e657373223a353030302c22656d707479223a22736b6970222c22696e74657276616c73223a5b22316d222c22356d225d2c226d6178496447617073223a343039362c226f6666736574223a302c226f75744f664f726465726e657373223a31303030302c2272756c6573223a7b2264656661756c74223a7b22676170223a7b7d2c227768616c65223a7b226e6f74696f6e616c223a35303030307d7d7d2c2275706461746573223a747275657d010a6b61666b613a303d34320300000000000100020742544355534454008004d21d137942008093cf1d1379420a0800009dc31d137942010808008004d21d1379420000000100000002000020c31d137942010000d00f07d3b6f90202d00f07d3b6f90202d3b6f90202d3b6f90202020200a6edf20504000000000000000000c6d11d137942010000e8070990e30300e8070990e3030090e3030090e303000f0100f0ce3801000f0100f0ce3801000000000001000020c31d13794200000000000000000000000000000000000000000000000000000000074554485553445400805ec31d1379420080edc01d1379420b0b00805ec31d1379420000000100000001000020c31d137942010000e8070a8dcc0101e8070a8dcc01018dcc01018dcc0101050100c1fc070200050100c1fc0702000000000001000020c31d137942000000000000000000000000000000000000000000000000000000005643355e";
