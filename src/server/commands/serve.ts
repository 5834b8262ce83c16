import { CandleflowError } from "../../lib/errors.ts";
import { loadConfig, usage } from "../config.ts";
import { listen } from "../runtime/bun.ts";
import { startServer } from "../server.ts";
import { defaultReplayFile } from "../sources/replay.ts";

/** A URL without its password, for logs. */
const redacted = (url: string) => url.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@");

/** One line for `candleflow --help`. */
export const summary = "run the server: replay or live trades → candles (SQLite, or Kafka + Redis + PostgreSQL), REST API, WebSocket and page";

export { usage };

/**
 * `serve`: starts the embedded server (in-process log and cache, SQLite store, a replayed
 * real recording unless `--source` names a live feed) and runs until SIGINT or SIGTERM.
 * Resolves to the exit code: 0 after a clean stop, 2 for bad configuration, 1 when it cannot start.
 */
export async function run(argv: string[]): Promise<number> {
  const loaded = loadConfig(argv, process.env);
  if (!loaded.ok) {
    if (loaded.help) {
      console.log(usage);
      return 0;
    }
    for (const error of loaded.errors) console.error(`serve: ${error}`);
    console.error("Run `bun run candleflow serve --help` for the options.");
    return 2;
  }
  const config = loaded.config;
  let running;
  try {
    running = await startServer(config);
  } catch (e) {
    if (e instanceof CandleflowError && e.code === "INVALID_OPTIONS") {
      console.error(`serve: --intervals / --rules (or CANDLEFLOW_INTERVALS / CANDLEFLOW_RULES): ${e.message}`);
      return 2;
    }
    console.error(`serve: cannot start: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
  let listening;
  try {
    listening = await listen(running, config);
  } catch (e) {
    console.error(`serve: cannot listen on ${config.host}:${config.port}: ${e instanceof Error ? e.message : String(e)}`);
    await running.stop();
    return 1;
  }
  const url = new URL(listening.url);
  if (url.hostname === "0.0.0.0" || url.hostname === "[::]") url.hostname = "localhost";
  const what = config.source === "replay"
    ? `replaying ${config.file ?? defaultReplayFile()} at ${config.speed === 0 ? "full speed" : `${config.speed}×`}${config.loop ? ", looping" : ""}`
    : `live from ${config.source}`;
  console.log(`candleflow listening on ${url.href}`);
  const store = config.store === "postgres" ? `postgres ${redacted(config.databaseUrl)} (schema ${config.pgSchema})` : config.db;
  const log = config.log === "kafka" ? `kafka ${config.kafkaBrokers} topic ${config.topic}, group ${config.group}` : "in-process";
  const roles = config.roles.length === 3 ? "" : `roles ${config.roles.join(",")}; `;
  console.log(`  ${roles}${config.roles.includes("ingest") ? `${what}; ` : ""}intervals ${running.intervals.join(",")}; store ${store}${running.resumedAt > 0 ? ` (resumed at offset ${running.resumedAt})` : ""}`);
  console.log(`  log ${log}; cache ${config.cache === "redis" ? `redis ${redacted(config.redisUrl)}` : "in-process"}`);
  for (const note of running.notes) console.log(`  note: ${note}`);

  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  console.log("candleflow: stopping (committing the last checkpoint)");
  await listening.stop();
  await running.stop();
  // Exit 1 only when work was left uncommitted; a connection that would not close was already reported.
  const processor = running.processor?.status();
  if (processor && processor.state !== "stopped" && processor.state !== "done") {
    console.error(`serve: stopped with uncommitted work (the last commit failed${processor.error ? `: ${processor.error}` : ""})`);
    return 1;
  }
  return 0;
}
