/**
 * One Durable Object per symbol: it owns the symbol's `Engine`, and each ingest commits the
 * candles it produced, its alerts, the engine snapshot and the source offsets (the last trade id
 * pulled, the next offset of the Upstash trade log) in one storage transaction — exactly once
 * within the object. A restarted object
 * restores the engine from that snapshot before it takes any call, so it continues exactly
 * where the last commit left it.
 *
 * WebSocket clients of the symbol are accepted with the hibernation API and served by the same
 * hub as on Bun (protocol, snapshots, conflation), fed in process from this object's commits.
 * The hub runs without timers, so an object whose clients are idle can hibernate: heartbeats
 * come from the object's alarm, set while clients are connected and left unset after the last
 * one, and each socket carries its subscribed intervals in its attachment. An object that wakes
 * (a frame, an ingest, the alarm) adopts every socket it still has with those subscriptions:
 * the clients see no new hello and no new snapshot, and live frames go on. What a wake does
 * not keep is per-client bookkeeping: rate-limit buckets start full, invalid-frame counts at 0.
 * A `{"op":"ping"}` stays a message the object answers (it wakes the object): its pong carries
 * the time, which the platform's fixed auto-response cannot.
 *
 * With Upstash on, the object reads its symbol's partition stream of the Upstash trade log
 * itself: partitions are shared by several symbols (Kafka's partitioner), and each object
 * keeps its own offset and its own symbol's trades. One object per partition would save the
 * reads of other symbols' entries, but would split the API's one-object-per-symbol routing and
 * make one object's commit hold several symbols; reading a shared stream costs one request
 * per page. After each commit the object mirrors its candles to the Upstash cache.
 */
import { DurableObject, type DurableObjectState, type DurableSocket } from "cloudflare:workers";
import { Engine } from "../../../lib/engine.ts";
import type { Alert, Candle, EngineEvent, Trade } from "../../../lib/types.ts";
import { durableStore } from "../../adapters/durable-store.ts";
import { AdapterError, type AdapterErrorCode } from "../../adapters/errors.ts";
import { memoryCache } from "../../adapters/memory-cache.ts";
import type { CandleStore } from "../../adapters/types.ts";
import { kafkaPartition, upstashLog, type UpstashLog } from "../../adapters/upstash-log.ts";
import { createHub } from "../../hub/hub.ts";
import type { Hub, HubSocket } from "../../hub/types.ts";
import { isCandleEvent, windowKey } from "../../pipeline/events.ts";
import { publisher, type Publisher } from "../../pipeline/publisher.ts";
import { topics, type Topics } from "../topics.ts";
import { settings, type Env, type Settings } from "./env.ts";
import { mirror } from "./mirror.ts";

/** The checkpoint's key in the object's storage (one engine per object). */
const CHECKPOINT = "engine";

/** What one ingest did. */
export interface IngestResult {
  /** Trades aggregated (not duplicates, not late, not rejected). */
  trades: number;
  duplicates: number;
  late: number;
  rejected: number;
  /** Why trades were refused (the first few). */
  rejections: string[];
  /** Candle rows written. */
  candles: number;
  alerts: number;
}

/** A store read's answer over RPC: the value, or the adapter error it threw (RPC keeps only an error's message). */
export type ReadResult = { ok: true; value: unknown } | { ok: false; adapter: string; code: AdapterErrorCode; message: string };

/** The store reads the worker's API makes. */
export type ReadMethod = "candles" | "latest" | "symbols" | "alerts" | "loadCheckpoint" | "health";

/** Where a symbol's sources resume, as the checkpoint's offsets JSON. */
interface Offsets {
  /** Last exchange trade id pulled. */
  pulled?: number;
  /** The next offset to read of the symbol's partition of the Upstash trade log. */
  log?: { partition: number; next: number };
}

/** What one `follow` of the Upstash trade log did. */
export interface Followed {
  partition: number;
  /** Log entries read (every symbol of the partition). */
  read: number;
  /** This symbol's trades aggregated. */
  trades: number;
  /** Entries that were no trade, skipped. */
  poison: number;
  /** Offset the next read starts at. */
  next: number;
}

