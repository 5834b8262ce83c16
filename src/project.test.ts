import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { firstLines, replay, type ReplayResult } from "../scripts/deno-check.ts";

// Whole-project checks: the sources type-check, the library builds to dist/, and the core
// gives the same candles and the same snapshot bytes on Node (built package) and Deno as on Bun.

const ROOT = join(import.meta.dir, "..");
const CI = !!process.env.CI && process.env.CI !== "false" && process.env.CI !== "0";
const SLOW = 180_000;

const SHARED_STREAM = join(ROOT, "../shared/fixtures/binance-spot-btcusdt-2024-08-08/trades.ws.jsonl");
const OWN_STREAM = join(ROOT, "fixtures/replay.ws.jsonl");
const stream = [SHARED_STREAM, OWN_STREAM].find((p) => existsSync(p));
if (!stream) console.warn(`[skip] no recorded stream at ${SHARED_STREAM} or ${OWN_STREAM}: runtime comparisons skipped`);

const node = Bun.which("node");
const deno = Bun.which("deno");
if (!node && !CI) console.warn("[skip] node not found: the Node check of the built package is skipped");
if (!deno && !CI) console.warn("[skip] deno not found: the Deno check is skipped");

/** Runs a command in the project root; returns its exit code and combined output. */
function run(cmd: string[]): { code: number; out: string } {
  const p = Bun.spawnSync(cmd, { cwd: ROOT, stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
  return { code: p.exitCode ?? -1, out: p.stdout.toString() + p.stderr.toString() };
}

/** Runs a command that must succeed and print JSON; shows its output when it does not. */
function runJson(cmd: string[]): unknown {
  const { code, out } = run(cmd);
  if (code !== 0) console.error(`$ ${cmd.join(" ")}\n${out}`);
  expect(code).toBe(0);
  return JSON.parse(out.trim().split("\n").at(-1)!);
}

/** Same computation in this process, under Bun, on the same input lines. */
function bunReplay(input: string, max: number): ReplayResult {
  const result = replay(firstLines(readFileSync(input, "utf8"), max));
  expect(result.candles.length).toBeGreaterThan(0);
  expect(result.snapshotHex.length).toBeGreaterThan(0);
  return result;
}

test(
  "tsc --noEmit -p tsconfig.json is clean",
  () => {
    const { code, out } = run([process.execPath, "x", "tsc", "--noEmit", "-p", "tsconfig.json"]);
    if (code !== 0) console.error(out);
    expect(code).toBe(0);
  },
  SLOW,
);

describe("built package", () => {
  test(
    "bun run build emits ESM .js and .d.ts with .js relative imports",
    () => {
      const { code, out } = run([process.execPath, "run", "build"]);
      if (code !== 0) console.error(out);
      expect(code).toBe(0);
      const files = readdirSync(join(ROOT, "dist"), { recursive: true }).map(String);
      expect(files).toContain("index.js");
      expect(files).toContain("index.d.ts");
      expect(files.filter((f) => f.includes(".test."))).toEqual([]);
      const tsImports: string[] = [];
      for (const f of files.filter((f) => f.endsWith(".js"))) {
        const text = readFileSync(join(ROOT, "dist", f), "utf8");
        for (const m of text.matchAll(/(?:from|import)\s*\(?\s*["'](\.[^"']*)["']/g)) {
          if (!m[1]!.endsWith(".js")) tsImports.push(`${f}: ${m[1]}`);
        }
      }
      expect(tsImports).toEqual([]);
    },
    SLOW,
  );

  test.skipIf(!stream || (!node && !CI))(
    "Node imports it by name and gives Bun's candles and snapshot bytes",
    () => {
      expect(node, "node is required in CI").toBeTruthy();
      if (!existsSync(join(ROOT, "dist/index.js"))) run([process.execPath, "run", "build"]);
      const max = 500;
      const got = runJson([node!, "scripts/node-check.mjs", stream!, String(max)]) as ReplayResult & { resolved: string };
      expect(got.resolved).toEndWith("/dist/index.js");
      const want = bunReplay(stream!, max);
      expect(got.snapshotHex).toBe(want.snapshotHex);
      expect(got.candles).toEqual(want.candles);
    },
    SLOW,
  );
});

test.skipIf(!stream || (!deno && !CI))(
  "Deno runs the sources and gives Bun's candles and snapshot bytes",
  () => {
    expect(deno, "deno is required in CI").toBeTruthy();
    const max = 5000;
    const got = runJson([deno!, "run", "--allow-read", "scripts/deno-check.ts", stream!, String(max)]) as ReplayResult;
    const want = bunReplay(stream!, max);
    expect(got.snapshotHex).toBe(want.snapshotHex);
    expect(got.candles).toEqual(want.candles);
  },
  SLOW,
);
