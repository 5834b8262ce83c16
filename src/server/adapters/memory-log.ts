import type { Trade } from "../../lib/types.ts";
import { AdapterError } from "./errors.ts";
import type { Health, LogBatch, LogRecord, TradeLog } from "./types.ts";

/** Options of the in-process log. */
export interface MemoryLogOptions {
  /** Number of partitions; trades are spread by symbol. Default 1. */
  partitions?: number;
  /** Offset of the first record of every partition: a restarted process continues the offsets it had. Default 0. */
  firstOffset?: number;
  /** Most records kept per partition; older ones are dropped and reading them fails. Default 1 000 000. */
  retention?: number;
}

/** Partition of `symbol` among `count`: FNV-1a of its UTF-16 code units, so it is stable across runs. */
export function partitionOf(symbol: string, count: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < symbol.length; i++) hash = Math.imul(hash ^ symbol.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % count;
}

/**
 * The reference `TradeLog`: in-process partitions with bounded retention. It lives and dies
 * with the process, so it suits one-process setups and tests; durable logs are other adapters.
 *
 * @example
 * const log = memoryLog({ partitions: 4 })
 * await log.append(trades)
 * const { records, next } = await log.read(0, 0, 1000)
 */
export function memoryLog(options: MemoryLogOptions = {}): TradeLog {
  const name = "memory-log";
  const count = options.partitions ?? 1;
  const retention = options.retention ?? 1_000_000;
  if (!Number.isSafeInteger(count) || count < 1) throw new AdapterError(name, "INVALID_ARGUMENT", "partitions must be a positive integer");
  if (!Number.isSafeInteger(retention) || retention < 1) throw new AdapterError(name, "INVALID_ARGUMENT", "retention must be a positive integer");
  // records[i] has offset base + i; offsets below base + start were dropped by retention.
  const first = options.firstOffset ?? 0;
  if (!Number.isSafeInteger(first) || first < 0) throw new AdapterError(name, "INVALID_ARGUMENT", "firstOffset must be a non-negative integer");
  const parts = Array.from({ length: count }, () => ({ base: first, start: 0, records: [] as Trade[] }));
  let closed = false;

  const partition = (p: number) => {
    if (closed) throw new AdapterError(name, "CLOSED", "log is closed");
    const part = parts[p];
    if (!Number.isInteger(p) || part === undefined) throw new AdapterError(name, "INVALID_ARGUMENT", `no partition ${p}`);
    return part;
  };

  return {
    name,
    async partitions() {
      return parts.map((_, i) => i);
    },
    async append(trades) {
      if (closed) throw new AdapterError(name, "CLOSED", "log is closed");
      for (const trade of trades) parts[partitionOf(trade.symbol, count)]!.records.push(trade);
      for (const part of parts) {
        part.start = Math.max(part.start, part.records.length - retention);
        // Compact only when half the array is dead, so appends stay amortised O(1).
        if (part.start > 1024 && part.start * 2 > part.records.length) {
          part.records = part.records.slice(part.start);
          part.base += part.start;
          part.start = 0;
        }
      }
    },
    async read(p, from, max): Promise<LogBatch> {
      const part = partition(p);
      const low = part.base + part.start;
      const end = part.base + part.records.length;
      if (!Number.isSafeInteger(from) || from < low || from > end) {
        throw new AdapterError(name, "OFFSET_OUT_OF_RANGE", `partition ${p} holds offsets ${low}..${end}, asked for ${from}${from < low ? " (dropped by retention: the reader fell behind)" : ""}`);
      }
      const take = Math.max(0, Math.min(max, end - from));
      const records: LogRecord[] = [];
      for (let i = 0; i < take; i++) records.push({ offset: from + i, trade: part.records[from - part.base + i]! });
      return { records, next: from + take };
    },
    async highWatermark(p) {
      const part = partition(p);
      return part.base + part.records.length;
    },
    async lowWatermark(p) {
      const part = partition(p);
      return part.base + part.start;
    },
    async health(): Promise<Health> {
      return closed ? { adapter: name, ok: false, detail: "closed" } : { adapter: name, ok: true };
    },
    async close() {
      closed = true;
    },
  };
}
