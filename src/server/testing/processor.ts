/**
 * A processor in its own process, for crash tests: replays a recorded Binance WebSocket
 * file (the durable log: offset = line number) through the pipeline into a SQLite file,
 * resuming from the file's checkpoint if there is one. Progress goes to stdout, one line
 * each — `resume <offset>`, `commit <offset>`, `done <offset>` — so a test can kill it
 * with SIGKILL at a chosen point and start it again.
 *
 * Usage: bun src/server/testing/processor.ts <recording.jsonl> <store.sqlite> [commitTrades] [batch] [commitMs]
 *
 * With `CANDLEFLOW_KILL=<offset>:<read|commit>` it SIGKILLs itself at a chosen point:
 * `read` while decoding that log line (mid-batch, work since the last commit is lost),
 * `commit` right after the first commit at or past that offset (before it publishes).
 * A timer in the parent can miss a fast child; this cannot.
 */
import { decodeBinanceWs } from "../../lib/binance.ts";
import type { EngineOptions } from "../../lib/types.ts";
import { fileLog } from "../adapters/file-log.ts";
import { memoryCache } from "../adapters/memory-cache.ts";
import { sqliteStore } from "../adapters/sqlite.ts";
import { pipeline } from "../pipeline/processor.ts";

/** Engine options of the crash test: every default interval, revisions possible, a few alert rules. */
export const PROCESSOR_ENGINE: EngineOptions = {
  intervals: ["1m", "5m", "15m", "1h"],
  allowedLateness: 5_000,
  rules: { default: { whale: { notional: 50_000 }, priceMove: { percent: 0.05 }, volumeSpike: { factor: 2, lookback: 3 }, gap: {} } },
};

if (import.meta.main) {
  const [source, db, commitTrades = "500", batch = "200", commitMs = "10"] = process.argv.slice(2);
  if (!source || !db) {
    console.error("usage: processor.ts <recording.jsonl> <store.sqlite> [commitTrades] [batch] [commitMs]");
    process.exit(2);
  }
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const [killAt, killPhase] = (process.env.CANDLEFLOW_KILL ?? "").split(":");
  const killOffset = killAt ? Number(killAt) : Infinity;
  const die = () => process.kill(process.pid, "SIGKILL");
  let line = 0;
  const decode = (text: string) => {
    if (killPhase === "read" && line++ >= killOffset) die();
    return decodeBinanceWs(text);
  };
  const log = fileLog({ path: source, decode });
  const store = sqliteStore({ path: db });
  const p = pipeline({
    log, store, cache: memoryCache(), engine: PROCESSOR_ENGINE,
    commitTrades: Number(commitTrades), batch: Number(batch), commitMs: Number(commitMs),
    onCommit: (c) => {
      say(`commit ${c.offset}`);
      if (killPhase === "commit" && c.offset >= killOffset) die();
    },
  });
  await p.start();
  say(`resume ${p.status().partitions[0]!.committed}`);
  await p.finish();
  say(`done ${p.status().partitions[0]!.committed}`);
  await store.close();
}
