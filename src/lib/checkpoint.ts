/**
 * The checkpoint format, version 1:
 *
 *   "CFCK" | version u8 | body length u32 LE | body | CRC-32 u32 LE of all before it
 *
 * The body holds the options (canonical JSON), the driver's offsets, the counters and
 * every symbol in name order with its watermark, id state and windows. Same state, same
 * bytes: nothing depends on insertion order, and doubles never carry NaN payloads.
 */
import { corrupt, crc32, Reader, Writer } from "./codec.ts";
import type { Sum } from "./sum.ts";
import { CandleflowError } from "./errors.ts";
import { IdTracker } from "./ids.ts";
import { plainOptions, resolveOptions, type Resolved } from "./options.ts";
import type { RuleHistory } from "./rules.ts";
import { newSymbol, type SymbolState } from "./state.ts";
import type { EngineStats } from "./types.ts";
import { Window } from "./window.ts";

/** The version this build writes and reads. */
export const CHECKPOINT_VERSION = 1;
const MAGIC = [0x43, 0x46, 0x43, 0x4b];
const STAT_KEYS: (keyof EngineStats)[] = [
  "trades", "rejected", "duplicates", "late", "revisions", "finals", "alerts", "gapsEvicted",
];

/**
 * The buffer the last checkpoint was written in, kept for the next: a new buffer of a few
 * hundred kilobytes costs page faults on every write of it, and the copy out of it then
 * costs as much again (measured: the two fresh buffers were a quarter of a 1,000-symbol
 * snapshot). It holds about one checkpoint's size, a small part of the state it encodes.
 * The core is synchronous, so no two encodings ever share it at once.
 */
let scratch: Uint8Array = new Uint8Array(1024);

/** A decoded checkpoint: the state an engine continues from. */
export interface Checkpoint {
  options: Resolved;
  offsets: string | undefined;
  stats: EngineStats;
  /** In name order; `due` is left for the engine to recompute. */
  symbols: SymbolState[];
}

/** Encodes engine state canonically. */
export function encodeCheckpoint(options: Resolved, stats: EngineStats, symbols: readonly SymbolState[], offsets: string | undefined): Uint8Array {
  const w = new Writer(scratch);
  for (const b of MAGIC) w.u8(b);
  w.u8(CHECKPOINT_VERSION);
  w.u32(0);
  w.str(canonicalJson(plainOptions(options)));
  if (offsets === undefined) w.u8(0);
  else {
    w.u8(1);
    w.str(offsets);
  }
  for (const k of STAT_KEYS) w.uint(stats[k]);
  w.uint(symbols.length);
  for (const sym of symbols) {
    w.str(sym.name);
    w.f64(sym.maxTs);
    w.f64(sym.wm);
    const ids = sym.ids.toState();
    w.uint(ids.max + 1);
    w.uint(ids.min + 1);
    w.f64(ids.minTs);
    const gaps = ids.gaps;
    w.uint(gaps.length / 4);
    for (let i = 0; i < gaps.length; i += 4) {
      w.uint(gaps[i]!);
      w.uint(gaps[i + 1]!);
      w.f64(gaps[i + 2]!);
      w.u8(gaps[i + 3]!);
    }
    for (const s of sym.series) {
      w.opt(s.lastFinal);
      w.str(s.prevClose);
      writeHistory(w, s.history);
      w.uint(s.open.length);
      for (const win of s.open) writeWindow(w, win);
      w.uint(s.done.length);
      for (const win of s.done) writeWindow(w, win);
    }
  }
  w.patchU32(5, w.length - 9);
  w.u32(crc32(w.written()));
  scratch = w.buffer;
  return w.bytes();
}

