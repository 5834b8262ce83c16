/**
 * Replays a recorded file of raw Binance WebSocket lines as a live feed: paced by the
 * recorded trade times divided by a speed factor, optionally looping forever with time and
 * ids moved forward each pass so charts keep moving and dedupe keeps every trade.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { decodeBinanceWs } from "../../lib/binance.ts";
import { normalizeTs } from "../../lib/validate.ts";
import type { Trade } from "../../lib/types.ts";
import { sleep as timerSleep } from "./backoff.ts";
import { lifecycle } from "./feed.ts";
import type { Clock, Sink, Sleep, Source, SourceStatus } from "./types.ts";

/** The shared real recording, when the checkout has it (relative to the project root). */
export const RECORDED_FILE = "../shared/fixtures/binance-spot-btcusdt-2024-08-08/trades.ws.jsonl";
/** The project's own recording, used when the shared one is absent. */
export const BUNDLED_FILE = "fixtures/replay.ws.jsonl";

/** Options of {@link replaySource}. */
export interface ReplayOptions {
  /** File of raw Binance WebSocket lines; default {@link RECORDED_FILE} if present, else {@link BUNDLED_FILE}. */
  file?: string;
  /** Recorded time runs this many times faster than the clock; default 1; 0 = as fast as the sink takes it. */
  speed?: number;
  /** Play again after the end, each pass moved forward by the recording's span; default false. */
  loop?: boolean;
  /** Stop after this many passes even when looping; default unlimited. */
  maxPasses?: number;
  /**
   * Where the recording sits in time. `recorded` (default): its own times. `start`: moved so
   * the first trade is at the clock's now (at speed 1 trade times then track the clock).
   * `end`: moved so the last trade is at now; that first pass is history, so it goes out at
   * once, unpaced, and pacing starts with the next pass (a full chart that keeps moving).
   */
  anchor?: "recorded" | "start" | "end";
  /**
   * Time shift of the first pass, ms, overriding `anchor`: give the `base()` of the run
   * being resumed, so a restarted replay keeps its timeline.
   */
  base?: number;
  /**
   * Continue right after these trade ids (per symbol, as this source emits them: recorded
   * id + pass × the symbol's id span), e.g. a restored engine's `positions()`. Together with
   * `base`, a restarted replay emits exactly what an uninterrupted one would have.
   */
  resumeAfter?: Record<string, number>;
  /**
   * Recorded trades dated after this (epoch ms, before any shift) are refused and counted in
   * `status().errors`: a recording is of the past, and one trade dated 2199 would stretch the
   * loop's span over centuries and make every later trade late. Default: no bound.
   */
  notAfter?: number;
  /** Most trades per batch; default 1000. */
  batchSize?: number;
  /** Wall clock, epoch ms; default Date.now. */
  clock?: Clock;
  /** Wait used for pacing; default a timer. */
  sleep?: Sleep;
}

/** The recording, decoded once. */
interface Recording {
  trades: Trade[];
  /** last − first trade time, ms (at least 1). */
  span: number;
  firstTs: number;
  lastTs: number;
  /** Per symbol, how far ids move each pass so they continue without overlap or hole. */
  idSpan: Map<string, number>;
  /** Per symbol, the lowest recorded id. */
  minId: Map<string, number>;
}

/** A replay source; `base()` is the time shift in use, once playing. */
export interface ReplaySource extends Source {
  base(): number | undefined;
}

/** Picks the default recording file. */
export function defaultReplayFile(): string {
  return existsSync(RECORDED_FILE) ? RECORDED_FILE : BUNDLED_FILE;
}

/**
 * Creates a replay source. Reads nothing until `start`, which resolves after the last pass
 * (never, when looping without `maxPasses`, until `stop()`). Malformed lines are counted
 * in `status().errors` and skipped.
 *
 * @example
 * const src = replaySource({ speed: 10, loop: true, anchor: "end" });
 * const run = src.start((trades) => engine.ingestMany(trades));
 */
