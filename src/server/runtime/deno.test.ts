/**
 * The server on Deno, in a real `deno` process: the same REST routes and WebSocket protocol
 * as on Bun, and candles that hold every trade of the replayed recording exactly.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { decodeBinanceWs } from "../../lib/binance.ts";
import type { Candle } from "../../lib/types.ts";
import { postgresStore } from "../adapters/postgres.ts";
import { available, CI, embeddedEnv, servers } from "../testing/servers.ts";
import { startUpstashServer } from "../testing/upstash.ts";

const ROOT = join(import.meta.dir, "../../..");
const FILE = join(ROOT, "fixtures/replay.ws.jsonl");
const deno = Bun.which("deno");
if (!deno && !CI) console.warn("[skip] deno not found: the Deno runtime tests are skipped");

const children: ReturnType<typeof Bun.spawn>[] = [];
afterAll(() => {
  for (const c of children) c.kill("SIGKILL");
});

const edge = deno !== null && (await available("redis", servers.redis, 6379)) && (await available("postgres", servers.postgres, 5432));

/** `deno run` of the Deno entry; resolves with the URL it prints. */
async function start(args: string[]): Promise<{ url: URL; child: ReturnType<typeof Bun.spawn> }> {
  const child = Bun.spawn([deno!, "run", "-A", join(ROOT, "src/server/runtime/deno.ts"), "--port", "0", ...args], {
    cwd: ROOT, stdin: "ignore", stdout: "pipe", stderr: "pipe", env: embeddedEnv({ NO_COLOR: "1" }),
  });
  children.push(child);
  const reader = (child.stdout as ReadableStream<Uint8Array>).getReader();
  let out = "";
  const deadline = Date.now() + 30_000;
  while (!/listening on (http:\S+)/.test(out)) {
    const { value, done } = await Promise.race([reader.read(), Bun.sleep(Math.max(0, deadline - Date.now())).then(() => ({ value: undefined, done: true }))]);
    if (done) throw new Error(`deno did not start: ${out}${await new Response(child.stderr as ReadableStream).text()}`);
    out += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return { url: new URL(/listening on (http:\S+)/.exec(out)![1]!), child };
}

describe.skipIf(!deno && !CI)("Deno runtime", () => {
  test("REST routes, validation and health answer as on Bun; the candles hold every recorded trade exactly", async () => {
    expect(deno, "deno is required in CI").toBeTruthy();
    const { url, child } = await start(["--store", "memory", "--file", FILE, "--speed", "0", "--no-loop"]);
    const get = async (path: string) => {
      const res = await fetch(new URL(path, url));
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    let health = await get("/api/v1/health");
    for (let i = 0; i < 100 && (health.body.dependencies as Record<string, { detail?: string }>).source?.detail !== "input ended"; i++) {
      await Bun.sleep(100);
      health = await get("/api/v1/health");
    }
    expect(health.status).toBe(200);
    await Bun.sleep(1500); // the last commit after the input ended
    const recorded = readFileSync(FILE, "utf8").split("\n").filter(Boolean).map((l) => decodeBinanceWs(l)).filter((t) => t !== null && t !== undefined);
    const names = [...new Set(recorded.map((t) => t!.symbol))].sort();
    expect((await get("/api/v1/symbols")).body.symbols).toEqual(names);
    expect((await get("/api/v1/candles/BTCUSDT?interval=2m")).status).toBe(400);
    expect((await get("/api/v1/candles/NOPE?interval=1m")).status).toBe(404);
    expect((await get("/api/v1/latest/BTCUSDT?interval=1m")).status).toBe(200);
    // Exact decimal sums of the recorded quantities, as integers at 12 places.
    const scaled = (s: string) => BigInt(s.replace(".", "")) * 10n ** BigInt(12 - (s.split(".")[1]?.length ?? 0));
    for (const symbol of names) {
      const mine = recorded.filter((t) => t!.symbol === symbol);
      const hours = (await get(`/api/v1/candles/${symbol}?interval=1h&limit=5000`)).body.candles as Candle[];
      expect(hours.reduce((n, c) => n + c.trades, 0)).toBe(mine.length);
      expect(hours.reduce((sum, c) => sum + scaled(c.volume), 0n)).toBe(mine.reduce((sum, t) => sum + scaled(t!.qty), 0n));
    }
    child.kill("SIGTERM");
    expect(await child.exited).toBe(0);
  }, 60_000);

  test("a WebSocket client gets hello, a snapshot and live candle frames from a replay", async () => {
    const { url, child } = await start(["--store", "memory", "--file", FILE, "--speed", "40", "--no-loop"]);
    const frames: { type: string; kind?: string }[] = [];
    const ws = new WebSocket(new URL("/ws", url.href.replace(/^http/, "ws")));
    ws.onmessage = (m) => frames.push(JSON.parse(String(m.data)));
    await new Promise((r) => (ws.onopen = r));
    const deadline = Date.now() + 20_000;
    while (!frames.some((f) => f.type === "hello") && Date.now() < deadline) await Bun.sleep(20);
    ws.send(JSON.stringify({ op: "subscribe", symbols: ["BTCUSDT"], intervals: ["1m"] }));
    while (frames.filter((f) => f.type === "candle").length < 3 && Date.now() < deadline) await Bun.sleep(50);
    ws.send("not json");
    while (!frames.some((f) => f.type === "error") && Date.now() < deadline) await Bun.sleep(20);
    expect(frames[0]!.type).toBe("hello");
    expect(frames.some((f) => f.type === "snapshot")).toBe(true);
    expect(frames.filter((f) => f.type === "candle").length).toBeGreaterThanOrEqual(3);
    expect(frames.some((f) => f.type === "error")).toBe(true);
    ws.close();
    child.kill("SIGTERM");
    expect(await child.exited).toBe(0);
  }, 60_000);

  test.skipIf(!edge)("the edge mode on Deno: Upstash Redis Streams as the log, the Upstash cache, PostgreSQL as the store", async () => {
    const upstash = await startUpstashServer({ redisUrl: servers.redis, token: "edge-test-token" });
    const id = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
    const schema = `edge_${id}`;
    const store = postgresStore({ url: servers.postgres, schema });
    try {
      const { url, child } = await start([
        "--log", "upstash", "--cache", "upstash", "--upstash-url", upstash.url, "--upstash-token", upstash.token, "--redis-prefix", `edge:${id}:`,
        "--store", "postgres", "--database-url", servers.postgres, "--pg-schema", schema, "--partitions", "2",
        "--file", FILE, "--speed", "0", "--no-loop", "--commit-ms", "50",
      ]);
      const recorded = readFileSync(FILE, "utf8").split("\n").filter(Boolean).map((l) => decodeBinanceWs(l)).filter((t) => t !== null && t !== undefined);
      const deadline = Date.now() + 40_000;
      let stored = 0;
      while (Date.now() < deadline) {
        stored = 0;
        for (const symbol of await store.symbols()) stored += (await store.candles(symbol, "1h", { limit: 5000 })).candles.reduce((n, c) => n + c.trades, 0);
        if (stored === recorded.length) break;
        await Bun.sleep(200);
      }
      expect(stored).toBe(recorded.length);
      const health = (await (await fetch(new URL("/api/v1/health", url))).json()) as { dependencies: Record<string, { adapter: string; ok: boolean }> };
      expect(health.dependencies.log).toMatchObject({ adapter: "upstash-log", ok: true });
      expect(health.dependencies.cache).toMatchObject({ ok: true });
      const latest = (await (await fetch(new URL("/api/v1/latest/BTCUSDT?interval=1h", url))).json()) as { candle: Candle };
      expect(latest.candle.symbol).toBe("BTCUSDT");
      expect(upstash.requests()).toBeGreaterThan(0);
      child.kill("SIGTERM");
      expect(await child.exited).toBe(0);
    } finally {
      await store.close();
      await upstash.stop();
      const sql = (await import("postgres")).default(servers.postgres, { max: 1, onnotice: () => {} });
      await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await sql.end();
      const redis = new Bun.RedisClient(servers.redis);
      const keys = (await redis.send("KEYS", [`edge:${id}:*`])) as string[];
      if (keys.length > 0) await redis.send("DEL", keys);
      redis.close();
    }
  }, 90_000);
});
