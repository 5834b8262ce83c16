/**
 * The client process of the end-to-end benchmark (section 5): many WebSocket clients in one
 * Bun process, apart from the server's. Client i subscribes to 1 + i % 3 symbols × one
 * interval; for each candle `update` it reads the age of the newest trade from the send time
 * the trade's price carries (see e2e.ts), into histograms per wall-clock second.
 *
 * Driven by e2e.ts over IPC: `start` → `ready` once every client has its snapshots;
 * `stop` → `result`; `exit`.
 */
import { Histogram, loopLag, sinceStamp, spread, stampOf, wallMs } from "./e2e.ts";

/** The raw value after `token` (e.g. `"close":`) in a flat JSON frame: strings without quotes, numbers as text. */
export function field(frame: string, token: string): string | undefined {
  const at = frame.indexOf(token);
  if (at < 0) return undefined;
  const from = at + token.length;
  if (frame.charCodeAt(from) === 34) return frame.slice(from + 1, frame.indexOf('"', from + 1));
  let end = from;
  while (end < frame.length && frame.charCodeAt(end) !== 44 && frame.charCodeAt(end) !== 125) end++;
  return frame.slice(from, end);
}

/** The symbols client `i` of the benchmark subscribes to: 1 to 3 of them, spread evenly. */
export function symbolsOf(i: number, symbols: readonly string[]): string[] {
  return Array.from({ length: 1 + (i % 3) }, (_, j) => symbols[(i + j * 7) % symbols.length]!);
}

/** The newest trade a client has seen of one symbol. */
interface Seen {
  stamp: number;
  openTime: number;
  trades: number;
}

interface Client {
  ws: WebSocket;
  symbols: string[];
  snapshots: number;
  seen: Map<string, Seen>;
}

// Candle frames are the hot path: scanned, not parsed (the hub writes type and kind first).
const UPDATE = '{"type":"candle","kind":"update",';
const CANDLE = '{"type":"candle",';
const SYMBOL = '"symbol":';
const OPEN_TIME = '"openTime":';
const TRADES = '"trades":';
const CLOSE = '"close":';

const counts = { frames: 0, updates: 0, finals: 0, alerts: 0, heartbeats: 0, resnapshots: 0, errors: 0 };
const closes: Record<string, number> = {};
const errors: string[] = [];
const seconds = new Map<number, [Histogram, Histogram]>();
const clients: Client[] = [];
let stopping = false;
/** How far this process's own event loop falls behind (see `loopLag`). */
let lags: [number, number][] = [];

const send = (m: Record<string, unknown>) => process.send?.(m);

function bucket(now: number): [Histogram, Histogram] {
  const s = Math.floor(now / 1000);
  let h = seconds.get(s);
  if (!h) seconds.set(s, (h = [new Histogram(), new Histogram()]));
  return h;
}

function update(c: Client, frame: string, now: number): void {
  counts.updates++;
  const symbol = field(frame, SYMBOL)!;
  const openTime = Number(field(frame, OPEN_TIME));
  const trades = Number(field(frame, TRADES));
  const stamp = stampOf(field(frame, CLOSE) ?? "");
  const seen = c.seen.get(symbol);
  if (!seen) {
    c.seen.set(symbol, { stamp, openTime, trades });
    bucket(now)[0].add(sinceStamp(stamp, now));
    return;
  }
  const fresh = openTime === seen.openTime ? trades - seen.trades : openTime > seen.openTime ? trades : 0;
  // A repeat (pub/sub is at least once) or an older window shows no new trade.
  if (fresh <= 0) return;
  const newest = sinceStamp(stamp, now);
  const [newestH, everyH] = bucket(now);
  newestH.add(newest);
  spread(everyH, newest, Math.max(newest, sinceStamp(seen.stamp, now)), fresh);
  seen.stamp = stamp;
  seen.openTime = openTime;
  seen.trades = trades;
}

function connect(url: string, symbols: string[], interval: string, onReady: () => void): Client {
  const ws = new WebSocket(url);
  const c: Client = { ws, symbols, snapshots: 0, seen: new Map() };
  ws.onmessage = (ev) => {
    const now = wallMs();
    const frame = ev.data as string;
    counts.frames++;
    if (frame.startsWith(UPDATE)) return update(c, frame, now);
    if (frame.startsWith(CANDLE)) return void counts.finals++;
    const msg = JSON.parse(frame) as { type: string; symbol?: string; code?: string; message?: string };
    if (msg.type === "hello") ws.send(JSON.stringify({ op: "subscribe", symbols, intervals: [interval] }));
    else if (msg.type === "snapshot") {
      if (c.snapshots < symbols.length) {
        if (++c.snapshots === symbols.length) onReady();
      } else {
        // Caught up after being conflated: the next update starts afresh.
        counts.resnapshots++;
        c.seen.delete(msg.symbol!);
      }
    } else if (msg.type === "alert") counts.alerts++;
    else if (msg.type === "heartbeat") counts.heartbeats++;
    else if (msg.type === "error") {
      counts.errors++;
      if (errors.length < 20) errors.push(`${msg.code}: ${msg.message}`);
    }
  };
  ws.onclose = (ev) => {
    if (!stopping) closes[ev.code] = (closes[ev.code] ?? 0) + 1;
  };
  ws.onerror = () => {
    if (!stopping && errors.length < 20) errors.push("socket error");
  };
  return c;
}

function start(url: string, n: number, symbols: string[], interval: string): void {
  let ready = 0;
  let told = false;
  const tell = () => {
    if (told) return;
    told = true;
    send({ type: "ready", ready, pairs: clients.reduce((sum, c) => sum + c.symbols.length, 0) });
  };
  for (let i = 0; i < n; i++) {
    clients.push(connect(url, symbolsOf(i, symbols), interval, () => {
      if (++ready === n) tell();
    }));
  }
  // Report what is there rather than wait forever; the driver prints the count.
  setTimeout(tell, 15_000);
  lags = loopLag(() => stopping);
}

if (import.meta.main) {
  process.on("message", (m: { type: string; url?: string; clients?: number; symbols?: string[]; interval?: string }) => {
    if (m.type === "start") start(m.url!, m.clients!, m.symbols!, m.interval!);
    else if (m.type === "clock") send({ type: "clock", t: wallMs() });
    else if (m.type === "stop") {
      stopping = true;
      const out: Record<string, [number[], number[]]> = {};
      for (const [s, [newest, every]] of seconds) out[s] = [newest.toSparse(), every.toSparse()];
      send({ type: "result", counts, closes, errors, seconds: out, lags });
    } else if (m.type === "exit") {
      for (const c of clients) c.ws.close(1000);
      process.exit(0);
    }
  });
}
