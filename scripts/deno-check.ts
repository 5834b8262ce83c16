/**
 * Replays a recorded Binance WebSocket trade stream through the core and prints
 * `{ candles, snapshotHex }` as JSON, so runs on different runtimes can be compared byte for byte.
 *
 *   deno run --allow-read scripts/deno-check.ts <trades.ws.jsonl> [maxLines]
 *   bun scripts/deno-check.ts <trades.ws.jsonl> [maxLines]
 *
 * scripts/node-check.mjs does the same computation under Node against the built package.
 */
import options from "./portability.json" with { type: "json" };
import { decodeBinanceWs } from "../src/lib/binance.ts";
import { Engine } from "../src/lib/index.ts";
import type { Candle, EngineEvent, EngineOptions, Trade } from "../src/lib/index.ts";

/** Engine options of every portability run, shared with node-check.mjs. */
export const OPTIONS: EngineOptions = options;

/** What a portability run prints. */
export interface ReplayResult {
  /** Every `final` and `revision` candle, in emission order, ending with the flush at end of input. */
  candles: Candle[];
  /** Lowercase hex of `snapshot()` taken after the last trade, before the flush. */
  snapshotHex: string;
}

/** Runs the lines through one engine and collects what a user would compare across runtimes. */
export function replay(lines: string[]): ReplayResult {
  const trades: Trade[] = [];
  for (const line of lines) {
    const trade = line.trim() === "" ? null : decodeBinanceWs(line);
    if (trade) trades.push(trade);
  }
  const engine = new Engine(OPTIONS);
  const candles: Candle[] = [];
  const keep = (events: EngineEvent[]): void => {
    for (const e of events) if (e.type === "final" || e.type === "revision") candles.push(e.candle);
  };
  keep(engine.ingestMany(trades));
  const snapshot = engine.snapshot(`lines:${lines.length}`);
  keep(engine.flush());
  return { candles, snapshotHex: hex(snapshot) };
}

/** Bytes → lowercase hex. */
export function hex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

/** The first `max` non-empty lines of a JSONL text. */
export function firstLines(text: string, max = Infinity): string[] {
  return text.split("\n").filter((l) => l.trim() !== "").slice(0, max);
}

interface Runtime {
  args?: string[];
  readTextFileSync?(path: string): string;
}

if (import.meta.main) {
  // Deno's globals are reached through globalThis so this file also type-checks and runs under Bun.
  const deno = (globalThis as { Deno?: Runtime }).Deno;
  const args = deno?.args ?? (globalThis as { process?: { argv: string[] } }).process?.argv.slice(2) ?? [];
  const [input, max] = args;
  if (!input) throw new Error("usage: deno run --allow-read scripts/deno-check.ts <trades.ws.jsonl> [maxLines]");
  const text = deno?.readTextFileSync ? deno.readTextFileSync(input) : await Bun.file(input).text();
  console.log(JSON.stringify(replay(firstLines(text, max ? Number(max) : Infinity))));
}
