import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { TradeBatch } from "../../lib/batch.ts";
import { tradeInto, tradeRecord } from "./wire.ts";
import { scanWireTrade } from "./wire-scan.ts";

/** What a batch holds: rows, columns, rejections (with the trade objects they keep). */
function contents(batch: TradeBatch) {
  const n = batch.length;
  const col = (a: ArrayLike<number>) => Array.from(a).slice(0, n);
  return {
    names: batch.names, sym: col(batch.sym), id: col(batch.id), ts: col(batch.ts), pm: col(batch.pm), pe: col(batch.pe),
    qm: col(batch.qm), qe: col(batch.qe), buy: col(batch.buy), count: col(batch.count), rejected: batch.rejected,
  };
}

/** The full way: JSON.parse and the type checks, then the batch's own checks of a trade object. */
function fullWay(texts: string[]) {
  const batch = new TradeBatch(16);
  const poison = texts.map((raw, offset) => {
    const r = tradeRecord(offset, raw);
    if (!("trade" in r)) return r;
    batch.push(r.trade);
    return undefined;
  });
  return { poison, batch: contents(batch) };
}

function scanned(texts: string[]) {
  const batch = new TradeBatch(16);
  const poison = texts.map((raw, offset) => tradeInto(offset, raw, batch));
  return { poison, batch: contents(batch) };
}

const value = fc.oneof(
  fc.constantFrom("BTCUSDT", "ETHUSDT", "", "S".repeat(65), "<b>", "b\"q", "é", 0, -1, 1.5, null, true, "0", "1.50000000", "61837.63", ".5", "5.", "1e5", "-1", "0.0000000000000000001", "12345678901234567", "buy", "sell", "BUY"),
  fc.integer({ min: 0, max: 5_000_000_000 }),
  fc.constantFrom(1_723_161_255_342, 1_723_161_255_342_000, 1_723_161_255_342_000_000, 12, 0, 2 ** 53),
  fc.tuple(fc.integer({ min: 0, max: 99_999 }), fc.integer({ min: 0, max: 99_999_999 })).map(([a, b]) => `${a}.${String(b).padStart(8, "0")}`),
);
const key = fc.constantFrom("symbol", "id", "price", "qty", "ts", "side", "count", "extra");
/** Trade-shaped objects, mostly right, in any key order, with wrong values and extra keys now and then. */
const record = fc.tuple(
  fc.record({
    symbol: fc.constantFrom("BTCUSDT", "ETHUSDT", "XRPETH"),
    id: fc.integer({ min: 0, max: 5_000_000_000 }),
    price: fc.constantFrom("61837.63000000", "0.00141342", "100", "1.10"),
    qty: fc.constantFrom("0.02000000", "23.00000000", "0.1", "5"),
    ts: fc.constantFrom(1_723_161_255_342, 1_723_161_255_343),
    side: fc.constantFrom("buy", "sell"),
    count: fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }),
  }),
  fc.array(fc.tuple(key, value), { maxLength: 2 }),
  fc.array(fc.nat(7), { maxLength: 7 }),
).map(([t, changes, order]) => {
  const o: Record<string, unknown> = { ...t };
  if (o.count === undefined) delete o.count;
  for (const [k, v] of changes) o[k] = v;
  const keys = Object.keys(o);
  for (const i of order) if (i < keys.length) keys.push(...keys.splice(i, 1));
  return JSON.stringify(Object.fromEntries(keys.map((k) => [k, o[k]])));
});
const text = fc.oneof(
  { weight: 6, arbitrary: record },
  // The same text cut, or with a character changed, spaces added, a key repeated.
  { weight: 2, arbitrary: fc.tuple(record, fc.nat(200), fc.constantFrom("", " ", "}", ",", '"', "\\", "0", '"id":1,')).map(([r, at, c]) => r.slice(0, at % (r.length + 1)) + c + r.slice(at % (r.length + 1) + (c === "" ? 1 : 0))) },
  { weight: 1, arbitrary: fc.constantFrom("", "{}", "[1]", "null", "not json", '{"symbol":"BTCUSDT","symbol":"ETHUSDT","id":1,"price":"1","qty":"1","ts":1723161255342,"side":"buy"}') },
);

describe("wire scanner", () => {
  test("records scanned in place give the same rows, rejections and poison as JSON.parse then push", () => {
    fc.assert(
      fc.property(fc.array(text, { maxLength: 30 }), (texts) => {
        expect(scanned(texts)).toEqual(fullWay(texts));
      }),
      { numRuns: 3000 },
    );
  });

  test("the appenders' own records are scanned, whatever their key order", () => {
    const batch = new TradeBatch();
    const texts = [
      JSON.stringify({ symbol: "BTCUSDT", id: 7, price: "61837.63000000", qty: "0.02000000", ts: 1_723_161_255_342, side: "sell" }),
      JSON.stringify({ side: "buy", ts: 1_723_161_255_343, qty: "5", price: "0.00141342", id: 8, symbol: "XRPETH", count: 3 }),
    ];
    for (const t of texts) expect(scanWireTrade(t, batch)).toBe(true);
    expect(batch.rejected).toEqual([]);
    expect([batch.pm[0], batch.pe[0], batch.qm[0], batch.qe[0], batch.buy[0], batch.count[0]]).toEqual([6183763, 2, 2, 2, 0, 1]);
    expect([batch.pm[1], batch.pe[1], batch.qm[1], batch.qe[1], batch.buy[1], batch.count[1]]).toEqual([141342, 8, 5, 0, 1, 3]);
  });
});