/**
 * What a socket's attachment holds (kept by the platform across hibernation, at most 2 KiB):
 * the object's symbol and the intervals the client is subscribed to, in the order it asked.
 */
interface Attachment {
  v: 1;
  symbol: string;
  intervals: string[];
}

/** Log entries per read: one request each. */
const PAGE = 1000;

/** The Durable Object of one symbol. */
export class SymbolObject extends DurableObject<Env> {
  private readonly store: CandleStore;
  private readonly config: Settings;
  private engine!: Engine;
  private offsets: Offsets = {};
  private fence: string | null = null;
  private turn: Promise<unknown> = Promise.resolve();
  private symbol: string | undefined;
  private readonly cache = memoryCache();
  private readonly publish = publisher(this.cache, { clock: Date.now, everyMs: 0, onError: (e) => console.error("publish:", e) });
  private live: { hub: Hub; rooms: Topics } | undefined;
  private readonly sockets = new Map<WebSocket, HubSocket>();
  private readonly mirror: Publisher | undefined;
  private log: UpstashLog | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = durableStore(ctx.storage);
    this.config = settings(env);
    this.mirror = this.config.upstash ? mirror(this.config.upstash) : undefined;
    void ctx.blockConcurrencyWhile(async () => {
      await this.load();
      this.adopt();
      if (this.sockets.size > 0) await this.beating();
    });
  }

  /** Restores the engine and offsets from the last commit (a fresh engine when there is none). */
  private async load(): Promise<void> {
    const cp = await this.store.loadCheckpoint(CHECKPOINT);
    this.engine = cp ? Engine.restore(cp.bytes) : new Engine({ intervals: this.config.intervals, ...(this.config.maxIdGaps ? { maxIdGaps: this.config.maxIdGaps } : {}) });
    this.offsets = cp ? (JSON.parse(cp.offsets) as Offsets) : {};
    this.fence = cp?.offsets ?? null;
  }

  /** Runs calls that change the engine one at a time. */
  private serial<T>(run: () => Promise<T>): Promise<T> {
    const next = this.turn.then(run);
    this.turn = next.catch(() => {});
    return next;
  }

  /**
   * Aggregates `trades` and commits what they produced with the snapshot. `pulled`: the last
   * exchange id these trades were pulled up to, kept as the source offset. A failed commit
   * puts the engine back to the last committed state and throws.
   */
  async ingest(symbol: string, trades: Trade[], pulled?: number): Promise<IngestResult> {
    this.symbol ??= symbol;
    return this.serial(() => this.apply((e) => e.ingestMany(trades), pulled === undefined ? this.offsets : { ...this.offsets, pulled: Math.max(pulled, this.offsets.pulled ?? -1) }));
  }

  /**
   * Reads the symbol's partition of the Upstash trade log from the stored stream offset, at
   * most `PULL_PAGES` pages and at most `TRADES_PER_CALL` entries (the next cron run goes on
   * from there), keeping this symbol's trades; each page is one commit holding the offset after
   * it, so a page is aggregated exactly once. `undefined` when Upstash is off.
   */
  async follow(symbol: string): Promise<Followed | undefined> {
    this.symbol ??= symbol;
    const log = this.tradeLog();
    if (!log) return undefined;
    return this.serial(async () => {
      const p = kafkaPartition(symbol, (await log.partitions()).length);
      let from = this.offsets.log?.partition === p ? this.offsets.log.next : await log.lowWatermark(p);
      const done: Followed = { partition: p, read: 0, trades: 0, poison: 0, next: from };
      for (let page = 0; page < this.config.pullPages && done.read < this.config.tradesPerCall; page++) {
        const size = Math.min(PAGE, this.config.tradesPerCall - done.read);
        let batch;
        try {
          batch = await log.read(p, from, size);
        } catch (e) {
          if (!(e instanceof AdapterError) || e.code !== "OFFSET_OUT_OF_RANGE") throw e;
          // Fell behind the log's retention: the trades in between are gone; the engine's id gaps say which.
          const low = await log.lowWatermark(p);
          if (low <= from) throw e;
          console.error(`${symbol}: partition ${p} dropped offsets ${from}..${low - 1} before they were read`);
          from = low;
          continue;
        }
        const mine = batch.records.flatMap((r) => (r.trade.symbol === symbol ? [r.trade] : []));
        const r = await this.apply((e) => e.ingestMany(mine), { ...this.offsets, log: { partition: p, next: batch.next } });
        done.read += batch.next - from;
        done.trades += r.trades;
        done.poison += batch.poison?.length ?? 0;
        done.next = from = batch.next;
        if (batch.records.length + (batch.poison?.length ?? 0) < size) break;
      }
      return done;
    });
  }

  /** Moves the engine's clock to `now`, closing the windows it ends, and commits what that produced. */
  async advance(now: number): Promise<IngestResult> {
    return this.serial(() => this.apply((e) => e.advance(now), this.offsets));
  }

  /** Runs `step` on the engine and commits its events with the snapshot and `next` offsets, in one transaction. */
  private async apply(step: (engine: Engine) => EngineEvent[], next: Offsets): Promise<IngestResult> {
    const before = this.engine.stats();
    const events = step(this.engine);
    const candles = new Map<string, Candle>();
    const result: IngestResult = { trades: 0, duplicates: 0, late: 0, rejected: 0, rejections: [], candles: 0, alerts: 0 };
    const alerts: Alert[] = [];
    for (const e of events) {
      if (isCandleEvent(e)) candles.set(windowKey(e.candle), e.candle);
      else if (e.type === "alert") alerts.push(e.alert);
      else if (e.type === "rejected" && result.rejections.length < 10) result.rejections.push(`${e.reason}: ${e.detail}`);
    }
    const offsets = JSON.stringify(next);
    try {
      await this.store.commit({ candles: [...candles.values()], alerts, checkpoint: { key: CHECKPOINT, bytes: this.engine.snapshot(offsets), offsets, previous: this.fence } });
    } catch (e) {
      await this.load();
      throw e;
    }
    this.offsets = next;
    this.fence = offsets;
    this.publish.queue(events);
    this.mirror?.queue(events);
    await Promise.all([this.publish.flush(), this.mirror?.flush()]);
    const after = this.engine.stats();
    return {
      ...result, trades: after.trades - before.trades, duplicates: after.duplicates - before.duplicates, late: after.late - before.late,
      rejected: after.rejected - before.rejected, candles: candles.size, alerts: alerts.length,
    };
  }

  /** The Upstash trade log, made on first use; none when Upstash is off. */
  private tradeLog(): UpstashLog | undefined {
    const u = this.config.upstash;
    return u ? (this.log ??= upstashLog(u)) : undefined;
  }

  /** The last exchange trade id pulled, where the next scheduled pull starts after. */
  async cursor(): Promise<number | undefined> {
    return this.offsets.pulled;
  }

  /** A read of this object's store, for the worker's API. */
  async read(method: ReadMethod, args: unknown[]): Promise<ReadResult> {
    try {
      return { ok: true, value: await (this.store[method] as (...a: unknown[]) => Promise<unknown>)(...args) };
    } catch (e) {
      if (!(e instanceof AdapterError)) throw e;
      return { ok: false, adapter: e.adapter, code: e.code, message: e.message.slice(e.adapter.length + 2) };
    }
  }

  /** `/ws?symbol=`: a WebSocket client of this symbol. */
  async fetch(request: Request): Promise<Response> {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") return new Response("expected a WebSocket upgrade", { status: 426 });
    this.symbol ??= new URL(request.url).searchParams.get("symbol") ?? undefined;
    const pair = new WebSocketPair();
    const ws = pair[1] as DurableSocket;
    this.ctx.acceptWebSocket(ws);
    const attached: Attachment = { v: 1, symbol: this.symbol ?? "", intervals: [] };
    ws.serializeAttachment(attached);
    const socket = this.wrap(ws);
    void this.hub().hub.websocket.open(socket);
    await this.beating();
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  async webSocketMessage(ws: DurableSocket, message: string | ArrayBuffer): Promise<void> {
    const socket = this.sockets.get(ws);
    if (!socket || !this.live) return ws.close(1012, "restarted: reconnect for a fresh snapshot");
    const { hub } = this.live;
    await hub.websocket.message(socket, message);
    const intervals = hub.pairs(socket).map(([, interval]) => interval);
    const had = ws.deserializeAttachment() as Attachment;
    if (intervals.join() !== had.intervals.join()) ws.serializeAttachment({ ...had, intervals } satisfies Attachment);
    // The snapshots the frame asked for go out before this event ends, so the object cannot hibernate between.
    await hub.settled();
  }

  /** The heartbeat: one alarm every `heartbeatMs` while clients are connected; none after the last one. */
  async alarm(): Promise<void> {
    if (!this.live || this.sockets.size === 0) return;
    this.live.hub.sweep();
    this.live.hub.beat();
    await this.ctx.storage.setAlarm(Date.now() + this.config.heartbeatMs);
  }

  /** Clients connected, and the next heartbeat's time (null: none set). */
  async clients(): Promise<{ clients: number; heartbeatAt: number | null }> {
    return { clients: this.sockets.size, heartbeatAt: await this.ctx.storage.getAlarm() };
  }

  private async beating(): Promise<void> {
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + this.config.heartbeatMs);
  }

  /** The hub's socket over a hibernatable one. */
  private wrap(ws: DurableSocket): HubSocket {
    const socket = this.hub().rooms.socket({
      send: (data) => ws.send(data),
      close: (code, reason) => ws.close(code, reason),
      get readyState() {
        return ws.readyState;
      },
      // workerd does not report what it holds for a socket: the hub's slow-client rules see 0.
      bufferedAmount: 0,
    });
    this.sockets.set(ws, socket);
    return socket;
  }

  /** After a wake: the sockets the platform kept for this object, back in the hub with the subscriptions their attachments hold. */
  private adopt(): void {
    for (const ws of this.ctx.getWebSockets()) {
      const attached = ws.deserializeAttachment() as Attachment | null;
      if (attached?.v !== 1) {
        ws.close(1012, "restarted: reconnect for a fresh snapshot");
        continue;
      }
      if (attached.symbol) this.symbol ??= attached.symbol;
      this.hub().hub.websocket.adopt(this.wrap(ws), attached.intervals.map((i) => [attached.symbol, i] as const));
    }
  }

  async webSocketClose(ws: DurableSocket, code: number): Promise<void> {
    this.forget(ws);
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, "closed");
    } catch {
      // already closed
    }
  }

  async webSocketError(ws: DurableSocket): Promise<void> {
    this.forget(ws);
  }

  /** The hub, started with the first client (no timers: the alarm beats). */
  private hub(): { hub: Hub; rooms: Topics } {
    if (this.live) return this.live;
    const hub = createHub({
      cache: this.cache, store: this.store, intervals: this.config.intervals, symbols: async () => (this.symbol ? [this.symbol] : []),
      heartbeatMs: this.config.heartbeatMs, timers: false, onError: (e) => console.error("ws:", e),
    });
    const rooms = topics({ backpressureBytes: hub.limits.slowBytes });
    hub.attach(rooms.fanout);
    return (this.live = { hub, rooms });
  }

  private forget(ws: WebSocket): void {
    const socket = this.sockets.get(ws);
    if (!socket || !this.live) return;
    this.sockets.delete(ws);
    this.live.rooms.drop(socket);
    this.live.hub.websocket.close(socket);
    if (this.sockets.size === 0) {
      const { hub } = this.live;
      this.live = undefined;
      void hub.close();
      void this.ctx.storage.deleteAlarm();
    }
  }
}
