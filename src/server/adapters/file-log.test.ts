import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeBinanceWs } from "../../lib/binance.ts";
import type { Trade } from "../../lib/types.ts";
import { AdapterError } from "./errors.ts";
import { fileLog } from "./file-log.ts";

const ROOT = join(import.meta.dir, "../../..");
const RECORDED = join(ROOT, "../shared/fixtures/binance-spot-btcusdt-2024-08-08/trades.ws.jsonl");
const haveRecorded = existsSync(RECORDED);
if (!haveRecorded) console.warn(`file-log: ${RECORDED} is absent; the recorded-stream test is skipped`);

const dir = mkdtempSync(join(tmpdir(), "candleflow-file-log-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const trade = (id: number): Trade => ({ symbol: "BTCUSDT", id, price: "61837.63", qty: "0.02", ts: 1_723_161_255_342 + id, side: "buy" });
const json = (line: string) => (line.startsWith("{") ? (JSON.parse(line) as Trade) : null);

describe("fileLog", () => {
  test("offsets are line numbers; lines without a trade are stepped over, not renumbered", async () => {
    const path = join(dir, "mixed.jsonl");
    writeFileSync(path, [JSON.stringify(trade(1)), "ack", "", JSON.stringify(trade(2)), "ack", JSON.stringify(trade(3))].join("\r\n") + "\r\n");
    const log = fileLog({ path, decode: json });
    expect(await log.highWatermark(0)).toBe(6);
    const first = await log.read(0, 0, 2);
    expect(first.records.map((r) => [r.offset, r.trade.id])).toEqual([[0, 1], [3, 2]]);
    expect(first.next).toBe(4);
    expect(await log.read(0, 4, 10)).toEqual({ records: [{ offset: 5, trade: trade(3) }], next: 6 });
    expect(await log.read(0, 6, 10)).toEqual({ records: [], next: 6 });
  });

  test("a trailing run of non-trade lines still lets the reader reach the end", async () => {
    const path = join(dir, "tail.jsonl");
    writeFileSync(path, `${JSON.stringify(trade(1))}\nack\nack\n`);
    const log = fileLog({ path, decode: json });
    expect(await log.read(0, 1, 10)).toEqual({ records: [], next: 3 });
  });

  test("undecodable lines are counted in health, not hidden", async () => {
    const path = join(dir, "broken.jsonl");
    writeFileSync(path, `${JSON.stringify(trade(1))}\n{"broken\n${JSON.stringify(trade(2))}\n`);
    const log = fileLog({ path, decode: json });
    expect((await log.read(0, 0, 10)).records.map((r) => r.trade.id)).toEqual([1, 2]);
    expect(await log.health()).toEqual({ adapter: "file-log", ok: true, detail: "3 lines, 1 undecodable" });
  });

  test("a missing file is UNAVAILABLE and unhealthy; only partition 0 exists", async () => {
    const log = fileLog({ path: join(dir, "nope.jsonl"), decode: json });
    try {
      await log.read(0, 0, 1);
      throw new Error("read of a missing file succeeded");
    } catch (e) {
      expect(e).toBeInstanceOf(AdapterError);
      expect((e as AdapterError).code).toBe("UNAVAILABLE");
    }
    expect((await log.health()).ok).toBe(false);
    expect(await log.partitions()).toEqual([0]);
    await expect(log.read(1, 0, 1)).rejects.toThrow("no partition 1");
  });

  test.skipIf(!haveRecorded)("the recorded Binance stream reads as 19,904 trades with contiguous ids", async () => {
    const log = fileLog({ path: RECORDED, decode: decodeBinanceWs });
    const ids: number[] = [];
    for (let at = 0; at < (await log.highWatermark(0));) {
      const batch = await log.read(0, at, 5000);
      for (const r of batch.records) {
        expect(r.trade.symbol).toBe("BTCUSDT");
        ids.push(r.trade.id);
      }
      at = batch.next;
    }
    expect(ids.length).toBe(19_904);
    expect(ids[0]).toBe(3_735_683_259);
    expect(ids.at(-1)).toBe(3_735_703_162);
    expect(ids.every((id, i) => i === 0 || id === ids[i - 1]! + 1)).toBe(true);
    expect((await log.health()).detail).toBe("19904 lines");
  });
});
