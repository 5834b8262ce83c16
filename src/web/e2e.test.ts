/**
 * The dashboard in a real browser against the real server: candles drawn, moving, the
 * pickers re-snapshotting, and the page reconnecting by itself after a server restart.
 * Uses the system Chromium; never downloads one. Leaves artifacts/e2e.png behind.
 * `DOCS_SCREENSHOT=1` also writes docs/screenshot.png (for the README) from the real recording.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type Browser, chromium, type Page } from "playwright-core";
import { embeddedEnv } from "../server/testing/servers.ts";

const CHROMIUM = "/usr/bin/chromium";
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
// Three symbols, so the symbol picker has somewhere to go; the shared recording has one.
const REPLAY = "fixtures/replay.ws.jsonl";
const REAL = "../shared/fixtures/binance-spot-btcusdt-2024-08-08/trades.ws.jsonl";

const CI = !!process.env.CI && process.env.CI !== "false" && process.env.CI !== "0";
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) {
  if (CI) throw new Error(`${CHROMIUM} is missing; CI must install Chromium for the browser test`);
  console.warn(`[e2e] skipped: no Chromium at ${CHROMIUM} (apt-get install chromium)`);
}

/** A `serve` subprocess and the URL it printed. */
interface Server {
  url: string;
  stop(): Promise<void>;
}

async function serve(args: string[]): Promise<Server> {
  const proc = Bun.spawn(["bun", "run", "src/server/cli.ts", "serve", "--db", ":memory:", "--speed", "50", ...args], {
    cwd: ROOT,
    env: embeddedEnv({ NODE_ENV: "production" }),
    stdout: "pipe",
    stderr: "inherit",
  });
  const reader = proc.stdout.getReader();
  const decoder = new TextDecoder();
  let out = "";
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    out += decoder.decode(value);
    const url = /listening on (\S+)/.exec(out)?.[1];
    if (url) {
      // Keep draining stdout so the server never blocks on a full pipe.
      void (async () => {
        while (!(await reader.read()).done);
      })();
      return {
        url,
        async stop() {
          proc.kill("SIGTERM");
          await proc.exited;
        },
      };
    }
  }
  proc.kill();
  throw new Error(`server did not start:\n${out}`);
}

async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/** What the page says it shows (data attributes on #app). */
async function state(page: Page) {
  return page.evaluate(() => {
    const d = document.getElementById("app")!.dataset;
    return {
      status: d.status ?? "",
      symbol: d.symbol ?? "",
      interval: d.interval ?? "",
      candles: Number(d.candles ?? 0),
      lastClose: Number(d.lastClose ?? NaN),
      lastTime: Number(d.lastTime ?? NaN),
      snapshots: Number(d.snapshots ?? 0),
    };
  });
}

/**
 * Canvas pixel columns of the plot area holding a candle body or wick (≥ 3 opaque pixels
 * of the up or down color): the dashed last-price line is one pixel high and its label sits
 * outside the plot area, so neither counts.
 */
async function candleColumns(page: Page) {
  return page.evaluate(() => {
    const canvas = document.querySelector<HTMLCanvasElement>("#chart canvas")!;
    const over = document.querySelector<HTMLElement>("#chart .u-over")!.getBoundingClientRect();
    const box = canvas.getBoundingClientRect();
    const k = canvas.width / box.width;
    const x0 = Math.round((over.left - box.left) * k);
    const y0 = Math.round((over.top - box.top) * k);
    const w = Math.round(over.width * k);
    const h = Math.round(over.height * k);
    const { data } = canvas.getContext("2d")!.getImageData(x0, y0, w, h);
    // Opaque only: the volume bars share the hues but are translucent.
    const near = (i: number, r: number, g: number, b: number) =>
      data[i + 3]! > 240 && Math.abs(data[i]! - r) < 10 && Math.abs(data[i + 1]! - g) < 10 && Math.abs(data[i + 2]! - b) < 10;
    let up = 0;
    let down = 0;
    for (let x = 0; x < w; x++) {
      let u = 0;
      let d = 0;
      for (let y = 0; y < h; y++) {
        const i = (y * w + x) * 4;
        if (near(i, 38, 166, 154)) u++;
        else if (near(i, 239, 83, 80)) d++;
      }
      if (u >= 3) up++;
      if (d >= 3) down++;
    }
    return { up, down };
  });
}

