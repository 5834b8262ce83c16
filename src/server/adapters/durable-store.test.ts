import { expect, test } from "bun:test";
import { describeStore } from "./conformance.ts";
import { durableStore } from "./durable-store.ts";
import { memoryDurableStorage } from "./durable-store-shim.ts";

describeStore("durable-store", () => {
  const storage = memoryDurableStorage();
  return { adapter: durableStore(storage), reopen: () => durableStore(memoryDurableStorage(storage.data)) };
}, { durable: true });

test("a snapshot larger than one value is stored in chunks and read back whole; a shorter one leaves no stale chunk", async () => {
  const storage = memoryDurableStorage();
  const store = durableStore(storage, { chunkBytes: 1000 });
  const big = Uint8Array.from({ length: 4500 }, (_, i) => (i * 31) % 251);
  await store.commit({ candles: [], alerts: [], checkpoint: { key: "engine", bytes: big, offsets: "{}" } });
  expect([...storage.data.keys()].filter((k) => k.startsWith("k\u0000engine\u0000")).length).toBe(5);
  expect((await store.loadCheckpoint("engine"))!.bytes).toEqual(big);
  await store.commit({ candles: [], alerts: [], checkpoint: { key: "engine", bytes: big.slice(0, 1500), offsets: "{}" } });
  expect([...storage.data.keys()].filter((k) => k.startsWith("k\u0000engine\u0000")).length).toBe(2);
  expect((await store.loadCheckpoint("engine"))!.bytes).toEqual(big.slice(0, 1500));
});

test("a snapshot over the limit is refused with a clear error, and nothing is written", async () => {
  const storage = memoryDurableStorage();
  const store = durableStore(storage, { chunkBytes: 1000, maxSnapshotBytes: 2000 });
  const commit = store.commit({ candles: [], alerts: [], checkpoint: { key: "engine", bytes: new Uint8Array(2001), offsets: "{}" } });
  await expect(commit).rejects.toThrow("durable-store: checkpoint engine: a snapshot of 2001 bytes is over the limit of 2000 bytes (2 values of 1000 bytes)");
  expect(storage.data.size).toBe(0);
});
