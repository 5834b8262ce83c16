import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Trade } from "../../lib/types.ts";
import { pipeline } from "../pipeline/processor.ts";
import { until } from "../testing/wait.ts";
import { AdapterError } from "./errors.ts";
import { memoryLog } from "./memory-log.ts";
import { sqliteStore } from "./sqlite.ts";

// A real full disk: a small tmpfs, where mounting one is allowed (root on Linux); skipped elsewhere.
const dir = mkdtempSync(join(tmpdir(), "candleflow-full-"));
const disk = join(dir, "disk");
mkdirSync(disk);
const mounted = process.platform === "linux" && spawnSync("mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", disk]).status === 0;
if (!mounted) console.warn("sqlite-full.test.ts: cannot mount a small tmpfs here; skipping the full-disk run");
afterAll(() => {
  if (mounted) spawnSync("umount", [disk]);
  rmSync(dir, { recursive: true, force: true });
});

const trades = (from: number, n: number): Trade[] =>
  Array.from({ length: n }, (_, i) => ({ symbol: `S${(from + i) % 50}`, id: from + i, price: "100.5", qty: "0.1", ts: 1_704_067_200_000 + (from + i) * 60_000, side: "buy" }));

describe("a full disk", () => {
  test.skipIf(!mounted)("commits fail as a retryable UNAVAILABLE; the pipeline keeps retrying and catches up once space returns", async () => {
    const filler = join(disk, "filler");
    const store = sqliteStore({ path: join(disk, "candles.sqlite") });
    const log = memoryLog({ retention: 1_000_000 });
    const errors: unknown[] = [];
    const p = pipeline({ log, store, engine: { intervals: ["1m"] }, commitTrades: 500, commitMs: 10, onError: (e) => errors.push(e), idleMs: 10 });
    await p.start();
    const ctl = new AbortController();
    const running = p.run(ctl.signal);
    try {
      writeFileSync(filler, Buffer.alloc(1_500_000));
      for (let at = 0; at < 20_000 && !errors.some((e) => e instanceof AdapterError && /full/i.test(e.message)); at += 2000) {
        await log.append(trades(at, 2000));
        p.wake();
        await until(() => p.status().lag === 0 || errors.length > 0, "the batch to be read", 20_000);
        await Bun.sleep(50);
      }
      const full = errors.find((e) => e instanceof AdapterError && /full/i.test(e.message)) as AdapterError | undefined;
      expect(full?.code).toBe("UNAVAILABLE");
      expect(full?.retryable).toBe(true);
      expect(p.status().state).toBe("running");
      rmSync(filler);
      const read = p.status().trades;
      await until(() => p.status().partitions[0]!.committed >= read, "a commit once space is back", 20_000);
      expect(p.status().state).toBe("running");
      expect((await store.symbols()).length).toBe(50);
    } finally {
      ctl.abort();
      await running.catch(() => {});
      await store.close();
    }
  }, 60_000);
});
