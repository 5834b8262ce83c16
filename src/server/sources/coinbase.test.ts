import { afterEach, describe, expect, test } from "bun:test";
import type { Trade } from "../../lib/types.ts";
import { fakeCoinbase, type FakeCoinbase, type RawMatch } from "../testing/coinbase.ts";
import { until } from "../testing/wait.ts";
import { coinbaseSource, fromMatch } from "./coinbase.ts";
import type { Source } from "./types.ts";

const fast = { backoff: { baseMs: 5, maxMs: 20 }, idleMs: 0, resubscribeMs: 0 };

let fake: FakeCoinbase | undefined;
let source: Source | undefined;
afterEach(async () => {
  await source?.stop();
  await fake?.close();
  source = fake = undefined;
});

function collect(src: Source): Trade[] {
  const got: Trade[] = [];
  void src.start((trades) => {
    got.push(...trades);
  });
  return got;
}

const ids = (ms: readonly RawMatch[]) => ms.map((m) => m.trade_id);

describe("coinbase source against a local fake exchange", () => {
  test("a match becomes a trade with the taker's side and millisecond time", () => {
    const trade = fromMatch("BTC-USD", {
      type: "match",
      trade_id: 10,
      sequence: 50,
      product_id: "BTC-USD",
      price: "59000.01",
      size: "0.00100000",
      side: "buy",
      time: "2024-08-09T00:00:01.123987Z",
    });
    expect(trade).toEqual({ symbol: "BTC-USD", id: 10, price: "59000.01", qty: "0.00100000", ts: Date.UTC(2024, 7, 9, 0, 0, 1, 123), side: "sell" });
  });

  test("live matches arrive in order; sequence jumps between matches are not gaps", async () => {
    fake = fakeCoinbase();
    source = coinbaseSource({ products: ["BTC-USD"], wsUrl: fake.wsUrl, restUrl: fake.restUrl, ...fast });
    const got = collect(source);
    await until(() => fake!.subscribes.length === 1, "subscribe");
    expect(fake.subscribes[0]!.channels).toContain("matches");
    fake.emit(200);
    await until(() => got.length === 200, "200 matches");
    expect(got.map((t) => t.id)).toEqual(ids(fake.history));
    expect(got[0]!.side).toBe("sell"); // maker bought, so the taker sold
    expect(got[1]!.side).toBe("buy");
    expect(source.status().gaps).toBe(0);
    expect(fake.subscribes.length).toBe(1);
  });

  test("a skipped trade_id is counted, triggers a resubscribe and is filled from REST", async () => {
    fake = fakeCoinbase();
    source = coinbaseSource({ products: ["BTC-USD"], wsUrl: fake.wsUrl, restUrl: fake.restUrl, restLimit: 7, ...fast });
    const got = collect(source);
    await until(() => fake!.subscribes.length === 1, "subscribe");
    fake.emit(100);
    fake.skip(30);
    fake.emit(20);
    await until(() => got.length === 150, "150 trades");
    expect(got.map((t) => t.id)).toEqual(ids(fake.history));
    expect(got.slice(100, 130)).toEqual(fake.history.slice(100, 130).map((m) => fromMatch("BTC-USD", m)));
    const status = source.status();
    expect(status.gaps).toBe(1);
    expect(status.backfilled).toBe(30);
    await until(() => fake!.subscribes.length === 2, "resubscribe");
    expect(fake.subscribes[1]!.product_ids).toEqual(["BTC-USD"]);
  });

  test("repeated messages are dropped; a dropped connection reconnects and fills what it missed", async () => {
    fake = fakeCoinbase();
    source = coinbaseSource({ products: ["BTC-USD"], wsUrl: fake.wsUrl, restUrl: fake.restUrl, restLimit: 25, ...fast });
    const got = collect(source);
    await until(() => fake!.subscribes.length === 1, "subscribe");
    fake.emit(50);
    fake.repeat(10);
    await until(() => got.length === 50, "50 trades");
    fake.drop();
    fake.skip(80);
    await until(() => fake!.subscribes.length === 2, "resubscribe after reconnect");
    fake.emit(10);
    await until(() => got.length === 140, "140 trades");
    expect(got.map((t) => t.id)).toEqual(ids(fake.history));
    expect(source.status().reconnects).toBeGreaterThanOrEqual(1);
    expect(source.status().backfilled).toBeGreaterThanOrEqual(79);
  });

  test("an error message from the exchange is counted and reported", async () => {
    fake = fakeCoinbase("BTC-USD");
    source = coinbaseSource({ products: ["DOGE-XYZ"], wsUrl: fake.wsUrl, restUrl: fake.restUrl, ...fast });
    collect(source);
    await until(() => source!.status().errors > 0, "error status");
    expect(source.status().lastError).toContain("Failed to subscribe");
  });
});
