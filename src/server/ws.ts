/**
 * The WebSocket hub of `/ws` (protocol version 1): subscriptions per symbol × interval, a
 * columnar snapshot per new pair, then live frames fanned out by topic from the cache's
 * pub/sub. Slow clients are taken off the topics and get fresh snapshots when they drain;
 * clients that stay slow, or keep sending invalid frames, are closed. Per-client memory is
 * bounded by the number of its subscriptions, never by how far behind it is; per-client work
 * by token buckets on frames and on the pairs they name, and snapshot reads take turns across
 * clients so a burst of them never keeps the event loop from answering HTTP.
 */
import { z } from "zod";
import { intervalMs } from "../lib/interval.ts";
import type { Alert, Candle } from "../lib/types.ts";
import { supersedes } from "./adapters/candle-order.ts";
import type { Cache, CandleStore } from "./adapters/types.ts";
import { channels } from "./pipeline/publisher.ts";
import { encode, PROTOCOL_VERSION, type CandleFrame, type SnapshotFrame } from "./protocol.ts";

/** What the hub needs of a server socket (Bun's `ServerWebSocket<HubData>` is one); `send` answers like Bun's. */
export interface HubSocket {
  data: HubData;
  send(data: string): number;
  subscribe(topic: string): unknown;
  unsubscribe(topic: string): unknown;
  getBufferedAmount(): number;
  close(code?: number, reason?: string): void;
  terminate(): void;
}

/** Per-socket slot for the hub's client state: upgrade with `{ data: {} }`. */
export type HubData = { client?: unknown };

/** Topic fan-out (Bun's `Server.publish`): -1 when some subscriber is under backpressure. */
export type Fanout = { publish(topic: string, data: string): number };

/** Bounds of the hub. Byte counts are what the server holds for one client. */
export interface HubLimits {
  /** Most symbol × interval pairs per client. */
  subscriptions: number;
  /** Largest client frame answered (larger: `TOO_LARGE`). */
  frameBytes: number;
  /** Above this the client is slow: taken off its topics, conflated. */
  slowBytes: number;
  /** Above this, or slow for `maxSlowMs`, the client is closed (1013). */
  maxBytes: number;
  maxSlowMs: number;
  /** More invalid frames than `badFrames` within `badWindowMs` closes the client (1008). */
  badFrames: number;
  badWindowMs: number;
  /** Frames a client may send per second, and in one burst; more are refused (`RATE_LIMITED`). */
  framesPerSecond: number;
  frameBurst: number;
  /** Symbol × interval pairs a client's frames may name per second, and in one burst (a frame costs one per pair). */
  pairsPerSecond: number;
  pairBurst: number;
}

/** Default {@link HubLimits}. */
export const HUB_LIMITS: HubLimits = {
  subscriptions: 200, frameBytes: 4096, slowBytes: 256 * 1024, maxBytes: 4 * 1024 * 1024, maxSlowMs: 30_000, badFrames: 20, badWindowMs: 10_000,
  // A page sends a frame or two when its user picks a symbol or an interval; a dashboard takes its
  // whole allowance of pairs at once, then a few a second. Each pair subscribed costs a snapshot read.
  framesPerSecond: 10, frameBurst: 20, pairsPerSecond: 20, pairBurst: 200,
};

/** Options of {@link createHub}. */
export interface HubOptions {
  cache: Cache;
  store: CandleStore;
  intervals: string[];
  /** Symbols clients may subscribe to. */
  symbols: () => Promise<string[]>;
  /** Default 15 000. */
  heartbeatMs?: number;
  /**
   * Default true. False: the hub sets no timer, and the runtime calls `beat` every `heartbeatMs`
   * and `sweep` as often as it likes (a Durable Object's alarm), so an idle hub keeps nothing
   * running that would hold its process in memory.
   */
  timers?: boolean;
  /** Candles per snapshot; default 300. */
  history?: number;
  limits?: Partial<HubLimits>;
  clock?: () => number;
  onError?: (error: unknown) => void;
}

