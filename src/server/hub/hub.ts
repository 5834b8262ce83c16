/**
 * The WebSocket hub of `/ws` (protocol version 1): subscriptions per symbol × interval, a
 * columnar snapshot per new pair, then live frames fanned out by topic from the cache's
 * pub/sub. Slow clients are taken off the topics and get fresh snapshots when they drain;
 * clients that stay slow, or keep sending invalid frames, are closed. Per-client memory is
 * bounded by the number of its subscriptions, never by how far behind it is; per-client work
 * by token buckets on frames and on the pairs they name, and snapshot reads take turns across
 * clients so a burst of them never keeps the event loop from answering HTTP.
 */
import { intervalMs } from "../../lib/interval.ts";
import type { Alert, Candle } from "../../lib/types.ts";
import { supersedes } from "../adapters/candle-order.ts";
import { channels } from "../pipeline/publisher.ts";
import { encode, PROTOCOL_VERSION, type CandleFrame } from "../protocol.ts";
import { sharedFeeds } from "./feeds.ts";
import { readClientFrame } from "./frames.ts";
import { bucket, HUB_LIMITS, type Bucket } from "./limits.ts";
import { catchUpFrames } from "./snapshot.ts";
import { knownSymbols } from "./symbols.ts";
import { turns } from "./turns.ts";
import type { Fanout, Hub, HubOptions, HubSocket } from "./types.ts";

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

const topic = (symbol: string, interval: string) => `c:${symbol}:${interval}`;
const alertTopic = (symbol: string) => `a:${symbol}`;

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
  const feeds = sharedFeeds(cache, onError);
  const stats = { badMessages: 0, conflated: 0, closedSlow: 0, closedAbusive: 0 };
  let fanout: Fanout = { publish: () => 0 };
  /** Snapshot reads, one pair at a time across all clients. */
  const reads = turns<Sub>(onError);
  const listSymbols = knownSymbols(options.symbols, clock);
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
    reads.take(sub, () => load(c, key, sub));
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
    const frames = catchUpFrames(sub.symbol, sub.interval, candles, sub.buffer.values());
    sub.buffer.clear();
    sub.phase = "live";
    for (const frame of frames) send(c, frame);
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
    reads.drop(sub);
    unwait(key, sub);
    c.ws.unsubscribe(key);
    feeds.release(channels.candles(sub.symbol, sub.interval));
    if (!symbolsOf(c).has(sub.symbol)) {
      c.ws.unsubscribe(alertTopic(sub.symbol));
      feeds.release(channels.alerts(sub.symbol));
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
    let known = new Set(await listSymbols());
    if (symbols.some((s) => !known.has(s) && !known.has(s.toUpperCase()))) known = new Set(await listSymbols(true));
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
      snapshot(c, key, follow(c, key, symbol, interval, "pending"));
    }
  };
  /** Adds a pair to a client: its feeds from the cache, and its symbol's alerts when it is the first pair of that symbol. */
  const follow = (c: Client, key: string, symbol: string, interval: string, phase: Sub["phase"]): Sub => {
    if (!symbolsOf(c).has(symbol)) {
      feeds.acquire(channels.alerts(symbol), (m) => onAlert(symbol, m));
      if (c.slowSince === undefined) c.ws.subscribe(alertTopic(symbol));
    }
    const sub: Sub = { symbol, interval, phase, buffer: new Map() };
    c.subs.set(key, sub);
    feeds.acquire(channels.candles(symbol, interval), (m) => onCandle(key, m));
    return sub;
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
    const frame = readClientFrame(raw, limits.frameBytes);
    if ("code" in frame) return reject(c, frame.code, frame.message);
    if (frame.op === "ping") return send(c, encode({ type: "pong", ts: clock() }));
    const { op, symbols, intervals: wanted } = frame;
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
        const symbols = await listSymbols().catch((e) => (onError(e), [] as string[]));
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
          follow(c, key, symbol, interval, "live");
          ws.subscribe(key);
        }
      },
    },
    pairs: (ws) => [...((ws.data.client as Client | undefined)?.subs.values() ?? [])].map((s) => [s.symbol, s.interval]),
    settled: () => reads.settled(),
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
      await feeds.close();
    },
  };
}
