import { describe, expect, test } from "bun:test";
import { knownSymbols } from "./symbols.ts";

describe("known symbols", () => {
  test("read again only after a second, when asked fresh, when the clock goes back, or after a failure", async () => {
    let now = 10_000;
    let reads = 0;
    let fail = false;
    const list = knownSymbols(async () => {
      reads++;
      if (fail) throw new Error("store down");
      return [`S${reads}`];
    }, () => now);
    expect(await list()).toEqual(["S1"]);
    now += 999;
    expect(await list()).toEqual(["S1"]);
    now += 1;
    expect(await list()).toEqual(["S2"]);
    expect(await list(true)).toEqual(["S3"]);
    now -= 5;
    expect(await list()).toEqual(["S4"]);
    fail = true;
    expect(await list(true).catch((e: Error) => e.message)).toBe("store down");
    fail = false;
    // The failed read is not kept: the next call reads at once.
    expect(await list()).toEqual(["S6"]);
    expect(reads).toBe(6);
  });
});
