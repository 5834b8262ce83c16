/**
 * An in-memory `DurableStorage` for tests under Bun: the methods the durable store uses, with
 * the platform's rules that matter to it — keys listed in order, at most 128 keys per get, put
 * or delete, values of at most 128 KiB, values copied in and out (structured clone), and
 * transactions that apply all of their writes or none.
 */
import type { DurableReads, DurableStorage, ListOptions } from "./durable-store.ts";

const MAX_KEYS = 128;
const MAX_VALUE = 128 * 1024;

/** A storage over `data` (pass the same map again to "reopen" it). */
export function memoryDurableStorage(data: Map<string, unknown> = new Map()): DurableStorage & { data: Map<string, unknown> } {
  const keysOk = (keys: string[]) => {
    if (keys.length > MAX_KEYS) throw new RangeError(`at most ${MAX_KEYS} keys per call, got ${keys.length}`);
  };
  const view = (reads: () => Map<string, unknown>, staged?: Map<string, unknown | typeof GONE>): DurableReads => {
    const value = (k: string) => {
      if (staged?.has(k)) {
        const v = staged.get(k);
        return v === GONE ? undefined : v;
      }
      return reads().get(k);
    };
    return {
      async get<T>(keys: string[]) {
        keysOk(keys);
        const out = new Map<string, T>();
        for (const k of keys) {
          const v = value(k);
          if (v !== undefined) out.set(k, structuredClone(v) as T);
        }
        return out;
      },
      async list<T>(o: ListOptions) {
        const all = new Set([...reads().keys(), ...(staged?.keys() ?? [])]);
        let keys = [...all].filter((k) => value(k) !== undefined && (o.prefix === undefined || k.startsWith(o.prefix))
          && (o.start === undefined || k >= o.start) && (o.end === undefined || k < o.end)).sort();
        if (o.reverse) keys.reverse();
        if (o.limit !== undefined) keys = keys.slice(0, o.limit);
        return new Map(keys.map((k) => [k, structuredClone(value(k)) as T]));
      },
      async put(entries) {
        const keys = Object.keys(entries);
        keysOk(keys);
        for (const k of keys) {
          const size = entries[k] instanceof Uint8Array ? (entries[k] as Uint8Array).length : JSON.stringify(entries[k]).length;
          if (size > MAX_VALUE) throw new RangeError(`value of ${k} is ${size} bytes, over ${MAX_VALUE}`);
        }
        for (const k of keys) (staged ?? data).set(k, structuredClone(entries[k]));
      },
      async delete(keys) {
        keysOk(keys);
        let n = 0;
        for (const k of keys) {
          if (value(k) !== undefined) n++;
          if (staged) staged.set(k, GONE);
          else data.delete(k);
        }
        return n;
      },
    };
  };
  return {
    data,
    ...view(() => data),
    async transaction(closure) {
      const staged = new Map<string, unknown>();
      const result = await closure(view(() => data, staged));
      for (const [k, v] of staged) if (v === GONE) data.delete(k); else data.set(k, v);
      return result;
    },
  };
}

const GONE: unique symbol = Symbol("deleted");
