import { expect, test } from "bun:test";
import type { Trade } from "../../lib/types.ts";
import { feed } from "./feed.ts";

const batch = (n: number): Trade[] =>
  Array.from({ length: n }, (_, i) => ({ symbol: "BTCUSDT", id: i, price: "1", qty: "1", ts: 1_723_161_255_342, side: "buy" }));

test("backlog counts queued trades until the sink takes them; below() waits for the drain", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const taken: number[] = [];
  const out = feed(async (trades) => {
    await gate;
    taken.push(trades.length);
  }, () => {});
  out.push(batch(3));
  out.push(batch(4));
  expect(out.backlog).toBe(7);
  let drained = false;
  const waiting = out.below(0).then(() => (drained = true));
  await Bun.sleep(5);
  expect(drained).toBe(false);
  release();
  await waiting;
  expect(out.backlog).toBe(0);
  expect(taken).toEqual([3, 4]);
});

test("a failing sink releases waiters and drops later batches", async () => {
  const errors: unknown[] = [];
  const out = feed(async () => {
    throw new Error("store down");
  }, (e) => errors.push(e));
  out.push(batch(2));
  await out.below(0);
  out.push(batch(2));
  await out.drained();
  expect(errors).toHaveLength(1);
  expect(out.failure).toBeInstanceOf(Error);
});
