import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Trade } from "../../lib/types.ts";
import { describeLog } from "./conformance.ts";
import { fileLog } from "./file-log.ts";
import { memoryLog } from "./memory-log.ts";

for (const partitions of [1, 4]) {
  describeLog(`memory-log (${partitions} partition${partitions > 1 ? "s" : ""})`, async ({ trades, retention }) => {
    const log = memoryLog({ partitions, retention });
    await log.append(trades);
    return { adapter: log };
  }, { writable: true, retention: true });
}

describeLog("file-log", ({ trades }) => {
  const dir = mkdtempSync(join(tmpdir(), "candleflow-log-"));
  const path = join(dir, "trades.jsonl");
  writeFileSync(path, trades.map((t) => JSON.stringify(t) + "\n").join(""));
  return {
    adapter: fileLog({ path, decode: (line) => JSON.parse(line) as Trade }),
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}, { writable: false, retention: false });
