/**
 * The worker with Upstash on, inside workerd: producers append trades to the Upstash trade
 * log, each cron run has every symbol's object read its partition from the offset it
 * committed, and the objects mirror their candles to the Upstash cache (latest + pub/sub),
 * one request per flush. Over the local Upstash-compatible endpoint in front of the real Redis.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { RedisClient } from "bun";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Miniflare } from "miniflare";
import type { Trade } from "../../../lib/types.ts";
import { upstashCache, upstashLog } from "../../adapters/upstash.ts";
import { kafkaPartition } from "../../adapters/upstash-log.ts";
import { available, servers } from "../../testing/servers.ts";
import { startUpstashServer, wipe, type UpstashServer } from "../../testing/upstash.ts";
import { cleanup, dirs, embedded, expectParity, INTERVALS, recorded, start, stop, SYMBOLS } from "./harness.ts";

const up = await available("redis", servers.redis, 6379);
const token = `t-${crypto.randomUUID()}`;
const prefix = `cftest:${crypto.randomUUID().slice(0, 8)}:`;
const upstash: UpstashServer | undefined = up ? await startUpstashServer({ redisUrl: servers.redis, token }) : undefined;
const admin = up ? new RedisClient(servers.redis) : undefined;

afterAll(async () => {
  await cleanup();
  if (admin) await wipe(admin, prefix).catch(() => {});
  admin?.close();
  await upstash?.stop();
});

const vars = () => ({ UPSTASH_REDIS_REST_URL: upstash!.url, UPSTASH_REDIS_REST_TOKEN: token, UPSTASH_PREFIX: prefix, PULL_PAGES: "10" });
const cron = async (mf: Miniflare) => {
  const worker = (await mf.getWorker()) as unknown as { scheduled(options: { cron: string; scheduledTime?: number }): Promise<unknown> };
  const t0 = performance.now();
  await worker.scheduled({ cron: "* * * * *" });
  return performance.now() - t0;
};
const offsetsOf = async (mf: Miniflare, symbol: string) => {
  const ns = (await mf.getDurableObjectNamespace("CANDLES")) as unknown as { get(id: unknown): any; idFromName(name: string): unknown };
  const read = (await ns.get(ns.idFromName(symbol)).read("loadCheckpoint", ["engine"])) as { value: { offsets: string } };
  return JSON.parse(read.value.offsets) as { log?: { partition: number; next: number } };
};

describe.skipIf(!up)("Upstash: the edge trade log and cache", () => {
  test("trades appended to the log become the in-process engine's candles, mirrored to the cache, one request per flush, exactly once across a restart", async () => {
    const at = { url: upstash!.url, token, prefix };
    const log = upstashLog(at);
    const reader = upstashCache(at);
    const heard: string[] = [];
    const unsubscribe = await reader.subscribe("candles:BTCUSDT:1m", (m) => heard.push(m));
    const dir = mkdtempSync(join(tmpdir(), "candleflow-workerd-"));
    dirs.push(dir);
    let mf = await start(vars(), dir);

    // Three symbols, three partitions: BTCUSDT and ETHUSDT share one stream, each object keeps its own symbol.
    expect(SYMBOLS.map((s) => kafkaPartition(s, 3))).toEqual([2, 2, 0]);
    await log.append(recorded);
    const cold = upstash!.requests();
    const first = await cron(mf);
    const coldTrips = upstash!.requests() - cold;
    await expectParity(mf, recorded);
    const expected = await embedded(recorded);
    for (const symbol of SYMBOLS) {
      for (const interval of INTERVALS) expect(await reader.latest(symbol, interval)).toEqual((await expected.latest(symbol, interval))!);
    }
    // Offsets are stream ids 0-n, from 0-1: each object's offset is its partition's end.
    const partition2 = recorded.filter((t) => t.symbol !== "SOLUSDT").length;
    expect(await offsetsOf(mf, "BTCUSDT")).toMatchObject({ log: { partition: 2, next: 1 + partition2 } });
    expect(await offsetsOf(mf, "SOLUSDT")).toMatchObject({ log: { partition: 0, next: 1 + recorded.length - partition2 } });
    // Pub/sub reached another consumer of the same database.
    await Bun.sleep(100);
    expect(heard.length).toBeGreaterThan(0);
    expect(JSON.parse(heard.at(-1)!).candle).toMatchObject({ symbol: "BTCUSDT", interval: "1m" });

    // A later batch of one symbol: every object reads its partition once (one request), the one that changed flushes once.
    const last = recorded.filter((t) => t.symbol === "BTCUSDT").at(-1)!;
    const more: Trade[] = Array.from({ length: 10 }, (_, i) => ({ ...last, id: last.id + 1 + i, ts: last.ts + 1000 * (i + 1) }));
    await log.append(more);
    const before = upstash!.requests();
    const second = await cron(mf);
    const trips = upstash!.requests() - before;
    expect(trips).toBe(SYMBOLS.length + 1);
    expect(await reader.latest("BTCUSDT", "1m")).toEqual((await (await embedded([...recorded, ...more])).latest("BTCUSDT", "1m"))!);
    console.log(`Upstash trade log → objects → Upstash cache: ${recorded.length} trades in ${first.toFixed(0)} ms, ${coldTrips} requests (first cron run: per object the log settings and the low watermark once, then per page of up to 1000 entries 1 read + 1 flush); a run with 10 new trades ${second.toFixed(0)} ms, ${trips} requests (${SYMBOLS.length} partition reads, 1 flush: EVALSHA of ${INTERVALS.length} candles + ${INTERVALS.length} PUBLISH in one pipeline)`);

    // Restarted, each object resumes at its committed offset: nothing is read twice.
    await stop(mf);
    mf = await start(vars(), dir);
    await cron(mf);
    await expectParity(mf, [...recorded, ...more]);
    expect(await offsetsOf(mf, "ETHUSDT")).toMatchObject({ log: { partition: 2, next: 1 + partition2 + more.length } });

    // An entry that is no trade is skipped by every object of its partition, and read past.
    await admin!.send("XADD", [`${prefix}trades:2`, "0-*", "trade", "{not json"]);
    const ns = (await mf.getDurableObjectNamespace("CANDLES")) as unknown as { get(id: unknown): any; idFromName(name: string): unknown };
    const followed = await ns.get(ns.idFromName("BTCUSDT")).follow("BTCUSDT");
    expect(followed).toEqual({ partition: 2, read: 1, trades: 0, poison: 1, next: 2 + partition2 + more.length });
    await expectParity(mf, [...recorded, ...more]);
    await unsubscribe();
    await reader.close();
    await log.close();
  }, 30_000);
});
