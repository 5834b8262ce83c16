/**
 * What the workerd tests share: the worker bundled with Bun.build and started in workerd
 * through Miniflare as `wrangler.toml` configures it, its API read back page by page, and
 * the in-process engine the worker's candles are compared with.
 */
import { expect } from "bun:test";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Miniflare } from "miniflare";
import { decodeBinanceWs } from "../../../lib/binance.ts";
import { Engine } from "../../../lib/engine.ts";
import type { Candle, Trade } from "../../../lib/types.ts";
import { memoryStore } from "../../adapters/memory-store.ts";
import { isCandleEvent } from "../../pipeline/events.ts";
import type { RawTrade } from "../../testing/binance.ts";

export const ROOT = join(import.meta.dir, "../../../..");
export const SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT"];
export const INTERVALS = ["1m", "5m", "15m", "1h"];
export const wrangler = Bun.TOML.parse(readFileSync(join(ROOT, "wrangler.toml"), "utf8")) as { compatibility_date: string; compatibility_flags: string[] };
export const recorded: Trade[] = readFileSync(join(ROOT, "fixtures/replay.ws.jsonl"), "utf8").split("\n").filter(Boolean).map((l) => decodeBinanceWs(l)).filter((t): t is Trade => t !== null);

const started: Miniflare[] = [];
/** Directories to remove at cleanup. */
export const dirs: string[] = [];
let built: Promise<string> | undefined;

/** The worker as one ES module, `cloudflare:workers` left to the platform (built once). */
export function bundle(): Promise<string> {
  built ??= Bun.build({ entrypoints: [join(import.meta.dir, "worker.ts")], target: "browser", format: "esm", external: ["cloudflare:workers"] }).then((out) => {
    if (!out.success) throw new AggregateError(out.logs, "bundle failed");
    return out.outputs[0]!.text();
  });
  return built;
}

/** Disposes every worker still running and removes `dirs`. */
export async function cleanup(): Promise<void> {
  for (const mf of started.splice(0)) await mf.dispose();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** A worker in workerd, configured as `wrangler.toml` says, with `vars` over the test's. */
export async function start(vars: Record<string, string> = {}, persist?: string, more: Record<string, unknown> = {}): Promise<Miniflare> {
  const mf = new Miniflare({
    ...more, modules: true, script: await bundle(), compatibilityDate: wrangler.compatibility_date, compatibilityFlags: wrangler.compatibility_flags,
    durableObjects: { CANDLES: { className: "SymbolObject", useSQLite: true } },
    bindings: { SYMBOLS: SYMBOLS.join(","), INTERVALS: INTERVALS.join(","), EXCHANGE_REST_URL: "", ...vars },
    ...(persist ? { durableObjectsPersist: persist } : {}),
  });
  started.push(mf);
  await mf.ready;
  return mf;
}

export async function stop(mf: Miniflare): Promise<void> {
  started.splice(started.indexOf(mf), 1);
  await mf.dispose();
}

/**
 * `dispatchFetch`, sent again once if its pooled connection was reset: a 413 answered before its
 * body was read leaves the connection to be reset under the next request (safe to resend: reads
 * are reads, and the objects drop trades they already hold).
 */
const dispatch = (mf: Miniflare, url: string, init?: Parameters<Miniflare["dispatchFetch"]>[1]) =>
  mf.dispatchFetch(url, init).catch((e: { code?: string }) => (e.code === "ECONNRESET" ? mf.dispatchFetch(url, init) : Promise.reject(e)));

export const get = async (mf: Miniflare, path: string) => {
  const res = await dispatch(mf, `http://candleflow.test${path}`);
  return { status: res.status, body: (await res.json()) as any };
};

export const ingest = async (mf: Miniflare, trades: Trade[], init: { headers?: Record<string, string>; body?: string } = {}) => {
  const res = await dispatch(mf, "http://candleflow.test/api/v1/ingest", {
    method: "POST", headers: { "content-type": "application/json", ...init.headers }, body: init.body ?? JSON.stringify({ trades }),
  });
  return { status: res.status, body: (await res.json()) as any };
};

export const inBatches = async (mf: Miniflare, trades: Trade[], size = 400) => {
  for (let i = 0; i < trades.length; i += size) expect((await ingest(mf, trades.slice(i, i + size))).status).toBe(200);
};

/** Every candle of (symbol, interval) through the API, page by page. */
export async function allCandles(mf: Miniflare, symbol: string, interval: string): Promise<Candle[]> {
  const out: Candle[] = [];
  let cursor: string | null = null;
  do {
    const page = await get(mf, `/api/v1/candles/${symbol}?interval=${interval}&limit=7${cursor ? `&cursor=${cursor}` : ""}`);
    expect(page.status).toBe(200);
    out.push(...page.body.candles);
    cursor = page.body.cursor;
  } while (cursor);
  return out;
}

/** The in-process path: the engine over `trades` committed to the reference store, as a processor on Bun does. */
export async function embedded(trades: Trade[], batch = 1000) {
  const store = memoryStore();
  const engine = new Engine({ intervals: INTERVALS });
  for (let i = 0; i < trades.length; i += batch) {
    const candles = engine.ingestMany(trades.slice(i, i + batch)).filter(isCandleEvent).map((e) => e.candle);
    await store.commit({ candles, alerts: [] });
  }
  return store;
}

export async function expectParity(mf: Miniflare, trades: Trade[]): Promise<number> {
  const expected = await embedded(trades);
  let n = 0;
  for (const symbol of new Set(trades.map((t) => t.symbol))) {
    for (const interval of INTERVALS) {
      const want = (await expected.candles(symbol, interval, { limit: 5000 })).candles;
      expect(want.length).toBeGreaterThan(0);
      expect(await allCandles(mf, symbol, interval)).toEqual(want);
      n += want.length;
    }
  }
  return n;
}

export const fromRaw = (t: RawTrade): Trade => ({ symbol: t.s, id: t.t, price: t.p, qty: t.q, ts: t.T, side: t.m ? "sell" : "buy", count: 1 });

/** A client of `/ws?symbol=` (of `/ws`, the page's, without `symbol`) that keeps every frame. */
export async function client(mf: Miniflare, symbol?: string) {
  const res = await mf.dispatchFetch(`http://candleflow.test/ws${symbol === undefined ? "" : `?symbol=${symbol}`}`, { headers: { upgrade: "websocket" } });
  const ws = res.webSocket!;
  expect(ws).toBeTruthy();
  const frames: any[] = [];
  const waiters: { ok: (f: any[]) => boolean; resolve: () => void }[] = [];
  ws.addEventListener("message", (e: { data: unknown }) => {
    frames.push(JSON.parse(String(e.data)));
    for (const w of waiters.filter((x) => x.ok(frames))) (waiters.splice(waiters.indexOf(w), 1), w.resolve());
  });
  ws.accept();
  return {
    ws, frames,
    send: (frame: unknown) => ws.send(JSON.stringify(frame)),
    until(ok: (f: any[]) => boolean, timeoutMs = 5000): Promise<void> {
      if (ok(frames)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`frames so far: ${JSON.stringify(frames).slice(0, 500)}`)), timeoutMs);
        waiters.push({ ok, resolve: () => (clearTimeout(timer), resolve()) });
      });
    },
  };
}

