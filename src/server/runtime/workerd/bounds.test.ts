/**
 * Work per call into an object, bounded for the platform's CPU time per invocation: ingest
 * splits a request into calls of `TRADES_PER_CALL` trades, the scheduled pull asks for pages of
 * at most that many, and the next run goes on where the last commit left off.
 */
import { afterAll, expect, test } from "bun:test";
import { fakeBinance, generateTrades } from "../../testing/binance.ts";
import { TRADES_PER_CALL } from "./env.ts";
import { cleanup, expectParity, fromRaw, ingest, start, stop } from "./harness.ts";

afterAll(cleanup);

const trades = generateTrades(4500, "BTCUSDT").map(fromRaw);

test("an ingest request is aggregated in calls of TRADES_PER_CALL trades: the answer sums them, the candles are the same", async () => {
  const whole = await start({ SYMBOLS: "BTCUSDT" });
  const once = (await ingest(whole, trades)).body.symbols.BTCUSDT;
  await stop(whole);
  const mf = await start({ SYMBOLS: "BTCUSDT", TRADES_PER_CALL: "1000" });
  const split = await ingest(mf, trades);
  expect(split.status).toBe(200);
  const r = split.body.symbols.BTCUSDT;
  expect(r).toMatchObject({ trades: 4500, duplicates: 0, late: 0, rejected: 0 });
  // One call writes each window it touched once; five calls write a window each of them touched.
  expect(once.candles).toBeLessThan(r.candles);
  await expectParity(mf, trades);
  await stop(mf);
});

test("the scheduled pull asks for pages of TRADES_PER_CALL rows when that is under the exchange's 1000, and goes on in the next run", async () => {
  const raw = generateTrades(1000, "BTCUSDT", 5_000_000);
  const fake = fakeBinance(raw);
  try {
    const mf = await start({ SYMBOLS: "BTCUSDT", EXCHANGE_REST_URL: fake.restUrl, PULL_PAGES: "2", TRADES_PER_CALL: "300" });
    const worker = (await mf.getWorker()) as unknown as { scheduled(options: { cron: string }): Promise<unknown> };
    const run = async () => {
      const before = fake.requests.length;
      await worker.scheduled({ cron: "* * * * *" });
      return fake.requests.slice(before);
    };
    fake.emit(300);
    expect(await run()).toEqual(["/api/v3/aggTrades?symbol=BTCUSDT&limit=300", "/api/v3/aggTrades?symbol=BTCUSDT&fromId=5000300&limit=300"]);
    fake.emit(raw.length);
    // Two pages a run (PULL_PAGES), one call each: 600 trades, then the rest in the next run.
    expect(await run()).toEqual(["/api/v3/aggTrades?symbol=BTCUSDT&fromId=5000300&limit=300", "/api/v3/aggTrades?symbol=BTCUSDT&fromId=5000600&limit=300"]);
    expect(await run()).toEqual(["/api/v3/aggTrades?symbol=BTCUSDT&fromId=5000900&limit=300"]);
    await expectParity(mf, raw.map(fromRaw));
    await stop(mf);
  } finally {
    await fake.close();
  }
});

test("figure: CPU time per call, from the ingest rate through one object", async () => {
  const mf = await start({ SYMBOLS: "BTCUSDT" });
  const many = generateTrades(8000 * 6, "BTCUSDT").map(fromRaw);
  const body = JSON.stringify({ trades: many.slice(0, 8000) });
  expect(body.length).toBeLessThan(1024 * 1024);
  await ingest(mf, many.slice(0, 8000));
  const t0 = performance.now();
  for (let i = 1; i < 6; i++) expect((await ingest(mf, many.slice(i * 8000, (i + 1) * 8000))).status).toBe(200);
  const ms = (performance.now() - t0) / 5;
  const perSecond = 8000 / (ms / 1000);
  console.log(
    `ingest of 8000 trades (${(body.length / 1024).toFixed(0)} KiB, under the 1 MiB body limit) in calls of ${TRADES_PER_CALL}: ${ms.toFixed(0)} ms a request, ` +
      `${Math.round(perSecond)} trades/s, so at most ${((TRADES_PER_CALL / perSecond) * 1000).toFixed(0)} ms of CPU per call (wall time here, CPU included)`,
  );
  await stop(mf);
}, 60_000);
