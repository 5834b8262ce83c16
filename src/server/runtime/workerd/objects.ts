/**
 * The worker's view of every symbol's Durable Object as one read-only `CandleStore`, so the
 * API is the same `createApp` as on Bun: each read goes to the object of its symbol (alerts of
 * every symbol are merged). Commits happen inside the objects, never through this store.
 */
import type { Alert } from "../../../lib/types.ts";
import { alertRange } from "../../adapters/query.ts";
import { AdapterError } from "../../adapters/errors.ts";
import type { CandleStore, Health } from "../../adapters/types.ts";
import type { ReadMethod } from "./durable-object.ts";
import type { Env } from "./env.ts";

/** A store over the objects of `symbols` (the configured ones). */
export function objectsStore(env: Env, symbols: readonly string[]): CandleStore {
  const name = "durable-objects";
  const ask = async <T>(symbol: string, method: ReadMethod, ...args: unknown[]): Promise<T> => {
    let r;
    try {
      r = await env.CANDLES.get(env.CANDLES.idFromName(symbol)).read(method, args);
    } catch (e) {
      throw new AdapterError(name, "UNAVAILABLE", `${symbol}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    if (!r.ok) throw new AdapterError(r.adapter, r.code, `${symbol}: ${r.message}`);
    return r.value as T;
  };
  const all = <T>(method: ReadMethod, ...args: unknown[]) => Promise.all(symbols.map((s) => ask<T>(s, method, ...args)));
  return {
    name,
    async commit() {
      throw new AdapterError(name, "READ_ONLY", "commits happen inside each symbol's Durable Object");
    },
    candles: (symbol, interval, query) => ask(symbol, "candles", symbol, interval, query),
    latest: (symbol, interval) => ask(symbol, "latest", symbol, interval),
    symbols: async () => (await all<string[]>("symbols")).flat().sort(),
    async alerts(query = {}) {
      if (query.symbol !== undefined) return ask<Alert[]>(query.symbol, "alerts", query);
      const { limit } = alertRange(name, query);
      const merged = (await all<Alert[]>("alerts", query)).flat();
      return merged.sort((a, b) => a.ts - b.ts || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).slice(0, limit);
    },
    /** `key` is the symbol: its object's engine checkpoint. */
    loadCheckpoint: (key) => ask(key, "loadCheckpoint", "engine"),
    async health(): Promise<Health> {
      const down = (await Promise.allSettled(symbols.map((s) => ask<Health>(s, "health")))).flatMap((r, i) =>
        r.status === "rejected" ? [`${symbols[i]}: ${r.reason instanceof Error ? r.reason.message : String(r.reason)}`] : !r.value.ok ? [`${symbols[i]}: ${r.value.detail}`] : []);
      return down.length === 0 ? { adapter: name, ok: true, detail: `${symbols.length} objects` } : { adapter: name, ok: false, detail: down.join("; ") };
    },
    async close() {},
  };
}
