/**
 * A `CandleStore` over a Cloudflare Durable Object's storage: the store of the edge mode,
 * one per Durable Object. Every commit is one storage transaction, so candles, alerts and
 * the engine snapshot land together or not at all.
 *
 * Keys sort the way queries read them (storage lists keys in order):
 *
 *   c␀<symbol>␀<interval>␀<openTime>  candle          s␀<symbol>        symbol index
 *   a␀<ts>␀<alert id>                 alert           i␀<alert id>      alert seen
 *   k␀<key>                           checkpoint head k␀<key>␀<n>       snapshot chunk n
 *
 * Times are written as 17 decimal digits of `t + 2^53`, so they sort as numbers. Snapshots
 * are cut into chunks below the platform's value limit (128 KiB).
 */
import type { Alert, Candle } from "../../lib/types.ts";
import { alertRange, candleRange, checkAlert, checkCandle, cursorAt } from "./query.ts";
import { AdapterError } from "./errors.ts";
import { supersedes } from "./candle-order.ts";
import type { CandleStore, StoredCheckpoint, CommitBatch, Health } from "./types.ts";

/** Options of `DurableStorage.list`, as the platform defines them. */
export interface ListOptions {
  prefix?: string;
  /** First key, inclusive. */
  start?: string;
  /** Last key, exclusive. */
  end?: string;
  reverse?: boolean;
  limit?: number;
}

/** The reads and writes of a Durable Object's storage (or of one of its transactions) this store uses. */
export interface DurableReads {
  get<T = unknown>(keys: string[]): Promise<Map<string, T>>;
  list<T = unknown>(options: ListOptions): Promise<Map<string, T>>;
  put(entries: Record<string, unknown>): Promise<void>;
  delete(keys: string[]): Promise<number>;
}

/** `DurableObjectStorage` as far as this store uses it. */
export interface DurableStorage extends DurableReads {
  transaction<T>(closure: (txn: DurableReads) => Promise<T>): Promise<T>;
}

/** Options of {@link durableStore}. */
export interface DurableStoreOptions {
  /** Bytes per snapshot chunk; default 120 KiB, under the 128 KiB value limit. */
  chunkBytes?: number;
  /** Largest snapshot stored; default 16 MiB. A larger one is refused (`INVALID_ARGUMENT`), the store left as it was. */
  maxSnapshotBytes?: number;
}

/** Keys per get, put or delete call: the platform's limit. */
const KEYS_PER_CALL = 128;
const SEP = "\u0000";
const OFFSET = 2n ** 53n;
const time = (t: number) => (BigInt(t) + OFFSET).toString().padStart(17, "0");
const candleKey = (symbol: string, interval: string, openTime: number) => `c${SEP}${symbol}${SEP}${interval}${SEP}${time(openTime)}`;
const alertKey = (a: Alert) => `a${SEP}${time(a.ts)}${SEP}${a.id}`;
const head = (key: string) => `k${SEP}${key}`;
const chunk = (key: string, n: number) => `k${SEP}${key}${SEP}${String(n).padStart(6, "0")}`;

interface Head {
  offsets: string;
  chunks: number;
  size: number;
}

async function getMany<T>(s: DurableReads, keys: string[]): Promise<Map<string, T>> {
  const out = new Map<string, T>();
  for (let i = 0; i < keys.length; i += KEYS_PER_CALL) for (const [k, v] of await s.get<T>(keys.slice(i, i + KEYS_PER_CALL))) out.set(k, v);
  return out;
}

async function putMany(s: DurableReads, entries: Record<string, unknown>): Promise<void> {
  const keys = Object.keys(entries);
  for (let i = 0; i < keys.length; i += KEYS_PER_CALL) await s.put(Object.fromEntries(keys.slice(i, i + KEYS_PER_CALL).map((k) => [k, entries[k]])));
}

/**
 * A store over `storage` (a Durable Object's `ctx.storage`).
 *
 * @example
 * export class Candles extends DurableObject {
 *   store = durableStore(this.ctx.storage)
 * }
 */
