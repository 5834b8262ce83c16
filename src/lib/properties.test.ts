import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { Engine } from "./engine.ts";
import type { EngineEvent, EngineOptions, Trade } from "./types.ts";

const T0 = Date.UTC(2024, 7, 8, 23, 58, 0);
const BOUND = 10_000;
const OPTIONS: EngineOptions = {
  intervals: ["1m", "5m"],
  outOfOrderness: BOUND,
  rules: { default: { whale: { notional: 5_000 }, priceMove: { percent: 0.5, zScore: 1.5, lookback: 3 }, volumeSpike: { factor: 2, lookback: 3 }, gap: {} } },
};

/** A stream of trades over a few symbols: ids rise by one per symbol (with some skipped), times rise. */
const streamArb = fc
  .array(
    fc.record({
      symbol: fc.constantFrom("BTCUSDT", "ETHUSDT", "XRPETH"),
      dt: fc.integer({ min: 0, max: 9_000 }),
      skip: fc.constantFrom(0, 0, 0, 0, 0, 0, 0, 0, 1, 3),
      price: fc.integer({ min: 1, max: 9_999_999 }),
      priceScale: fc.integer({ min: 0, max: 8 }),
      qty: fc.integer({ min: 1, max: 99_999_999 }),
      qtyScale: fc.integer({ min: 0, max: 8 }),
      buy: fc.boolean(),
      delay: fc.integer({ min: 0, max: BOUND - 1 }),
    }),
    { minLength: 1, maxLength: 120 },
  )
  .map((rows) => {
    const ids: Record<string, number> = {};
    let ts = T0;
    return rows.map((r) => {
      ts += r.dt;
      ids[r.symbol] = (ids[r.symbol] ?? 1000) + 1 + r.skip;
      const trade: Trade = {
        symbol: r.symbol, id: ids[r.symbol]!, ts, side: r.buy ? "buy" : "sell",
        price: decimal(r.price, r.priceScale), qty: decimal(r.qty, r.qtyScale),
      };
      return { trade, arrival: ts + r.delay };
    });
  });

function decimal(m: number, scale: number): string {
  const s = String(m).padStart(scale + 1, "0");
  return scale === 0 ? s : `${s.slice(0, -scale)}.${s.slice(-scale)}`;
}

/** Everything but open-candle updates, in a canonical order. */
function settled(events: EngineEvent[]): string[] {
  return events
    .filter((e) => e.type !== "update")
    .map((e) => JSON.stringify(e))
    .sort();
}

function run(trades: Trade[], options = OPTIONS): { events: EngineEvent[]; engine: Engine } {
  const engine = new Engine(options);
  const events: EngineEvent[] = [];
  for (const t of trades) events.push(...engine.ingest(t));
  events.push(...engine.flush());
  return { events, engine };
}

describe("properties", () => {
  test("shuffling trades within the out-of-orderness bound leaves finals and alerts unchanged", () => {
    fc.assert(
      fc.property(streamArb, (rows) => {
        const ordered = rows.map((r) => r.trade);
        // Arrival = time + a delay under the bound: no trade arrives after the watermark passed it.
        const shuffled = [...rows].sort((a, b) => a.arrival - b.arrival).map((r) => r.trade);
        const a = run(ordered);
        const b = run(shuffled);
        expect(settled(b.events)).toEqual(settled(a.events));
        expect(b.engine.stats()).toEqual(a.engine.stats());
      }),
      { numRuns: 150 },
    );
  });

  test("duplicates change nothing but the duplicate count", () => {
    fc.assert(
      fc.property(streamArb, fc.array(fc.nat(), { maxLength: 30 }), (rows, picks) => {
        const trades = rows.map((r) => r.trade);
        const withDupes = [...trades];
        for (const p of picks) {
          const original = trades[p % trades.length]!;
          // Re-deliver it a few trades later, within the bound (as a reconnect or backfill would).
          let at = withDupes.indexOf(original) + 1;
          for (let step = p % 5; step > 0 && at < withDupes.length && withDupes[at]!.ts < original.ts + BOUND; step--) at++;
          withDupes.splice(at, 0, { ...original });
        }
        const a = run(trades);
        const b = run(withDupes);
        expect(settled(b.events)).toEqual(settled(a.events));
        expect({ ...b.engine.stats(), duplicates: 0 }).toEqual({ ...a.engine.stats(), duplicates: 0 });
        expect(b.engine.stats().duplicates).toBe(withDupes.length - trades.length);
      }),
      { numRuns: 150 },
    );
  });

  test("for every cut point: run to the cut, snapshot, restore, run the rest = the uninterrupted run", () => {
    fc.assert(
      fc.property(streamArb, fc.boolean(), (rows, flat) => {
        const options: EngineOptions = { ...OPTIONS, empty: flat ? "flat" : "skip", allowedLateness: flat ? 20_000 : 0 };
        const trades = [...rows].sort((a, b) => a.arrival - b.arrival).map((r) => r.trade);
        const whole = run(trades, options);
        const finalBytes = Buffer.from(whole.engine.snapshot());
        for (let cut = 0; cut <= trades.length; cut++) {
          const first = new Engine(options);
          const events: EngineEvent[] = [];
          for (const t of trades.slice(0, cut)) events.push(...first.ingest(t));
          const resumed = Engine.restore(first.snapshot(`cut=${cut}`));
          for (const t of trades.slice(cut)) events.push(...resumed.ingest(t));
          events.push(...resumed.flush());
          expect(events).toEqual(whole.events);
          expect(resumed.offsets).toBe(`cut=${cut}`);
          resumed.offsets = undefined;
          expect(Buffer.from(resumed.snapshot()).equals(finalBytes)).toBe(true);
        }
      }),
      { numRuns: 40 },
    );
  });

  test("rolling larger windows up from panes equals computing each interval on its own, late trades included", () => {
    const lateArb = fc.array(
      fc.record({ dt: fc.integer({ min: 0, max: 20_000 }), delay: fc.integer({ min: 0, max: 4 * BOUND }), skip: fc.constantFrom(0, 0, 0, 2), p: fc.integer({ min: 1, max: 999 }) }),
      { minLength: 1, maxLength: 150 },
    );
    fc.assert(
      fc.property(lateArb, fc.constantFrom(0, 20_000, 90_000), fc.constantFrom("skip", "flat"), (rows, allowedLateness, empty) => {
        let ts = T0;
        let id = 0;
        const trades = rows
          .map((r) => {
            ts += r.dt;
            id += 1 + r.skip;
            const trade: Trade = { symbol: "BTCUSDT", id, ts, price: `${r.p}.5`, qty: `0.${r.p}`, side: r.p % 2 ? "buy" : "sell" };
            return { trade, arrival: ts + r.delay };
          })
          .sort((a, b) => a.arrival - b.arrival)
          .map((r) => r.trade);
        const base = { outOfOrderness: BOUND, allowedLateness, empty: empty as "skip" | "flat" };
        const together = run(trades, { ...base, intervals: ["1m", "5m", "15m"] }).events;
        const apart = ["1m", "5m", "15m"].flatMap((interval) => run(trades, { ...base, intervals: [interval] }).events);
        expect(settled(together)).toEqual(settled(apart));
      }),
      { numRuns: 300 },
    );
  });
});