/** Decodes and checks a checkpoint; throws `CandleflowError` (`CHECKPOINT_*`) on anything wrong. */
export function decodeCheckpoint(bytes: Uint8Array): Checkpoint {
  if (!(bytes instanceof Uint8Array)) throw new CandleflowError("CHECKPOINT_CORRUPT", "checkpoint must be a Uint8Array");
  if (bytes.length < 5 || MAGIC.some((b, i) => bytes[i] !== b)) throw corrupt("not a candleflow checkpoint (bad magic)");
  if (bytes[4] !== CHECKPOINT_VERSION) {
    throw new CandleflowError("CHECKPOINT_VERSION", `checkpoint version ${bytes[4]} is not supported (this build reads ${CHECKPOINT_VERSION})`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bodyLength = bytes.length >= 9 ? view.getUint32(5, true) : -1;
  const total = 9 + bodyLength + 4;
  if (bodyLength < 0 || bytes.length < total) {
    throw new CandleflowError("CHECKPOINT_TRUNCATED", `checkpoint is truncated: ${bytes.length} bytes, header says ${Math.max(total, 9)}`);
  }
  if (bytes.length > total) throw corrupt(`${bytes.length - total} unexpected bytes after the end`);
  if (crc32(bytes, total - 4) !== view.getUint32(total - 4, true)) throw corrupt("checksum mismatch");

  const r = new Reader(bytes, 9, total - 4);
  let resolved: Resolved;
  try {
    resolved = resolveOptions(JSON.parse(r.str()));
  } catch (e) {
    throw corrupt(`options unreadable (${(e as Error).message})`);
  }
  const offsets = r.u8() === 1 ? r.str() : undefined;
  const stats = {} as EngineStats;
  for (const k of STAT_KEYS) stats[k] = r.uint();
  const symbols: SymbolState[] = [];
  const count = r.uint();
  for (let n = 0; n < count; n++) {
    const name = r.str();
    if (symbols.length > 0 && !(symbols[symbols.length - 1]!.name < name)) throw corrupt(`symbols out of order at "${name}"`);
    const maxTs = r.f64();
    const wm = r.f64();
    const max = r.uint() - 1;
    const min = r.uint() - 1;
    const minTs = r.f64();
    const gaps: number[] = [];
    const gapCount = r.uint();
    for (let g = 0; g < gapCount; g++) gaps.push(r.uint(), r.uint(), r.f64(), r.u8());
    const sym = newSymbol(resolved, name, IdTracker.fromState({ max, min, minTs, gaps }));
    sym.maxTs = maxTs;
    sym.wm = wm;
    for (const s of sym.series) {
      s.lastFinal = r.opt();
      s.prevClose = r.str();
      // What the checkpoint holds wins over what the rules would start with.
      s.history = readHistory(r);
      s.open = readWindows(r, name, s.label, s.size);
      s.done = readWindows(r, name, s.label, s.size);
    }
    symbols.push(sym);
  }
  if (!r.done()) throw corrupt("body has bytes left over");
  return { options: resolved, offsets, stats, symbols };
}

function writeHistory(w: Writer, h: RuleHistory | null): void {
  if (h === null) {
    w.u8(0);
    return;
  }
  w.u8(1);
  w.opt(h.prevClose);
  w.uint(h.returns.length);
  for (const x of h.returns) w.f64(x);
  w.uint(h.volumes.length);
  for (const x of h.volumes) w.f64(x);
}

function readHistory(r: Reader): RuleHistory | null {
  const flag = r.u8();
  if (flag === 0) return null;
  if (flag !== 1) throw corrupt(`history flag ${flag}`);
  const prevClose = r.opt();
  const returns = Array.from({ length: r.uint() }, () => r.f64());
  const volumes = Array.from({ length: r.uint() }, () => r.f64());
  return { prevClose, returns, volumes };
}

function writeWindow(w: Writer, win: Window): void {
  w.f64(win.openTime);
  w.uint(win.trades);
  w.uint(win.rev);
  w.u8(win.final ? 1 : 0);
  // Open and close times lie inside the window: small offsets from its start.
  w.uint(win.trades === 0 ? 0 : win.oTs - win.openTime); w.uint(win.oId); w.uint(win.oM); w.u8(win.oE);
  w.uint(win.trades === 0 ? 0 : win.cTs - win.openTime); w.uint(win.cId); w.uint(win.cM); w.u8(win.cE);
  w.uint(win.hM); w.u8(win.hE);
  w.uint(win.lM); w.u8(win.lE);
  writeSum(w, win.volume);
  writeSum(w, win.quote);
  writeSum(w, win.buyVolume);
  writeSum(w, win.buyQuote);
}

/** A sum: number part, scale, then its BigInt part only when there is one (rare). */
function writeSum(w: Writer, sum: Sum): void {
  w.uint(sum.small);
  w.u8(sum.scale);
  if (sum.big === 0n) w.u8(0);
  else {
    w.u8(1);
    w.str(sum.big.toString());
  }
}

function readWindows(r: Reader, symbol: string, label: string, size: number): Window[] {
  const list: Window[] = [];
  const n = r.uint();
  for (let i = 0; i < n; i++) {
    const openTime = r.f64();
    if (list.length > 0 && !(list[list.length - 1]!.openTime < openTime)) throw corrupt(`windows out of order in ${symbol} ${label}`);
    const win = new Window(symbol, label, openTime, openTime + size);
    win.trades = r.uint();
    win.rev = r.uint();
    win.final = r.u8() === 1;
    win.oTs = openTime + inside(r, size); win.oId = r.uint(); win.oM = r.uint(); win.oE = scale(r);
    win.cTs = openTime + inside(r, size); win.cId = r.uint(); win.cM = r.uint(); win.cE = scale(r);
    win.hM = r.uint(); win.hE = scale(r);
    win.lM = r.uint(); win.lE = scale(r);
    readSum(r, win.volume);
    readSum(r, win.quote);
    readSum(r, win.buyVolume);
    readSum(r, win.buyQuote);
    list.push(win);
  }
  return list;
}

function readSum(r: Reader, sum: Sum): void {
  sum.small = r.uint();
  sum.scale = r.u8();
  if (sum.scale > 40) throw corrupt(`sum scale ${sum.scale}`);
  const flag = r.u8();
  if (flag === 0) return;
  const big = r.str();
  if (flag !== 1 || !/^[1-9][0-9]*$/.test(big)) throw corrupt(`sum "${big.slice(0, 20)}" is not a positive integer`);
  sum.big = BigInt(big);
}

/** An offset from a window's start that must fall inside it. */
function inside(r: Reader, size: number): number {
  const at = r.uint();
  if (at >= size) throw corrupt(`time offset ${at} outside a ${size} ms window`);
  return at;
}

function scale(r: Reader): number {
  const e = r.u8();
  if (e > 18) throw corrupt(`price scale ${e}`);
  return e;
}

/** JSON with object keys sorted at every depth: one text per value. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]]))
      : v,
  );
}