export function durableStore(storage: DurableStorage, options: DurableStoreOptions = {}): CandleStore {
  const name = "durable-store";
  const chunkBytes = options.chunkBytes ?? 120 * 1024;
  const maxSnapshot = options.maxSnapshotBytes ?? 16 * 1024 * 1024;
  let closed = false;
  /** Runs a call on an open store; a storage failure is `UNAVAILABLE` (retryable). */
  const call = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
    if (closed) throw new AdapterError(name, "CLOSED", "store is closed");
    try {
      return await run();
    } catch (e) {
      if (e instanceof AdapterError) throw e;
      throw new AdapterError(name, "UNAVAILABLE", `${what}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
  };

  const check = (batch: CommitBatch) => {
    for (const candle of batch.candles) checkCandle(name, candle);
    for (const alert of batch.alerts) checkAlert(name, alert);
    const cp = batch.checkpoint;
    if (!cp) return;
    if (typeof cp.key !== "string" || !(cp.bytes instanceof Uint8Array) || typeof cp.offsets !== "string") {
      throw new AdapterError(name, "INVALID_ARGUMENT", "checkpoint needs a string key, Uint8Array bytes and a string offsets");
    }
    if (cp.bytes.length > maxSnapshot) {
      throw new AdapterError(name, "INVALID_ARGUMENT", `checkpoint ${cp.key}: a snapshot of ${cp.bytes.length} bytes is over the limit of ${maxSnapshot} bytes (${Math.ceil(maxSnapshot / chunkBytes)} values of ${chunkBytes} bytes)`);
    }
  };

  const write = async (txn: DurableReads, batch: CommitBatch) => {
    const cp = batch.checkpoint;
    const was = cp ? (await txn.get<Head>([head(cp.key)])).get(head(cp.key)) : undefined;
    if (cp && cp.previous !== undefined && (was?.offsets ?? null) !== cp.previous) {
      throw new AdapterError(name, "CONFLICT", `checkpoint ${cp.key} moved on: another processor owns it now`);
    }
    const writes: Record<string, unknown> = {};
    const keys = batch.candles.map((c) => candleKey(c.symbol, c.interval, c.openTime));
    const symbols = [...new Set(batch.candles.map((c) => `s${SEP}${c.symbol}`))];
    const seen = batch.alerts.map((a) => `i${SEP}${a.id}`);
    const held = await getMany<unknown>(txn, [...new Set([...keys, ...symbols, ...seen])]);
    batch.candles.forEach((c, i) => {
      const prev = (writes[keys[i]!] ?? held.get(keys[i]!)) as Candle | undefined;
      if (prev === undefined || supersedes(c, prev)) writes[keys[i]!] = { ...c };
    });
    for (const s of symbols) if (!held.has(s)) writes[s] = 1;
    batch.alerts.forEach((a, i) => {
      if (held.has(seen[i]!) || writes[seen[i]!] !== undefined) return;
      writes[seen[i]!] = 1;
      writes[alertKey(a)] = { ...a };
    });
    if (cp) {
      const chunks = Math.ceil(cp.bytes.length / chunkBytes);
      writes[head(cp.key)] = { offsets: cp.offsets, chunks, size: cp.bytes.length } satisfies Head;
      for (let n = 0; n < chunks; n++) writes[chunk(cp.key, n)] = cp.bytes.slice(n * chunkBytes, (n + 1) * chunkBytes);
      const stale = Array.from({ length: Math.max(0, (was?.chunks ?? 0) - chunks) }, (_, i) => chunk(cp.key, chunks + i));
      for (let i = 0; i < stale.length; i += KEYS_PER_CALL) await txn.delete(stale.slice(i, i + KEYS_PER_CALL));
    }
    await putMany(txn, writes);
  };

  return {
    name,
    commit: (batch) => call("commit", async () => {
      check(batch);
      await storage.transaction((txn) => write(txn, batch));
    }),
    candles: (symbol, interval, query) => call("candles", async () => {
      const { from, to, limit } = candleRange(name, query);
      if (from >= to) return { candles: [] };
      const rows = [...(await storage.list<Candle>({ start: candleKey(symbol, interval, from), end: candleKey(symbol, interval, to), limit: limit + 1 })).values()];
      const page = rows.slice(0, limit);
      return rows.length > limit ? { candles: page, cursor: cursorAt(rows[limit]!.openTime) } : { candles: page };
    }),
    latest: (symbol, interval) => call("latest", async () => {
      const rows = await storage.list<Candle>({ prefix: `c${SEP}${symbol}${SEP}${interval}${SEP}`, reverse: true, limit: 1 });
      return rows.values().next().value;
    }),
    symbols: () => call("symbols", async () => [...(await storage.list({ prefix: `s${SEP}` })).keys()].map((k) => k.slice(2))),
    alerts: (query) => call("alerts", async () => {
      const { symbol, since, limit } = alertRange(name, query);
      const out: Alert[] = [];
      let start = `a${SEP}${time(Math.max(since, -Number(OFFSET)))}`;
      for (;;) {
        const page = await storage.list<Alert>({ start, end: `a${SEP}\uffff`, limit: 1000 });
        for (const a of page.values()) if (symbol === undefined || a.symbol === symbol) if (out.push(a) >= limit) return out;
        if (page.size < 1000) return out;
        start = `${[...page.keys()].at(-1)!}${SEP}`;
      }
    }),
    loadCheckpoint: (key) => call("loadCheckpoint", async () => {
      const at = (await storage.get<Head>([head(key)])).get(head(key));
      if (!at) return undefined;
      const parts = await getMany<Uint8Array>(storage, Array.from({ length: at.chunks }, (_, n) => chunk(key, n)));
      const bytes = new Uint8Array(at.size);
      let pos = 0;
      for (let n = 0; n < at.chunks; n++) {
        const part = parts.get(chunk(key, n));
        if (!(part instanceof Uint8Array) || pos + part.length > at.size) throw new AdapterError(name, "CORRUPT", `checkpoint ${key}: chunk ${n} of ${at.chunks} is missing or too long`);
        bytes.set(part, pos);
        pos += part.length;
      }
      if (pos !== at.size) throw new AdapterError(name, "CORRUPT", `checkpoint ${key}: ${pos} bytes stored, ${at.size} expected`);
      return { key, bytes, offsets: at.offsets } satisfies StoredCheckpoint;
    }),
    async health(): Promise<Health> {
      return closed ? { adapter: name, ok: false, detail: "closed" } : { adapter: name, ok: true };
    },
    async close() {
      closed = true;
    },
  };
}
