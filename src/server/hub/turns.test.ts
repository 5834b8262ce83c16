import { describe, expect, test } from "bun:test";
import { turns } from "./turns.ts";

describe("snapshot read turns", () => {
  test("reads run one at a time, oldest first; a key queued again keeps its place; a dropped one never runs", async () => {
    const errors: unknown[] = [];
    const q = turns<string>((e) => errors.push(e));
    const log: string[] = [];
    let running = 0;
    const read = (name: string) => async () => {
      expect(++running).toBe(1);
      await Bun.sleep(2);
      log.push(name);
      running--;
    };
    q.take("a", read("a"));
    q.take("b", read("b1"));
    q.take("c", read("c"));
    q.take("d", read("d"));
    q.take("b", read("b2"));
    q.drop("c");
    await q.settled();
    expect(log).toEqual(["a", "b2", "d"]);
    expect(errors).toEqual([]);
  });

  test("a read that fails is reported and the queue goes on", async () => {
    const errors: unknown[] = [];
    const q = turns<number>((e) => errors.push(e));
    const done: number[] = [];
    q.take(1, async () => {
      throw new Error("store down");
    });
    q.take(2, async () => void done.push(2));
    await q.settled();
    expect(done).toEqual([2]);
    expect(errors.map((e) => (e as Error).message)).toEqual(["store down"]);
    // Idle again: a new read starts a new run.
    q.take(3, async () => void done.push(3));
    await q.settled();
    expect(done).toEqual([2, 3]);
  });
});
