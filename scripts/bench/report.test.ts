import { expect, test } from "bun:test";
import { figure, median, ratio, table } from "./report.ts";

test("median takes the middle run, or the mean of the middle two", () => {
  expect(median([5, 1, 3])).toBe(3);
  expect(median([4, 1, 3, 2])).toBe(2.5);
});

test("a figure reports median, min, max and whether the target is met", () => {
  const f = figure("core", "trades/s", [9e6, 12e6, 11e6], { target: ">= 10M", goal: (m) => m >= 10e6 });
  expect([f.median, f.min, f.max, f.met]).toEqual([11e6, 9e6, 12e6, true]);
});

test("paired ratios divide run by run; unpaired ones bound the range by worst and best", () => {
  const a = figure("a", "x", [4, 6, 8]);
  const b = figure("b", "x", [2, 2, 4]);
  expect(ratio("a/b", a, b, { paired: true }).runs).toEqual([2, 3, 2]);
  const loose = ratio("a/b", a, b);
  expect([loose.median, loose.min, loose.max]).toEqual([3, 1, 4]);
});

test("the table shows one row per figure with a readable verdict", () => {
  const text = table([
    figure("core", "trades/s", [2.5e6], { target: ">= 10M", goal: (m) => m >= 10e6 }),
    figure("snapshot", "ms", [1.5], { target: "< 5", goal: (m) => m < 5 }),
  ]);
  const rows = text.split("\n");
  expect(rows).toHaveLength(4);
  expect(rows[2]).toMatch(/^core\s+2\.50M\s+2\.50M\s+2\.50M\s+trades\/s\s+>= 10M\s+NO$/);
  expect(rows[3]).toMatch(/^snapshot\s+1\.50\s.*<\s5\s+yes$/);
});
