import { afterAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mulberry32 as random } from "./testing/random.ts";

// Kill a real processor with SIGKILL at seeded random points, restart it until it finishes,
// and require the SQLite file to hold exactly what an uninterrupted run writes.

const ROOT = join(import.meta.dir, "../..");
const ENTRY = join(import.meta.dir, "testing/processor.ts");
const RECORDED = join(ROOT, "../shared/fixtures/binance-spot-btcusdt-2024-08-08/trades.ws.jsonl");
const GENERATED = join(ROOT, "fixtures/replay.ws.jsonl");
const SOURCE = existsSync(RECORDED) ? RECORDED : existsSync(GENERATED) ? GENERATED : undefined;
if (!SOURCE) console.warn(`recovery: neither ${RECORDED} nor ${GENERATED} exists; the crash test is skipped`);
else if (SOURCE === GENERATED) console.warn(`recovery: ${RECORDED} is absent; using the project's ${GENERATED}`);

const dir = mkdtempSync(join(tmpdir(), "candleflow-recovery-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  lines: string[];
  killed: boolean;
  exitCode: number | null;
  stderr: string;
}

/**
 * Runs the processor once; with `kill`, the child SIGKILLs itself at that log offset,
 * either mid-read (before a commit) or right after a commit.
 */
async function processor(db: string, kill?: { offset: number; phase: "read" | "commit" }): Promise<Run> {
  const env = { ...process.env, CANDLEFLOW_KILL: kill ? `${kill.offset}:${kill.phase}` : "" };
  const child = Bun.spawn(["bun", ENTRY, SOURCE!, db, "500", "200", "10"], { stdout: "pipe", stderr: "pipe", env });
  const [out, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
  await child.exited;
  const lines = out.split("\n").filter((l) => l !== "");
  return { lines, killed: child.signalCode === "SIGKILL", exitCode: child.exitCode, stderr };
}

interface Row {
  interval: string;
  trades: number;
  final: number;
}

function table(db: string) {
  const d = new Database(db, { readonly: true });
  try {
    return {
      candles: d.query(`SELECT * FROM candles ORDER BY symbol, "interval", open_time`).all() as Row[],
      alerts: d.query(`SELECT * FROM alerts ORDER BY id`).all(),
      checkpoints: d.query(`SELECT key, offsets FROM checkpoints ORDER BY key`).all(),
    };
  } finally {
    d.close();
  }
}

describe("crash recovery", () => {
  test.skipIf(!SOURCE)("a processor SIGKILLed at seeded random points ends with exactly the candles of an uninterrupted run", async () => {
    const reference = join(dir, "reference.sqlite");
    const clean = await processor(reference);
    expect(clean.stderr).toBe("");
    expect(clean.exitCode).toBe(0);
    const end = Number(clean.lines.at(-1)!.split(" ")[1]);
    expect(clean.lines.at(-1)).toBe(`done ${end}`);
    const expected = table(reference);
    expect(expected.candles.length).toBeGreaterThan(0);
    expect(expected.candles.every((c) => c.final === 1)).toBe(true);
    if (SOURCE === RECORDED) {
      expect(end).toBe(19_904);
      const oneMinute = expected.candles.filter((c) => c.interval === "1m");
      expect(oneMinute.length).toBe(12);
      expect(oneMinute.reduce((n, c) => n + c.trades, 0)).toBe(19_904);
    }

    const next = random(20_240_808);
    const targets = Array.from({ length: 6 }, () => Math.floor(next() * end)).sort((a, b) => a - b);
    const crashed = join(dir, "crashed.sqlite");
    const resumes: number[] = [];
    let kills = 0;
    for (const [i, offset] of targets.entries()) {
      const run = await processor(crashed, { offset, phase: i % 2 === 0 ? "read" : "commit" });
      resumes.push(Number(run.lines[0]?.split(" ")[1]));
      if (run.killed) kills++;
      else expect(run.exitCode).toBe(0);
    }
    let last: Run | undefined;
    for (let restarts = 0; restarts < 3 && last?.exitCode !== 0; restarts++) {
      last = await processor(crashed);
      resumes.push(Number(last.lines[0]?.split(" ")[1]));
    }
    expect(last?.stderr).toBe("");
    expect(last?.exitCode).toBe(0);
    expect(last?.lines.at(-1)).toBe(`done ${end}`);

    // Every kill must really have landed mid-run, and restarts must really have resumed from checkpoints.
    expect(kills).toBe(targets.length);
    expect(resumes.filter((r) => r > 0 && r < end).length).toBeGreaterThanOrEqual(3);
    expect(table(crashed)).toEqual(expected);
  }, 120_000);
});