/** Counters and gauges of the hub (`buffered`: bytes queued for all clients now). */
export type HubStats = Record<"clients" | "buffered" | "badMessages" | "conflated" | "closedSlow" | "closedAbusive", number>;

/** The hub: socket handlers for the runtime, the fan-out to attach once listening, stats, shutdown. */
export interface Hub {
  readonly limits: HubLimits;
  readonly websocket: {
    open(ws: HubSocket): Promise<void>;
    message(ws: HubSocket, message: string | ArrayBufferView | ArrayBuffer): Promise<void>;
    drain(ws: HubSocket): void;
    close(ws: HubSocket): void;
    /**
     * Takes on a client that already had its hello and its snapshots (a socket that outlived the
     * process that served it): `pairs` go live at once, nothing is sent.
     */
    adopt(ws: HubSocket, pairs: readonly (readonly [symbol: string, interval: string])[]): void;
  };
  /** The symbol × interval pairs a client is subscribed to, in the order it asked for them. */
  pairs(ws: HubSocket): [symbol: string, interval: string][];
  /** Settles when no snapshot read is queued or running. */
  settled(): Promise<void>;
  /** Sends a heartbeat to every client that is not slow. */
  beat(): void;
  /** The slow-client rules' periodic check (conflate, recover, close). */
  sweep(): void;
  attach(fanout: Fanout): void;
  stats(): HubStats;
  /** Stops timers and feeds, closes every client (1001). */
  close(): Promise<void>;
}

interface Sub {
  symbol: string;
  interval: string;
  /** `pending`: snapshot in flight, frames kept newest per window in `buffer`; `live`: on its topic; `stale`: owes a snapshot. */
  phase: "pending" | "live" | "stale";
  buffer: Map<number, Candle>;
}

interface Client {
  ws: HubSocket;
  subs: Map<string, Sub>;
  slowSince?: number;
  /** Alert frames missed while slow (the newest few). */
  alerts: string[];
  bad: number[];
  /** Token buckets: `take(n)` is false when the client has spent its allowance. */
  frames: Bucket;
  pairs: Bucket;
  closed: boolean;
  /** Settles once `hello` is out, so nothing overtakes it. */
  ready: Promise<void>;
}

const ALERTS_KEPT = 50;
/** Known symbols are read again at most this often (on a SQL store, listing them reads an index). */
const SYMBOLS_MS = 1000;

type Bucket = (n: number) => boolean;

/** A token bucket of `burst` tokens refilled at `rate` a second. */
function bucket(rate: number, burst: number, clock: () => number): Bucket {
  let tokens = burst;
  let at = clock();
  return (n) => {
    const now = clock();
    tokens = Math.min(burst, tokens + (Math.max(0, now - at) * rate) / 1000);
    at = now;
    if (tokens < n) return false;
    tokens -= n;
    return true;
  };
}
const Pairs = z.object({ symbols: z.array(z.string().min(1).max(64)).min(1).max(200), intervals: z.array(z.string().min(1).max(16)).min(1).max(50) });
const topic = (symbol: string, interval: string) => `c:${symbol}:${interval}`;
const alertTopic = (symbol: string) => `a:${symbol}`;
const kindOf = (k: Candle) => (!k.final ? "update" : k.rev > 0 ? "revision" : "final");

