import { afterEach, describe, expect, test } from "bun:test";
import type { Trade } from "../../lib/types.ts";
import { fakeCoingecko, type FakeCoingecko } from "../testing/coingecko.ts";
import { coingeckoSource, plainDecimal } from "./coingecko.ts";

let fake: FakeCoingecko | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

/**
 * Runs the source for `steps.length + 1` polls: before poll n+1, steps[n] changes the fake.
 * The injected sleep records waits and ends the run after the last step.
 */
async function run(f: FakeCoingecko, steps: (() => void)[], extra: Partial<Parameters<typeof coingeckoSource>[0]> = {}) {
  const batches: Trade[][] = [];
  const waits: number[] = [];
  let step = 0;
  const src = coingeckoSource({
    ids: ["bitcoin", "ethereum"],
    baseUrl: f.url,
    intervalMs: 15_000,
    ...extra,
    sleep: async (ms) => {
      waits.push(ms);
      if (step < steps.length) steps[step++]!();
      else void src.stop();
    },
  });
  await src.start((trades) => {
    batches.push(trades);
  });
  return { batches, waits, src };
}

describe("coingecko source against a local fake API", () => {
  test("each new price observation becomes one indicative trade; unchanged timestamps emit nothing", async () => {
    fake = fakeCoingecko();
    fake.set("bitcoin", "usd", 61837.63, 1_723_161_250);
    fake.set("ethereum", "usd", 2650.5, 1_723_161_240);
    const { batches, waits, src } = await run(fake, [
      () => {},
      () => fake!.set("bitcoin", "usd", 61790.1, 1_723_161_310),
      () => fake!.set("bitcoin", "usd", 61790.1, 1_723_161_370),
    ]);
    expect(batches).toEqual([
      [
        { symbol: "BITCOIN-USD", id: 1_723_161_250, price: "61837.63", qty: "0.00000001", ts: 1_723_161_250_000, side: "buy" },
        { symbol: "ETHEREUM-USD", id: 1_723_161_240, price: "2650.5", qty: "0.00000001", ts: 1_723_161_240_000, side: "buy" },
      ],
      [{ symbol: "BITCOIN-USD", id: 1_723_161_251, price: "61790.1", qty: "0.00000001", ts: 1_723_161_310_000, side: "sell" }],
      [{ symbol: "BITCOIN-USD", id: 1_723_161_252, price: "61790.1", qty: "0.00000001", ts: 1_723_161_370_000, side: "sell" }],
    ]);
    expect(waits).toEqual([15_000, 15_000, 15_000, 15_000]);
    expect(fake.requests[0]).toBe("/api/v3/simple/price?ids=bitcoin,ethereum&vs_currencies=usd&include_last_updated_at=true");
    const status = src.status();
    expect(status.indicative).toBe(true);
    expect(status.errors).toBe(0);
    expect(status.lastTradeTs).toBe(1_723_161_370_000);
  });

  test("a rate-limited poll waits Retry-After, is counted, and the next poll recovers", async () => {
    fake = fakeCoingecko();
    fake.set("bitcoin", "usd", 61837.63, 1_723_161_250);
    fake.failNext(429, 90);
    const { batches, waits, src } = await run(fake, [() => {}], { ids: ["bitcoin"] });
    expect(waits[0]).toBe(90_000);
    expect(batches.flat().map((t) => t.price)).toEqual(["61837.63"]);
    expect(src.status().errors).toBe(1);
    expect(src.status().lastError).toContain("429");
    expect(src.status().connected).toBe(false); // stopped
  });

  test("custom symbols, quote currency and marker quantity", async () => {
    fake = fakeCoingecko();
    fake.set("pepe", "eur", 1.23e-7, 1_723_161_250);
    const { batches } = await run(fake, [], { ids: ["pepe"], vs: "EUR", symbols: { pepe: "PEPE-EUR.CG" }, qty: "1" });
    expect(batches).toEqual([[{ symbol: "PEPE-EUR.CG", id: 1_723_161_250, price: "0.000000123", qty: "1", ts: 1_723_161_250_000, side: "buy" }]]);
  });

  test("prices print as plain decimals", () => {
    expect(plainDecimal(61837.63)).toBe("61837.63");
    expect(plainDecimal(1.23e-7)).toBe("0.000000123");
    expect(plainDecimal(5e-324)).toBe(`0.${"0".repeat(323)}5`);
    expect(plainDecimal(1.5e21)).toBe("1500000000000000000000");
    expect(plainDecimal(2.5e-5)).toBe("0.000025");
  });
});