export function replaySource(options: ReplayOptions = {}): ReplaySource {
  const speed = options.speed ?? 1;
  if (!(speed >= 0) || !Number.isFinite(speed)) throw new Error(`replay: speed must be a finite number >= 0, got ${speed}`);
  const batchSize = Math.max(1, options.batchSize ?? 1000);
  const clock = options.clock ?? Date.now;
  const sleep = options.sleep ?? timerSleep;
  const status: SourceStatus = { connected: false, reconnects: 0, backfilled: 0, gaps: 0, errors: 0 };
  let shiftInUse: number | undefined;

  async function load(file: string): Promise<Recording> {
    const trades: Trade[] = [];
    const limit = options.notAfter ?? Infinity;
    for (const line of (await readFile(file, "utf8")).split("\n")) {
      if (!line.trim()) continue;
      try {
        const trade = decodeBinanceWs(line);
        if (trade && normalizeTs(trade.ts) > limit) throw new Error(`trade ${trade.symbol} ${trade.id} is dated ${new Date(normalizeTs(trade.ts)).toISOString()}, in the future`);
        if (trade) trades.push(trade);
      } catch (error) {
        status.errors++;
        status.lastError = `${file}: ${error instanceof Error ? error.message : String(error)}`;
      }
    }
    if (trades.length === 0) throw new Error(`replay: no trades in ${file}`);
    let firstTs = Infinity;
    let lastTs = -Infinity;
    const ids = new Map<string, [number, number]>();
    for (const t of trades) {
      firstTs = Math.min(firstTs, t.ts);
      lastTs = Math.max(lastTs, t.ts);
      const [lo, hi] = ids.get(t.symbol) ?? [t.id, t.id];
      ids.set(t.symbol, [Math.min(lo, t.id), Math.max(hi, t.id)]);
    }
    const idSpan = new Map([...ids].map(([symbol, [lo, hi]]) => [symbol, hi - lo + 1]));
    const minId = new Map([...ids].map(([symbol, [lo]]) => [symbol, lo]));
    return { trades, span: Math.max(1, lastTs - firstTs), firstTs, lastTs, idSpan, minId };
  }

  /** [pass, index] of the first trade after `options.resumeAfter`: the furthest of the symbols' last trades, plus one. */
  function resumePoint(rec: Recording, file: string): [number, number] {
    const after = options.resumeAfter;
    if (!after) return [0, 0];
    const index = new Map(rec.trades.map((t, i) => [`${t.symbol}\u0000${t.id}`, i]));
    let best: [number, number] | undefined;
    for (const [symbol, id] of Object.entries(after)) {
      const span = rec.idSpan.get(symbol);
      const lo = rec.minId.get(symbol);
      if (span === undefined || lo === undefined) continue;
      const pass = Math.floor((id - lo) / span);
      const i = index.get(`${symbol}\u0000${id - pass * span}`);
      if (pass < 0 || i === undefined) throw new Error(`replay: cannot resume after ${symbol} id ${id}: no such trade in ${file}`);
      if (!best || pass > best[0] || (pass === best[0] && i > best[1])) best = [pass, i];
    }
    return best ? [best[0], best[1] + 1] : [0, 0];
  }

  async function play(rec: Recording, sink: Sink, signal: AbortSignal, file: string): Promise<void> {
    const anchor = options.anchor ?? "recorded";
    const now = clock();
    const base = options.base ?? (anchor === "start" ? now - rec.firstTs : anchor === "end" ? now - rec.lastTs : 0);
    shiftInUse = base;
    const [firstPass, firstIndex] = resumePoint(rec, file);
    const passes = options.loop ? (options.maxPasses ?? Infinity) : Math.min(1, options.maxPasses ?? 1);
    // Pacing maps recorded time to wall time from one origin, so sink delays do not accumulate drift.
    let origin: { wall: number; ts: number } | undefined;
    for (let pass = firstPass; pass < passes && !signal.aborted; pass++) {
      const shift = base + pass * rec.span;
      const paced = speed > 0 && !(anchor === "end" && pass === 0);
      let batch: Trade[] = [];
      const flush = async () => {
        if (batch.length === 0 || signal.aborted) return;
        const out = batch;
        batch = [];
        status.lastTradeTs = out[out.length - 1]!.ts;
        await sink(out);
      };
      for (let i = pass === firstPass ? firstIndex : 0; i < rec.trades.length; i++) {
        const t = rec.trades[i]!;
        const trade = { ...t, ts: t.ts + shift, id: t.id + pass * rec.idSpan.get(t.symbol)! };
        if (paced) {
          origin ??= { wall: clock(), ts: trade.ts };
          const due = origin.wall + (trade.ts - origin.ts) / speed;
          const wait = due - clock();
          if (wait > 0) {
            await flush();
            await sleep(wait, signal);
            if (signal.aborted) return;
          }
        }
        batch.push(trade);
        if (batch.length >= batchSize) await flush();
      }
      await flush();
    }
  }

  return {
    name: "replay",
    ...lifecycle("replay", async (sink, signal) => {
      const file = options.file ?? defaultReplayFile();
      const rec = await load(file);
      status.connected = true;
      try {
        await play(rec, sink, signal, file);
      } finally {
        status.connected = false;
      }
    }),
    status: () => ({ ...status }),
    base: () => shiftInUse,
  };
}
