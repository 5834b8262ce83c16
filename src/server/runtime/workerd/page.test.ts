/**
 * The page on the worker, inside workerd: its files built by `buildPage` and served as the
 * worker's static assets, and its WebSocket protocol on `/ws` (any symbols on one connection,
 * relayed to the symbols' objects).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Miniflare } from "miniflare";
import { cleanup, client, dirs, ingest, INTERVALS, recorded, start, SYMBOLS } from "./harness.ts";
import { buildPage } from "./page.ts";

afterAll(cleanup);

describe("the page on the worker", () => {
  let mf: Miniflare;
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), "candleflow-page-"));
    dirs.push(dir);
    await buildPage(dir);
    mf = await start({}, undefined, { assets: { directory: dir, routerConfig: { has_user_worker: true } } });
  });

  test("/ answers the page's HTML, and its script and style answer 200; the API is still the worker's", async () => {
    const page = await mf.dispatchFetch("http://candleflow.test/");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    const html = await page.text();
    expect(html).toContain('id="app"');
    const script = /<script[^>]+src="\.?\/?([^"]+\.js)"/.exec(html)?.[1];
    const style = /<link[^>]+rel="stylesheet"[^>]+href="\.?\/?([^"]+\.css)"/.exec(html)?.[1];
    expect(script && style).toBeTruthy();
    const js = await mf.dispatchFetch(`http://candleflow.test/${script}`);
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toContain("javascript");
    expect(await js.text()).toContain("/ws");
    expect((await mf.dispatchFetch(`http://candleflow.test/${style}`)).status).toBe(200);
    expect((await (await mf.dispatchFetch("http://candleflow.test/api/v1/symbols")).json())).toEqual({ symbols: SYMBOLS, intervals: INTERVALS });
  });

  test("one /ws connection, as the page opens it, gets every symbol in hello and frames of two symbols' objects", async () => {
    const c = await client(mf);
    // As the page does: subscribe on open, before the hello.
    c.send({ op: "subscribe", symbols: ["BTCUSDT", "ethusdt"], intervals: ["1m"] });
    await c.until((f) => f.filter((x) => x.type === "snapshot").length === 2);
    expect(c.frames[0]).toMatchObject({ type: "hello", version: 1, symbols: [...SYMBOLS].sort(), intervals: INTERVALS });
    expect(c.frames.filter((x) => x.type === "hello")).toHaveLength(1);
    expect(c.frames.filter((x) => x.type === "snapshot").map((x) => x.symbol).sort()).toEqual(["BTCUSDT", "ETHUSDT"]);
    const trades = recorded.filter((t) => t.symbol !== "SOLUSDT").slice(0, 400);
    expect((await ingest(mf, trades)).status).toBe(200);
    await c.until((f) => ["BTCUSDT", "ETHUSDT"].every((s) => f.some((x) => x.type === "candle" && x.candle.symbol === s && x.candle.interval === "1m")));
    expect(c.frames.filter((x) => x.type === "candle").every((x) => x.candle.interval === "1m")).toBe(true);
    c.send({ op: "unsubscribe", symbols: ["ETHUSDT"], intervals: ["1m"] });
    c.send({ op: "ping" });
    c.send({ op: "subscribe", symbols: ["DOGEUSDT"], intervals: ["1m"] });
    c.send({ op: "subscribe", symbols: ["SOLUSDT"], intervals: ["2m"] });
    await c.until((f) => f.some((x) => x.type === "pong") && f.filter((x) => x.type === "error").length === 2);
    expect(c.frames.filter((x) => x.type === "error").map((x) => x.code).sort()).toEqual(["UNKNOWN_INTERVAL", "UNKNOWN_SYMBOL"]);
    const seen = c.frames.length;
    expect((await ingest(mf, recorded.filter((t) => t.symbol !== "SOLUSDT").slice(400, 800))).status).toBe(200);
    await c.until((f) => f.slice(seen).some((x) => x.type === "candle" && x.candle.symbol === "BTCUSDT"));
    await Bun.sleep(100);
    expect(c.frames.slice(seen).some((x) => x.type === "candle" && x.candle.symbol === "ETHUSDT")).toBe(false);
    c.ws.close(1000);
  });
});
