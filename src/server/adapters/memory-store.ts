import type { Alert, Candle } from "../../lib/types.ts";
import { alertRange, candleRange, checkAlert, checkCandle, cursorAt } from "./query.ts";
import { AdapterError } from "./errors.ts";
import { supersedes } from "./candle-order.ts";
import type { CandleStore, StoredCheckpoint, Health } from "./types.ts";

/**
 * The reference `CandleStore`, in process memory. Its commit validates the whole batch
 * before touching anything, so a bad batch leaves no trace — the same all-or-nothing a
 * database transaction gives.
 *
 * @example
 * const store = memoryStore()
 * await store.commit({ candles, alerts, checkpoint })
 * const { candles: page, cursor } = await store.candles("BTCUSDT", "1m", { limit: 100 })
 */
export function memoryStore(): CandleStore {
  const name = "memory-store";
  const series = new Map<string, Map<number, Candle>>();
  const alerts = new Map<string, Alert>();
  const checkpoints = new Map<string, StoredCheckpoint>();
  let closed = false;
  const open = () => {
    if (closed) throw new AdapterError(name, "CLOSED", "store is closed");
  };
  const key = (symbol: string, interval: string) => `${symbol}\u0000${interval}`;
  const sorted = (symbol: string, interval: string) =>
    [...(series.get(key(symbol, interval))?.values() ?? [])].sort((a, b) => a.openTime - b.openTime);

  return {
    name,
    async commit(batch) {
      open();
      for (const candle of batch.candles) checkCandle(name, candle);
      for (const alert of batch.alerts) checkAlert(name, alert);
      const cp = batch.checkpoint;
      if (cp && (typeof cp.key !== "string" || !(cp.bytes instanceof Uint8Array) || typeof cp.offsets !== "string")) {
        throw new AdapterError(name, "INVALID_ARGUMENT", "checkpoint needs a string key, Uint8Array bytes and a string offsets");
      }
      if (cp && cp.previous !== undefined && (checkpoints.get(cp.key)?.offsets ?? null) !== cp.previous) {
        throw new AdapterError(name, "CONFLICT", `checkpoint ${cp.key} moved on: another processor owns it now`);
      }
      for (const candle of batch.candles) {
        const k = key(candle.symbol, candle.interval);
        let rows = series.get(k);
        if (!rows) series.set(k, (rows = new Map()));
        const prev = rows.get(candle.openTime);
        if (prev === undefined || supersedes(candle, prev)) rows.set(candle.openTime, { ...candle });
      }
      for (const alert of batch.alerts) if (!alerts.has(alert.id)) alerts.set(alert.id, { ...alert });
      if (cp) checkpoints.set(cp.key, { key: cp.key, bytes: cp.bytes.slice(), offsets: cp.offsets });
    },
    async candles(symbol, interval, query) {
      open();
      const { from, to, limit } = candleRange(name, query);
      const rows = sorted(symbol, interval).filter((c) => c.openTime >= from && c.openTime < to);
      const page = rows.slice(0, limit).map((c) => ({ ...c }));
      return rows.length > limit ? { candles: page, cursor: cursorAt(rows[limit]!.openTime) } : { candles: page };
    },
    async latest(symbol, interval) {
      open();
      const last = sorted(symbol, interval).at(-1);
      return last && { ...last };
    },
    async symbols() {
      open();
      const names = new Set<string>();
      for (const rows of series.values()) for (const candle of rows.values()) names.add(candle.symbol);
      return [...names].sort();
    },
    async alerts(query) {
      open();
      const { symbol, since, limit } = alertRange(name, query);
      return [...alerts.values()]
        .filter((a) => (symbol === undefined || a.symbol === symbol) && a.ts >= since)
        .sort((a, b) => a.ts - b.ts || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
        .slice(0, limit)
        .map((a) => ({ ...a }));
    },
    async loadCheckpoint(k) {
      open();
      const cp = checkpoints.get(k);
      return cp && { key: cp.key, bytes: cp.bytes.slice(), offsets: cp.offsets };
    },
    async health(): Promise<Health> {
      return closed ? { adapter: name, ok: false, detail: "closed" } : { adapter: name, ok: true };
    },
    async close() {
      closed = true;
    },
  };
}