describe.skipIf(!hasChromium)("dashboard in Chromium", () => {
  let server: Server;
  let browser: Browser;
  let page: Page;
  const errors: string[] = [];

  beforeAll(async () => {
    server = await serve(["--port", "0", "--file", REPLAY]);
    browser = await launch();
    page = await browser.newPage({ viewport: { width: 1280, height: 760 } });
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(server.url);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  test("connects, goes live and draws candles on the canvas", async () => {
    await page.waitForFunction(() => {
      const d = document.getElementById("app")!.dataset;
      return d.status === "live" && Number(d.candles) > 5;
    }, undefined, { timeout: 20_000 });
    expect(await page.locator("#status").innerText()).toBe("live");
    const s = await state(page);
    expect(s.symbol).toBe("BTCUSDT");
    expect(s.interval).toBe("1m");
    expect(s.lastTime % 60).toBe(0);
    expect(s.lastClose).toBeGreaterThan(40_000);
    const pixels = await candleColumns(page);
    // Both colors: a run of candles is never all up or all down, and one stray line cannot fake it.
    expect(pixels.up).toBeGreaterThan(20);
    expect(pixels.down).toBeGreaterThan(20);
    expect(await page.locator("#price").innerText()).toMatch(/^4\d,\d{3}\.\d{2}$/);
    expect(errors).toEqual([]);
  }, 30_000);

  test("candles move as the replay goes on", async () => {
    const before = await state(page);
    await page.waitForFunction(
      (b) => {
        const d = document.getElementById("app")!.dataset;
        return Number(d.candles) !== b.candles || Number(d.lastClose) !== b.lastClose || Number(d.lastTime) !== b.lastTime;
      },
      before,
      { timeout: 20_000 },
    );
  }, 30_000);

  test("the interval picker switches to 5m with a fresh snapshot", async () => {
    const before = await state(page);
    await page.click('#intervals button[data-interval="5m"]');
    await page.waitForFunction(
      (seen) => {
        const d = document.getElementById("app")!.dataset;
        return d.interval === "5m" && Number(d.snapshots) > seen && Number(d.candles) > 0;
      },
      before.snapshots,
      { timeout: 15_000 },
    );
    const s = await state(page);
    expect(s.lastTime % 300).toBe(0);
    expect(new URL(page.url()).searchParams.get("interval")).toBe("5m");
    expect(await page.getAttribute('#intervals button[data-interval="5m"]', "aria-pressed")).toBe("true");
    const pixels = await candleColumns(page);
    expect(pixels.up + pixels.down).toBeGreaterThan(10);
  }, 30_000);

  test("the symbol picker switches to ETHUSDT and its prices", async () => {
    const before = await state(page);
    expect(await page.locator("#symbol option").allInnerTexts()).toEqual(["BTCUSDT", "ETHUSDT", "SOLUSDT"]);
    await page.selectOption("#symbol", "ETHUSDT");
    await page.waitForFunction(
      (seen) => {
        const d = document.getElementById("app")!.dataset;
        return d.symbol === "ETHUSDT" && Number(d.snapshots) > seen && Number(d.candles) > 0;
      },
      before.snapshots,
      { timeout: 15_000 },
    );
    const s = await state(page);
    expect(s.interval).toBe("5m");
    expect(s.lastClose).toBeGreaterThan(1_000);
    expect(s.lastClose).toBeLessThan(10_000);
    expect(await page.locator("#pair").innerText()).toBe("ETHUSDT");
    const pixels = await candleColumns(page);
    expect(pixels.up + pixels.down).toBeGreaterThan(10);
    mkdirSync(`${ROOT}/artifacts`, { recursive: true });
    await page.screenshot({ path: `${ROOT}/artifacts/e2e.png` });
  }, 30_000);

  test("reconnects by itself and re-snapshots after the server restarts", async () => {
    const port = new URL(server.url).port;
    const before = await state(page);
    await server.stop();
    await page.waitForFunction(() => document.getElementById("app")!.dataset.status === "reconnecting", undefined, { timeout: 10_000 });
    expect(await page.locator("#status").innerText()).toBe("reconnecting");
    server = await serve(["--port", port, "--file", REPLAY]);
    await page.waitForFunction(
      (seen) => {
        const d = document.getElementById("app")!.dataset;
        return d.status === "live" && Number(d.snapshots) > seen && Number(d.candles) > 0;
      },
      before.snapshots,
      { timeout: 30_000 },
    );
    const s = await state(page);
    expect([s.symbol, s.interval]).toEqual(["ETHUSDT", "5m"]);
    expect(errors).toEqual([]);
  }, 60_000);
});

// Opt-in: the README's picture, from the real recording, with time for the averages to fill in.
describe.skipIf(!hasChromium || !process.env.DOCS_SCREENSHOT)("docs screenshot", () => {
  test("writes docs/screenshot.png", async () => {
    const file = existsSync(`${ROOT}/${REAL}`) ? REAL : REPLAY;
    const server = await serve(["--port", "0", "--file", file]);
    const browser = await launch();
    try {
      const page = await browser.newPage({ viewport: { width: 1440, height: 810 } });
      await page.goto(`${server.url}?symbol=BTCUSDT&interval=1m`);
      await page.waitForFunction(() => Number(document.getElementById("app")!.dataset.candles) >= 90, undefined, { timeout: 150_000 });
      await page.mouse.move(0, 0);
      mkdirSync(`${ROOT}/docs`, { recursive: true });
      await page.screenshot({ path: `${ROOT}/docs/screenshot.png` });
    } finally {
      await browser.close();
      await server.stop();
    }
  }, 180_000);
});
