import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Trade } from "../lib/types.ts";
import { loadConfig, type Config } from "./config.ts";
import { startServer, type Running } from "./server.ts";
import type { Source, SourceStatus } from "./sources/types.ts";
import { embeddedEnv } from "./testing/servers.ts";
import { until } from "./testing/wait.ts";

// The composed server fed hostile input, checked the way an operator would: /health, /metrics, /symbols.
const ROOT = join(import.meta.dir, "../..");
const dir = mkdtempSync(join(tmpdir(), "candleflow-server-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function config(args: string[]): Config {
  const loaded = loadConfig(["--db", ":memory:", "--port", "0", "--commit-ms", "20", ...args], {});
  if (!loaded.ok) throw new Error(JSON.stringify(loaded));
  return loaded.config;
}

const json = async (running: Running, path: string) => (await running.app.request(path)).json() as Promise<any>;
const metric = async (running: Running, name: string) =>
  Number((await (await running.app.request("/api/v1/metrics")).text()).split("\n").find((l) => l.startsWith(`${name} `))?.split(" ")[1]);

describe("hostile input", () => {
  test("a replayed file's undecodable lines, a 5 MB symbol and a trade dated 2199 are counted in /health and /metrics; none is listed; no trade turns late", async () => {
    const lines = readFileSync(join(ROOT, "fixtures/clean.ws.jsonl"), "utf8").trimEnd().split("\n");
    const edited = (edit: (data: Record<string, unknown>) => void) => {
      const message = JSON.parse(lines[0]!);
      edit(message.data);
      return JSON.stringify(message);
    };
    const file = join(dir, "hostile.ws.jsonl");
    writeFileSync(file, [
      ...lines.slice(0, 5), "{not json", edited((d) => (d.s = "S".repeat(5 << 20))), edited((d) => ((d.t = 1), (d.T = Date.UTC(2199, 0, 1)))), ...lines.slice(5),
    ].join("\n"));
    const running = await startServer(config(["--file", file, "--speed", "0", "--no-loop"]), { onError: () => {} });
    try {
      await until(() => running.source!.status().connected === false && running.processor!.status().lag === 0 && running.processor!.status().trades > 0, "the replay to end", 10_000);
      await running.processor!.commit();
      const health = await json(running, "/api/v1/health");
      expect(health.sourceErrors).toBe(3);
      expect(await metric(running, "candleflow_source_errors_total")).toBe(3);
      expect(await metric(running, "candleflow_trades_total")).toBe(lines.length);
      expect(await metric(running, "candleflow_late_total")).toBe(0);
      expect((await json(running, "/api/v1/symbols")).symbols).toEqual(["BTCUSDT"]);
    } finally {
      await running.stop();
    }
  });

  test("a live feed's trade dated far ahead of the clock is refused and counted; the genuine trades after it are not late", async () => {
    const now = Date.now();
    const trade = (id: number, ts: number): Trade => ({ symbol: "BTCUSDT", id, price: "100.5", qty: "0.1", ts, side: "buy" });
    const status: SourceStatus = { connected: true, reconnects: 0, backfilled: 0, gaps: 0, errors: 0 };
    let ended = false;
    const source: Source = {
      name: "feed",
      async start(sink) {
        await sink([trade(1, now - 1000), trade(2, Date.UTC(2199, 0, 1)), trade(3, now + 5 * 60_000)]);
        await sink([trade(4, now - 500), trade(5, now)]);
        status.lastTradeTs = now;
        ended = true;
      },
      async stop() {},
      status: () => ({ ...status }),
    };
    const running = await startServer(config(["--source", "binance", "--symbols", "BTCUSDT"]), { source, onError: () => {} });
    try {
      await until(() => ended && running.processor!.status().lag === 0 && running.processor!.status().trades >= 3, "the feed to be processed", 10_000);
      await running.processor!.commit();
      expect((await json(running, "/api/v1/health")).futureTrades).toBe(2);
      expect(await metric(running, "candleflow_future_trades_total")).toBe(2);
      expect(await metric(running, "candleflow_trades_total")).toBe(3);
      expect(await metric(running, "candleflow_late_total")).toBe(0);
    } finally {
      await running.stop();
    }
  });
});

describe("two servers on one SQLite file", () => {
  test("the second is refused at start-up with a clear error; once the first stops, a new one starts", async () => {
    const db = join(dir, "shared.sqlite");
    const args = ["--db", db, "--file", join(ROOT, "fixtures/replay.ws.jsonl"), "--speed", "0", "--no-loop"];
    const first = await startServer(config(args), { onError: () => {} });
    try {
      const second = startServer(config(args), { onError: () => {} });
      await expect(second).rejects.toThrow(/in use by another candleflow server/);
      await expect(second).rejects.toMatchObject({ code: "CONFLICT" });
      // A process that only serves the API reads the file without taking the writer's lock.
      const reader = await startServer(config([...args, "--roles", "api"]), { onError: () => {} });
      await reader.stop();
    } finally {
      await first.stop();
    }
    const again = await startServer(config(args), { onError: () => {} });
    await again.stop();
  });

  test("a server killed with SIGKILL leaves no lock behind", async () => {
    const db = join(dir, "killed.sqlite");
    const child = Bun.spawn(["bun", "run", join(ROOT, "src/server/cli.ts"), "serve", "--port", "0", "--db", db, "--file", join(ROOT, "fixtures/replay.ws.jsonl")], {
      cwd: ROOT, stdout: "pipe", stderr: "pipe", env: embeddedEnv(),
    });
    const reader = child.stdout.getReader();
    for (let out = ""; !/listening on/.test(out);) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`serve exited: ${out}`);
      out += new TextDecoder().decode(value);
    }
    await expect(startServer(config(["--db", db, "--file", join(ROOT, "fixtures/replay.ws.jsonl")]), { onError: () => {} })).rejects.toThrow(/in use/);
    child.kill("SIGKILL");
    await child.exited;
    const restarted = await startServer(config(["--db", db, "--file", join(ROOT, "fixtures/replay.ws.jsonl")]), { onError: () => {} });
    await restarted.stop();
  });

});

describe("health figures", () => {
  test("a looping replay, whose moved trade times run ahead of the clock at speed, never reports a negative lastTradeAgeMs", async () => {
    const running = await startServer(config(["--file", join(ROOT, "fixtures/replay.ws.jsonl"), "--speed", "50", "--loop"]), { onError: () => {} });
    try {
      const ages: number[] = [];
      for (let i = 0; i < 30; i++) {
        const age = (await json(running, "/api/v1/health")).lastTradeAgeMs;
        if (typeof age === "number") ages.push(age);
        await Bun.sleep(30);
      }
      expect(ages.length).toBeGreaterThan(10);
      expect(Math.min(...ages)).toBeGreaterThanOrEqual(0);
    } finally {
      await running.stop();
    }
  });
});
