/**
 * WebSocket clients across hibernation, in workerd: Miniflare's `unsafeEvictDurableObject` with
 * `webSockets: "hibernate"` drops the object's instance as the platform does when it hibernates,
 * keeping its sockets open; the next event starts a new instance.
 */
import { afterAll, expect, test } from "bun:test";
import type { Miniflare } from "miniflare";
import { cleanup, client, get, inBatches, ingest, recorded, start, stop } from "./harness.ts";

afterAll(cleanup);

const btc = recorded.filter((t) => t.symbol === "BTCUSDT");
const count = (frames: any[], type: string) => frames.filter((f) => f.type === type).length;
/**
 * The object's `clients()`. A stub Miniflare hands this process holds the object until the
 * process collects it, and eviction waits for every reference: call this after the last `hibernate`.
 */
const clients = async (mf: Miniflare): Promise<{ clients: number; heartbeatAt: number | null }> => {
  const ns = (await mf.getDurableObjectNamespace("CANDLES")) as unknown as { get(id: unknown): any; idFromName(name: string): unknown };
  return ns.get(ns.idFromName("BTCUSDT")).clients();
};
/** Hibernates the object as the platform does, its sockets kept open; fails unless the instance is gone. */
const hibernate = (mf: Miniflare) => mf.unsafeEvictDurableObject("", "SymbolObject", { name: "BTCUSDT", webSockets: "hibernate" });

test("a subscribed client stays connected while its object hibernates: the woken object sends the same socket the new candles, with no new hello or snapshot", async () => {
  const mf = await start({ SYMBOLS: "BTCUSDT", HEARTBEAT_MS: "200" });
  await inBatches(mf, btc.slice(0, 300));
  const c = await client(mf, "BTCUSDT");
  c.send({ op: "subscribe", symbols: ["BTCUSDT"], intervals: ["1m", "5m"] });
  await c.until((f) => count(f, "snapshot") === 2 && count(f, "heartbeat") >= 1);

  await hibernate(mf);
  const seen = c.frames.length;
  await ingest(mf, btc.slice(300, 600));
  await c.until((f) => f.slice(seen).some((x) => x.type === "candle" && x.candle.interval === "1m") && f.slice(seen).some((x) => x.type === "candle" && x.candle.interval === "5m"));
  expect(c.frames.slice(seen).filter((x) => x.type === "candle").every((x) => x.candle.symbol === "BTCUSDT" && ["1m", "5m"].includes(x.candle.interval))).toBe(true);
  const latest = (await get(mf, "/api/v1/latest/BTCUSDT?interval=1m")).body.candle;
  await c.until((f) => f.slice(seen).some((x) => x.type === "candle" && JSON.stringify(x.candle) === JSON.stringify(latest)));
  expect(count(c.frames, "hello")).toBe(1);
  expect(count(c.frames, "snapshot")).toBe(2);

  // Its frames are answered by the new instance, and its subscriptions can change as before.
  c.send({ op: "ping" });
  c.send({ op: "unsubscribe", symbols: ["BTCUSDT"], intervals: ["1m"] });
  await c.until((f) => f.slice(seen).some((x) => x.type === "pong"));
  await hibernate(mf);
  const later = c.frames.length;
  await ingest(mf, btc.slice(600, 900));
  await c.until((f) => f.slice(later).some((x) => x.type === "candle"));
  await Bun.sleep(100);
  expect(new Set(c.frames.slice(later).filter((x) => x.type === "candle").map((x) => x.candle.interval))).toEqual(new Set(["5m"]));
  expect(count(c.frames, "hello")).toBe(1);
  expect(await clients(mf)).toMatchObject({ clients: 1, heartbeatAt: expect.any(Number) });
  c.ws.close(1000);
  await stop(mf);
});

test("heartbeats come from the object's alarm while clients are connected, across a hibernation, and stop with the last client", async () => {
  const mf = await start({ SYMBOLS: "BTCUSDT", HEARTBEAT_MS: "200" });
  const a = await client(mf, "BTCUSDT");
  const b = await client(mf, "BTCUSDT");
  await a.until((f) => count(f, "heartbeat") >= 2);
  await hibernate(mf);
  const seen = a.frames.length;
  // Nothing but the alarm wakes the object here.
  await Promise.all([a, b].map((c) => c.until((f) => f.slice(seen).filter((x) => x.type === "heartbeat").length >= 2)));
  const beats = a.frames.slice(seen).filter((x) => x.type === "heartbeat").map((x) => x.ts);
  expect(beats[1]! - beats[0]!).toBeGreaterThanOrEqual(150);
  expect(count(a.frames, "hello")).toBe(1);
  a.ws.close(1000);
  await Bun.sleep(100);
  expect(await clients(mf)).toMatchObject({ clients: 1, heartbeatAt: expect.any(Number) });
  b.ws.close(1000);
  await Bun.sleep(100);
  expect(await clients(mf)).toMatchObject({ clients: 0, heartbeatAt: null });
  await stop(mf);
});
