import { afterAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { mulberry32 as random } from "./testing/random.ts";
import { embeddedEnv } from "./testing/servers.ts";

// SIGKILL the real `serve` command at seeded random moments of a replay, restart it on the same
// SQLite file until the recording is through, and require the candles and alerts of an
// uninterrupted run on a fresh file.

const ROOT = join(import.meta.dir, "../..");
const CLI = join(import.meta.dir, "cli.ts");
const FILE = join(ROOT, "fixtures/replay.ws.jsonl");
const PRESENT = existsSync(FILE);
if (!PRESENT) console.warn(`serve recovery: ${FILE} is absent; the crash test is skipped`);
/** Trades in the recording, its first trade time, and the replay speed (≈2.2 s per pass). */
const TRADES = 2065;
const FIRST_TS = 1704067202191;
const SPEED = "800";

const dir = mkdtempSync(join(tmpdir(), "candleflow-serve-recovery-"));
const children = new Set<Subprocess<"ignore", "pipe", "pipe">>();
afterAll(async () => {
  for (const child of children) child.kill("SIGKILL");
  await Promise.all([...children].map((c) => c.exited));
  rmSync(dir, { recursive: true, force: true });
});

// `--no-loop` anchors a fresh database's recording at the wall clock of its first start (a
// restart keeps that timeline, from the checkpoint), so the reference and the crashed runs,
// started at different moments, would not share one. The replay source alone gets a clock that
// starts at the recorded first trade time, so both line up.
const PIN = join(dir, "pin.ts");
writeFileSync(PIN, `const real = Date.now;
let start: number | undefined;
Date.now = () => {
  const now = real();
  if (!new Error().stack?.includes("/sources/replay.ts")) return now;
  start ??= now;
  return ${FIRST_TS} + (now - start);
};
`);

interface Server {
  child: Subprocess<"ignore", "pipe", "pipe">;
  url: string;
  /** Log offset it resumed from (0 on a fresh file). */
  resumedAt: number;
}

/** Starts `serve` on `db` and waits for its two start-up lines. */
async function serve(db: string): Promise<Server> {
  const child = Bun.spawn(
    ["bun", "run", "--preload", PIN, CLI, "serve", "--port", "0", "--db", db, "--file", FILE, "--speed", SPEED, "--no-loop",
      "--commit-trades", "100", "--commit-ms", "40"],
    { cwd: ROOT, stdin: "ignore", stdout: "pipe", stderr: "pipe", env: embeddedEnv() },
  );
  children.add(child);
  const reader = child.stdout.getReader();
  const decoder = new TextDecoder();
  let out = "";
  while (out.split("\n").length < 3) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`serve exited before listening: ${out}${await new Response(child.stderr).text()}`);
    out += decoder.decode(value, { stream: true });
  }
  reader.releaseLock();
  const url = /listening on (\S+)/.exec(out)?.[1];
  if (!url) throw new Error(`serve did not say where it listens: ${out}`);
  return { child, url, resumedAt: Number(/resumed at offset (\d+)/.exec(out)?.[1] ?? 0) };
}

/** The committed log offset of the engine checkpoint, read from the file (0 before the first commit). */
function committed(db: string): number {
  if (!existsSync(db)) return 0;
  const d = new Database(db, { readonly: true });
  try {
    const row = d.query(`SELECT offsets FROM checkpoints WHERE key = 'candleflow:0'`).get() as { offsets: string } | null;
    return row ? Number((JSON.parse(row.offsets) as Record<string, number>)["0"]) : 0;
  } catch {
    return 0;
  } finally {
    d.close();
  }
}

interface Vitals {
  ended: boolean;
  lag: number;
}

async function vitals(url: string): Promise<Vitals> {
  const h = (await (await fetch(new URL("/api/v1/health", url))).json()) as { dependencies: Record<string, { detail?: string }>; lag: number };
  return { ended: h.dependencies.source?.detail === "input ended", lag: h.lag };
}

/** Waits until the source ended, nothing is left to read and the committed offset holds still. */
async function settled(server: Server, db: string, timeoutMs = 20_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = -1;
  let still = 0;
  while (Date.now() < deadline) {
    const v = await vitals(server.url);
    const at = committed(db);
    still = v.ended && v.lag === 0 && at === last ? still + 1 : 0;
    if (still >= 3) return at;
    last = at;
    await Bun.sleep(50);
  }
  throw new Error(`${db}: the replay did not settle in ${timeoutMs} ms`);
}

/** Stops a server cleanly and requires a clean exit. */
async function stop(server: Server): Promise<void> {
  server.child.kill("SIGTERM");
  expect(await server.child.exited).toBe(0);
  children.delete(server.child);
}

function table(db: string) {
  const d = new Database(db, { readonly: true });
  try {
    return {
      candles: d.query(`SELECT * FROM candles ORDER BY symbol, "interval", open_time`).all() as { interval: string; open_time: number; trades: number; final: number }[],
      alerts: d.query(`SELECT * FROM alerts ORDER BY id`).all(),
    };
  } finally {
    d.close();
  }
}

describe("serve crash recovery", () => {
  test.skipIf(!PRESENT)("serve SIGKILLed at seeded random moments of a replay ends with the candles and alerts of an uninterrupted run", async () => {
    const reference = join(dir, "reference.sqlite");
    const clean = await serve(reference);
    expect(clean.resumedAt).toBe(0);
    expect(await settled(clean, reference)).toBe(TRADES);
    await stop(clean);
    const expected = table(reference);
    const oneMinute = expected.candles.filter((c) => c.interval === "1m");
    expect(oneMinute.reduce((n, c) => n + c.trades, 0)).toBe(TRADES);
    // The pinned clock took: candles sit at the recorded times.
    expect(Math.min(...oneMinute.map((c) => c.open_time))).toBe(FIRST_TS - (FIRST_TS % 60_000));
    expect(oneMinute.some((c) => c.final === 1) && oneMinute.some((c) => c.final === 0)).toBe(true);
    expect(expected.alerts.length).toBeGreaterThan(0);

    const next = random(20_240_101);
    const crashed = join(dir, "crashed.sqlite");
    const resumes: number[] = [];
    const kills: number[] = [];
    for (let i = 0; i < 4; i++) {
      const server = await serve(crashed);
      resumes.push(server.resumedAt);
      // Somewhere after 50–400 more trades are committed, and up to 30 ms past a commit.
      const target = server.resumedAt + 50 + Math.floor(next() * 350);
      const deadline = Date.now() + 15_000;
      while (committed(crashed) < target) {
        if (Date.now() > deadline) throw new Error(`run ${i}: no commit reached offset ${target}`);
        await Bun.sleep(5);
      }
      await Bun.sleep(Math.floor(next() * 30));
      const before = await vitals(server.url);
      server.child.kill("SIGKILL");
      await server.child.exited;
      children.delete(server.child);
      // The kill landed mid-replay: the process was alive, the input not yet through, nor all of it committed.
      expect(server.child.signalCode).toBe("SIGKILL");
      expect(before.ended).toBe(false);
      kills.push(committed(crashed));
      expect(kills.at(-1)!).toBeLessThan(TRADES);
    }
    const last = await serve(crashed);
    resumes.push(last.resumedAt);
    expect(await settled(last, crashed)).toBe(TRADES);
    await stop(last);

    // Each restart resumed from the checkpoint the previous run left, further along each time.
    expect(resumes.slice(1)).toEqual(kills);
    for (let i = 1; i < resumes.length; i++) expect(resumes[i]!).toBeGreaterThan(resumes[i - 1]!);
    expect(table(crashed)).toEqual(expected);
  }, 55_000);
});
