import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Trade } from "../../lib/types.ts";
import { defaultReplayFile, RECORDED_FILE, replaySource, type ReplayOptions } from "./replay.ts";

const T0 = 1_723_161_255_342;
const dir = mkdtempSync(join(tmpdir(), "candleflow-replay-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function line(id: number, ts: number, symbol = "BTCUSDT"): string {
  const data = { e: "trade", E: ts + 1, s: symbol, t: id, p: "61837.63000000", q: "0.02000000", T: ts, m: id % 2 === 0, M: true };
  return JSON.stringify({ stream: `${symbol.toLowerCase()}@trade`, data });
}

let files = 0;
function file(lines: string[]): string {
  const path = join(dir, `r${files++}.jsonl`);
  writeFileSync(path, lines.join("\n") + "\n");
  return path;
}

/** A clock that only moves when the source sleeps, so pacing is exact. */
function fakeTime(start = 5_000_000) {
  const time = { now: start, sleeps: [] as number[] };
  const clock = () => time.now;
  const sleep = async (ms: number) => {
    time.sleeps.push(ms);
    time.now += ms;
  };
  return { time, clock, sleep };
}

async function play(options: ReplayOptions) {
  const calls: { at: number; trades: Trade[] }[] = [];
  const t = fakeTime();
  const src = replaySource({ clock: t.clock, sleep: t.sleep, ...options });
  const start = t.time.now;
  await src.start((trades) => {
    calls.push({ at: t.time.now - start, trades });
  });
  return { calls, src, time: t.time };
}

describe("replay source", () => {
  test("speed 2 halves the recorded gaps; trades due together go out as one batch", async () => {
    const path = file([line(1, T0), line(2, T0 + 1000), line(3, T0 + 1000), line(4, T0 + 3000)]);
    const { calls } = await play({ file: path, speed: 2 });
    expect(calls.map((c) => [c.at, c.trades.map((t) => t.id)])).toEqual([
      [0, [1]],
      [500, [2, 3]],
      [1500, [4]],
    ]);
    expect(calls[1]!.trades[0]).toEqual({ symbol: "BTCUSDT", id: 2, price: "61837.63000000", qty: "0.02000000", ts: T0 + 1000, side: "sell" });
  });

  test("speed 0 sends everything without waiting, in batches of batchSize", async () => {
    const path = file(Array.from({ length: 2500 }, (_, i) => line(100 + i, T0 + i * 40)));
    const { calls, time } = await play({ file: path, speed: 0, batchSize: 1000 });
    expect(calls.map((c) => c.trades.length)).toEqual([1000, 1000, 500]);
    expect(time.sleeps).toEqual([]);
    expect(calls.flatMap((c) => c.trades.map((t) => t.id))).toEqual(Array.from({ length: 2500 }, (_, i) => 100 + i));
  });

  test("looping moves each pass forward by the recording's span and its ids past the last id", async () => {
    const path = file([line(10, T0), line(11, T0 + 200), line(12, T0 + 500)]);
    const { calls } = await play({ file: path, speed: 1, loop: true, maxPasses: 3 });
    const trades = calls.flatMap((c) => c.trades);
    expect(trades.map((t) => t.id)).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18]);
    expect(trades.map((t) => t.ts - T0)).toEqual([0, 200, 500, 500, 700, 1000, 1000, 1200, 1500]);
    // Paced on one timeline across passes: each trade leaves when its shifted time comes.
    for (const c of calls) for (const t of c.trades) expect(c.at).toBe(t.ts - T0);
  });

  test("anchor end: the first pass ends now and goes out at once; later passes are paced from now", async () => {
    const path = file([line(1, T0), line(2, T0 + 400), line(3, T0 + 1000)]);
    const { calls } = await play({ file: path, speed: 1, loop: true, maxPasses: 2, anchor: "end" });
    const now = 5_000_000;
    expect(calls[0]).toEqual({ at: 0, trades: expect.any(Array) });
    expect(calls[0]!.trades.map((t) => t.ts - now)).toEqual([-1000, -600, 0]);
    const second = calls.slice(1).flatMap((c) => c.trades.map((t) => [c.at, t.ts - now]));
    expect(second).toEqual([
      [0, 0],
      [400, 400],
      [1000, 1000],
    ]);
  });

  test("anchor start: the first trade is at the clock's now", async () => {
    const path = file([line(1, T0), line(2, T0 + 250)]);
    const { calls } = await play({ file: path, speed: 0, anchor: "start" });
    expect(calls[0]!.trades.map((t) => t.ts)).toEqual([5_000_000, 5_000_250]);
  });

  test("resuming after any prefix, with the first run's shift, emits exactly the rest, across passes", async () => {
    const path = file([line(1, T0), line(7, T0 + 100, "ETHUSDT"), line(2, T0 + 100), line(8, T0 + 300, "ETHUSDT"), line(3, T0 + 400)]);
    const whole = await play({ file: path, speed: 0, loop: true, maxPasses: 3, anchor: "start" });
    const all = whole.calls.flatMap((c) => c.trades);
    const base = whole.src.base()!;
    expect(base).toBe(5_000_000 - T0);
    for (let cut = 1; cut < all.length; cut++) {
      // What a restored engine reports: the highest id per symbol among the committed prefix.
      const after: Record<string, number> = {};
      for (const t of all.slice(0, cut)) after[t.symbol] = Math.max(after[t.symbol] ?? -1, t.id);
      // Resumed later: a different clock, the recorded shift.
      const rest = await play({ file: path, speed: 0, loop: true, maxPasses: 3, anchor: "start", base, resumeAfter: after, clock: () => 9e12 });
      expect(rest.calls.flatMap((c) => c.trades)).toEqual(all.slice(cut));
    }
  });

  test("resuming after an id the recording does not hold fails loudly", async () => {
    const path = file([line(1, T0), line(2, T0 + 100)]);
    await expect(play({ file: path, speed: 0, resumeAfter: { BTCUSDT: -5 }, base: 0 })).rejects.toThrow(/cannot resume/);
  });

  test("malformed lines are counted and skipped", async () => {
    const path = file([line(1, T0), "{not json", '{"stream":"btcusdt@trade","data":{"e":"trade","s":"BTCUSDT"}}', line(2, T0 + 1)]);
    const { calls, src } = await play({ file: path, speed: 0 });
    expect(calls.flatMap((c) => c.trades.map((t) => t.id))).toEqual([1, 2]);
    expect(src.status().errors).toBe(2);
    expect(src.status().lastTradeTs).toBe(T0 + 1);
  });

  test("a trade dated far in the future (2199) is counted and skipped: it moves neither the loop's span nor later trades' times", async () => {
    const path = file([line(1, T0), line(2, Date.UTC(2199, 0, 1)), line(3, T0 + 1000), line(4, T0 + 2000)]);
    const { calls, src } = await play({ file: path, speed: 0, loop: true, maxPasses: 2, notAfter: Date.now() + 60_000 });
    const trades = calls.flatMap((c) => c.trades);
    expect(trades.map((t) => t.id)).toEqual([1, 3, 4, 5, 7, 8]);
    expect(trades.map((t) => t.ts - T0)).toEqual([0, 1000, 2000, 2000, 3000, 4000]);
    expect(src.status().errors).toBe(1);
    expect(src.status().lastError).toContain("2199");
  });

  test("stop() interrupts a long wait and ends start()", async () => {
    const path = file([line(1, T0), line(2, T0 + 3_600_000)]);
    const src = replaySource({ file: path, speed: 1 });
    const got: number[] = [];
    const run = src.start((trades) => {
      got.push(...trades.map((t) => t.id));
    });
    while (got.length === 0) await Bun.sleep(1);
    const began = performance.now();
    await src.stop();
    await run;
    expect(performance.now() - began).toBeLessThan(1000);
    expect(got).toEqual([1]);
  });

  test("a missing file rejects start with the path in the message", async () => {
    const src = replaySource({ file: join(dir, "nope.jsonl"), speed: 0 });
    await expect(src.start(() => {})).rejects.toThrow("nope.jsonl");
  });

  const recorded = existsSync(RECORDED_FILE);
  if (!recorded) console.warn(`replay.test: ${RECORDED_FILE} is absent; skipping the real-recording replay`);
  test.skipIf(!recorded)("the real recording is the default and replays twice with contiguous ids", async () => {
    expect(defaultReplayFile()).toBe(RECORDED_FILE);
    const { calls, src } = await play({ speed: 0, loop: true, maxPasses: 2 });
    const ids = calls.flatMap((c) => c.trades.map((t) => t.id));
    expect(ids.length).toBe(2 * 19_904);
    expect(ids[0]).toBe(3_735_683_259);
    expect(ids.every((id, i) => id === 3_735_683_259 + i)).toBe(true);
    expect(src.status().errors).toBe(0);
    const first = calls[0]!.trades[0]!;
    expect(first).toEqual({ symbol: "BTCUSDT", id: 3_735_683_259, price: "61837.63000000", qty: "0.02000000", ts: 1_723_161_255_342, side: "sell" });
  });
});
