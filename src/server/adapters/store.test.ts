import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeStore } from "./conformance.ts";
import { memoryStore } from "./memory-store.ts";
import { sqliteStore } from "./sqlite.ts";

describeStore("memory-store", () => ({ adapter: memoryStore() }), { durable: false });

describeStore("sqlite", () => {
  const dir = mkdtempSync(join(tmpdir(), "candleflow-store-"));
  const path = join(dir, "candles.sqlite");
  return {
    adapter: sqliteStore({ path }),
    reopen: () => sqliteStore({ path }),
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}, { durable: true });