/** Builds a hub over the cache's pub/sub (live frames) and the store (snapshots). */
export function createHub(options: HubOptions): Hub {
  const { cache, store, intervals } = options;
  const limits = { ...HUB_LIMITS, ...options.limits };
  const clock = options.clock ?? Date.now;
  const history = options.history ?? 300;
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const onError = options.onError ?? ((e) => console.error("ws:", e));
  const clients = new Set<Client>();
  const slow = new Set<Client>();
  const pending = new Map<string, Set<Sub>>();
  const feeds = new Map<string, { count: number; off: Promise<(() => Promise<void>) | undefined> }>();
  const stats = { badMessages: 0, conflated: 0, closedSlow: 0, closedAbusive: 0 };
  let fanout: Fanout = { publish: () => 0 };
  let listed: { at: number; symbols: Promise<string[]> } | undefined;
  /** Snapshots waiting for their read, oldest first; a pair dropped before its turn leaves the queue unread. */
  const turns = new Map<Sub, () => Promise<void>>();
  let reading: Promise<void> | undefined;
  /** The known symbols, read again when older than SYMBOLS_MS or when `fresh` (a name was not in them). */
  const knownSymbols = (fresh = false): Promise<string[]> => {
    const now = clock();
    if (fresh || !listed || now - listed.at >= SYMBOLS_MS || now < listed.at) {
      const symbols = options.symbols();
      listed = { at: now, symbols };
      symbols.catch(() => (listed?.symbols === symbols ? (listed = undefined) : undefined));
    }
    return listed.symbols;
  };
  /**
   * Runs the queued snapshot reads one at a time across all clients, yielding to the event loop
   * after each: a SQLite read is synchronous, so a burst of them back to back would hold every
   * socket (and /health) until the last one is done.
   */
  const readTurns = () =>
    (reading ??= (async () => {
      try {
        for (const [sub, read] of turns) {
          turns.delete(sub);
          await read().catch(onError);
          await new Promise((r) => setImmediate(r));
        }
      } finally {
        reading = undefined;
      }
    })());
  const symbolsOf = (c: Client) => new Set([...c.subs.values()].map((s) => s.symbol));

  const publish = (t: string, frame: string) => {
    if (fanout.publish(t, frame) === -1) for (const c of clients) if (c.ws.getBufferedAmount() > limits.slowBytes) goSlow(c);
  };
  const send = (c: Client, frame: string) => {
    if (c.closed) return;
    const r = c.ws.send(frame);
    const buffered = c.ws.getBufferedAmount();
    if (r === 0 || buffered > limits.maxBytes) kill(c, 1013, "too slow");
    else if (r < 0 && buffered > limits.slowBytes) goSlow(c);
  };
  const reject = (c: Client, code: string, message: string) => {
    stats.badMessages++;
    const now = clock();
    c.bad = [...c.bad.filter((t) => now - t < limits.badWindowMs), now];
    send(c, encode({ type: "error", code, message }));
    if (c.bad.length > limits.badFrames) kill(c, 1008, "too many invalid frames");
  };

  // One cache subscription per channel, shared by every client that wants it.
  const acquire = (channel: string, handler: (m: string) => void) => {
    const feed = feeds.get(channel);
    if (feed) return void feed.count++;
    const guarded = (m: string) => {
      try {
        handler(m);
      } catch (e) {
        onError(e);
      }
    };
    const entry: { count: number; off: Promise<(() => Promise<void>) | undefined> } = { count: 1, off: Promise.resolve(undefined) };
    // A cache that is down now (Redis restarting) is asked again, backing off, while anyone still wants the channel.
    const attach = (waitMs: number): Promise<(() => Promise<void>) | undefined> =>
      cache.subscribe(channel, guarded).catch(async (e) => {
        onError(e);
        await new Promise((r) => setTimeout(r, waitMs));
        return feeds.get(channel) === entry ? attach(Math.min(waitMs * 2, 5000)) : undefined;
      });
    entry.off = attach(250);
    feeds.set(channel, entry);
  };
  const release = (channel: string) => {
    const feed = feeds.get(channel);
    if (!feed || --feed.count > 0) return;
    feeds.delete(channel);
    void feed.off.then((off) => off?.()).catch(onError);
  };
  const onCandle = (key: string, message: string) => {
    const e = JSON.parse(message) as { type: CandleFrame["kind"]; candle: Candle };
    for (const sub of pending.get(key) ?? []) {
      const had = sub.buffer.get(e.candle.openTime);
      if (!had || supersedes(e.candle, had)) sub.buffer.set(e.candle.openTime, e.candle);
    }
    for (const c of slow) {
      const sub = c.subs.get(key);
      if (sub?.phase === "live") sub.phase = "stale";
    }
    publish(key, encode({ type: "candle", kind: e.type, candle: e.candle }));
  };
  const onAlert = (symbol: string, message: string) => {
    // Re-encoded: the pub/sub message is the publisher's internal format, the frame is the public protocol.
    const frame = encode({ type: "alert", alert: (JSON.parse(message) as { alert: Alert }).alert });
    for (const c of slow) if (symbolsOf(c).has(symbol)) c.alerts = [...c.alerts, frame].slice(-ALERTS_KEPT);
    publish(alertTopic(symbol), frame);
  };

  /** Queues the pair's snapshot: its last `history` candles, then what arrived meanwhile, then the client goes on the topic. */
  const snapshot = (c: Client, key: string, sub: Sub) => {
    sub.phase = "pending";
    sub.buffer.clear();
    pending.set(key, (pending.get(key) ?? new Set()).add(sub));
    turns.set(sub, () => load(c, key, sub));
    void readTurns();
  };
  const load = async (c: Client, key: string, sub: Sub) => {
    let candles: Candle[] = [];
    try {
      const last = await store.latest(sub.symbol, sub.interval);
      const from = last ? last.openTime - (history - 1) * intervalMs(sub.interval) : 0;
      if (last) candles = (await store.candles(sub.symbol, sub.interval, { from, limit: history })).candles;
    } catch (e) {
      onError(e);
      const last = await cache.latest(sub.symbol, sub.interval).catch(() => undefined);
      candles = last ? [last] : [];
    }
    unwait(key, sub);
    if (c.closed || c.subs.get(key) !== sub) return;
    if (c.slowSince !== undefined) return void (sub.phase = "stale");
    const byTime = new Map(candles.map((k) => [k.openTime, k]));
    const first = candles[0]?.openTime ?? -Infinity;
    const later = [...sub.buffer.values()].sort((a, b) => a.openTime - b.openTime)
      .filter((k) => k.openTime >= first && (!byTime.has(k.openTime) || supersedes(k, byTime.get(k.openTime)!)));
    sub.buffer.clear();
    sub.phase = "live";
    send(c, encode({
      type: "snapshot", symbol: sub.symbol, interval: sub.interval,
      columns: [candles.map((k) => k.openTime / 1000), ...(["open", "high", "low", "close", "volume"] as const).map((f) => candles.map((k) => Number(k[f])))] as SnapshotFrame["columns"],
      final: candles.map((k) => k.final), candles: candles.length,
    }));
    for (const k of later) send(c, encode({ type: "candle", kind: kindOf(k), candle: k }));
    if (c.slowSince === undefined && !c.closed) c.ws.subscribe(key);
  };
  const unwait = (key: string, sub: Sub) => {
    const set = pending.get(key);
    if (set?.delete(sub) && set.size === 0) pending.delete(key);
  };

  const goSlow = (c: Client) => {
    if (c.slowSince !== undefined || c.closed) return;
    c.slowSince = clock();
    slow.add(c);
    stats.conflated++;
    for (const t of ["hb", ...c.subs.keys(), ...[...symbolsOf(c)].map(alertTopic)]) c.ws.unsubscribe(t);
  };
  const recover = (c: Client) => {
    c.slowSince = undefined;
    slow.delete(c);
    for (const t of ["hb", ...[...symbolsOf(c)].map(alertTopic)]) c.ws.subscribe(t);
    for (const frame of c.alerts.splice(0)) send(c, frame);
    for (const [key, sub] of c.subs) {
      if (sub.phase === "live") c.ws.subscribe(key);
      else if (sub.phase === "stale") snapshot(c, key, sub);
    }
  };
  const kill = (c: Client, code: 1008 | 1013, reason: string) => {
    if (c.closed) return;
    if (code === 1013) stats.closedSlow++;
    else stats.closedAbusive++;
    forget(c);
    c.ws.close(code, reason);
    // A client that stopped reading never takes the close frame; free its buffer anyway.
    if (code === 1013) setTimeout(() => c.ws.terminate(), 1000).unref?.();
  };
  const drop = (c: Client, key: string) => {
    const sub = c.subs.get(key);
    if (!sub) return;
    c.subs.delete(key);
    turns.delete(sub);
    unwait(key, sub);
    c.ws.unsubscribe(key);
    release(channels.candles(sub.symbol, sub.interval));
    if (!symbolsOf(c).has(sub.symbol)) {
      c.ws.unsubscribe(alertTopic(sub.symbol));
      release(channels.alerts(sub.symbol));
    }
  };
  const forget = (c: Client) => {
    if (c.closed) return;
    for (const key of [...c.subs.keys()]) drop(c, key);
    c.closed = true;
    clients.delete(c);
    slow.delete(c);
  };

  const subscribe = async (c: Client, symbols: string[], wanted: string[]) => {
    let known = new Set(await knownSymbols());
    if (symbols.some((s) => !known.has(s) && !known.has(s.toUpperCase()))) known = new Set(await knownSymbols(true));
    const names = symbols.map((s) => (known.has(s) ? s : s.toUpperCase()));
    const unknown = names.filter((s) => !known.has(s));
    if (unknown.length > 0) return reject(c, "UNKNOWN_SYMBOL", `unknown symbols: ${unknown.join(", ")}; known: ${[...known].sort().join(", ")}`);
    const bad = wanted.filter((i) => !intervals.includes(i));
    if (bad.length > 0) return reject(c, "UNKNOWN_INTERVAL", `unknown intervals: ${bad.join(", ")}; configured: ${intervals.join(", ")}`);
    const fresh = new Map<string, [string, string]>();
    for (const s of names) for (const i of wanted) if (!c.subs.has(topic(s, i))) fresh.set(topic(s, i), [s, i]);
    if (c.subs.size + fresh.size > limits.subscriptions) {
      return reject(c, "TOO_MANY_SUBSCRIPTIONS", `${c.subs.size} + ${fresh.size} pairs is over the limit of ${limits.subscriptions}`);
    }
    for (const [key, [symbol, interval]] of fresh) {
      if (c.closed) return;
      if (!symbolsOf(c).has(symbol)) {
        acquire(channels.alerts(symbol), (m) => onAlert(symbol, m));
        if (c.slowSince === undefined) c.ws.subscribe(alertTopic(symbol));
      }
      const sub: Sub = { symbol, interval, phase: "pending", buffer: new Map() };
      c.subs.set(key, sub);
      acquire(channels.candles(symbol, interval), (m) => onCandle(key, m));
      snapshot(c, key, sub);
    }
  };

  const sweep = () => {
    const now = clock();
    for (const c of clients) if (c.ws.getBufferedAmount() > limits.slowBytes) goSlow(c);
    for (const c of slow) {
      const buffered = c.ws.getBufferedAmount();
      if (buffered > limits.maxBytes || now - c.slowSince! > limits.maxSlowMs) kill(c, 1013, "too slow");
      else if (buffered <= limits.slowBytes / 4) recover(c);
    }
  };
  const beat = () => void fanout.publish("hb", encode({ type: "heartbeat", ts: clock() }));
  const timers = options.timers === false ? [] : [setInterval(sweep, Math.min(1000, heartbeatMs)), setInterval(beat, heartbeatMs)];

  const client = (ws: HubSocket, ready: Promise<void>): Client => {
    const c: Client = {
      ws, subs: new Map(), alerts: [], bad: [], closed: false, ready,
      frames: bucket(limits.framesPerSecond, limits.frameBurst, clock), pairs: bucket(limits.pairsPerSecond, limits.pairBurst, clock),
    };
    ws.data.client = c;
    clients.add(c);
    ws.subscribe("hb");
    return c;
  };

  const handle = async (c: Client, raw: string | ArrayBufferView | ArrayBuffer) => {
    if (!c.frames(1)) return reject(c, "RATE_LIMITED", `at most ${limits.framesPerSecond} frames a second (bursts of ${limits.frameBurst})`);
    if (typeof raw !== "string") return reject(c, "BAD_MESSAGE", "frames must be JSON text");
    if (raw.length > limits.frameBytes || (raw.length * 3 > limits.frameBytes && new TextEncoder().encode(raw).length > limits.frameBytes)) {
      return reject(c, "TOO_LARGE", `frames are at most ${limits.frameBytes} bytes`);
    }
    let msg: unknown;
    try {
      msg = JSON.parse(raw);
    } catch {
      return reject(c, "BAD_JSON", "frame is not JSON");
    }
    const op = (msg as { op?: unknown } | null)?.op;
    if (typeof msg !== "object" || Array.isArray(msg) || typeof op !== "string") return reject(c, "BAD_MESSAGE", 'expected an object with a string "op"');
    if (op === "ping") return send(c, encode({ type: "pong", ts: clock() }));
    if (op !== "subscribe" && op !== "unsubscribe") return reject(c, "UNKNOWN_OP", `unknown op "${op.slice(0, 32)}"; ops: subscribe, unsubscribe, ping`);
    const pairs = Pairs.safeParse(msg);
    if (!pairs.success) {
      const issue = pairs.error.issues[0]!;
      return reject(c, "BAD_MESSAGE", `${issue.path.join(".") || "frame"}: ${issue.message}`);
    }
    const { symbols, intervals: wanted } = pairs.data;
    if (!c.pairs(symbols.length * wanted.length)) {
      return reject(c, "RATE_LIMITED", `frames may name at most ${limits.pairsPerSecond} symbol × interval pairs a second (bursts of ${limits.pairBurst})`);
    }
    if (op === "subscribe") return subscribe(c, symbols, wanted);
    for (const s of symbols) for (const i of wanted) drop(c, c.subs.has(topic(s, i)) ? topic(s, i) : topic(s.toUpperCase(), i));
  };

  return {
    limits,
    websocket: {
      async open(ws) {
        let ready!: () => void;
        const c = client(ws, new Promise((r) => (ready = r)));
        const symbols = await knownSymbols().catch((e) => (onError(e), [] as string[]));
        send(c, encode({
          type: "hello", version: PROTOCOL_VERSION, symbols: [...symbols].sort(), intervals, heartbeatMs,
          limits: {
            subscriptions: limits.subscriptions, frameBytes: limits.frameBytes, framesPerSecond: limits.framesPerSecond, frameBurst: limits.frameBurst,
            pairsPerSecond: limits.pairsPerSecond, pairBurst: limits.pairBurst,
          },
        }));
        ready();
      },
      async message(ws, raw) {
        const c = ws.data.client as Client | undefined;
        if (!c || c.closed) return;
        await c.ready;
        await handle(c, raw).catch((e) => (onError(e), reject(c, "BAD_MESSAGE", "the frame could not be handled")));
      },
      drain(ws) {
        const c = ws.data.client as Client | undefined;
        if (c && c.slowSince !== undefined && !c.closed && ws.getBufferedAmount() <= limits.slowBytes / 4) recover(c);
      },
      close(ws) {
        const c = ws.data.client as Client | undefined;
        if (c) forget(c);
      },
      adopt(ws, pairs) {
        const c = client(ws, Promise.resolve());
        for (const [symbol, interval] of pairs) {
          const key = topic(symbol, interval);
          if (c.subs.has(key)) continue;
          if (!symbolsOf(c).has(symbol)) {
            acquire(channels.alerts(symbol), (m) => onAlert(symbol, m));
            ws.subscribe(alertTopic(symbol));
          }
          c.subs.set(key, { symbol, interval, phase: "live", buffer: new Map() });
          acquire(channels.candles(symbol, interval), (m) => onCandle(key, m));
          ws.subscribe(key);
        }
      },
    },
    pairs: (ws) => [...((ws.data.client as Client | undefined)?.subs.values() ?? [])].map((s) => [s.symbol, s.interval]),
    settled: () => reading ?? Promise.resolve(),
    beat,
    sweep,
    attach(f) {
      fanout = f;
    },
    stats: () => ({ clients: clients.size, buffered: [...clients].reduce((sum, c) => sum + c.ws.getBufferedAmount(), 0), ...stats }),
    async close() {
      for (const t of timers) clearInterval(t);
      for (const c of [...clients]) {
        forget(c);
        c.ws.close(1001, "server shutting down");
      }
      await Promise.all([...feeds.values()].map((f) => f.off.then((off) => off?.()).catch(() => {})));
      feeds.clear();
    },
  };
}
