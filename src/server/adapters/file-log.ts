import { readFile } from "node:fs/promises";
import type { Trade } from "../../lib/types.ts";
import { AdapterError } from "./errors.ts";
import type { Health, LogBatch, LogRecord, TradeLog } from "./types.ts";

/** Options of the recorded-file log. */
export interface FileLogOptions {
  /** A recorded stream, one message per line (e.g. raw exchange WebSocket frames). */
  path: string;
  /** Line → trade; `null` or `undefined` for lines that carry none (acks, other events). Throwing counts the line as undecodable. */
  decode: (line: string) => Trade | null | undefined;
}

/**
 * A read-only `TradeLog` over a recorded file: one partition, offset = 0-based line index.
 * The file is the durable log, so a processor killed at any point re-opens the same file,
 * restores its checkpoint and re-reads from the checkpointed line — which is what makes
 * crash recovery over a replay exact. Lines without a trade keep their offset and are
 * skipped; undecodable ones are counted in `health()`.
 *
 * @example
 * const log = fileLog({ path: "fixtures/replay.ws.jsonl", decode: decodeBinanceWs })
 */
export function fileLog(options: FileLogOptions): TradeLog {
  const name = "file-log";
  let loaded: Promise<(Trade | undefined)[]> | undefined;
  let undecodable = 0;
  let closed = false;

  // Read lazily: creating the adapter touches no file.
  const lines = (): Promise<(Trade | undefined)[]> => {
    if (closed) return Promise.reject(new AdapterError(name, "CLOSED", "log is closed"));
    loaded ??= readFile(options.path, "utf8").then(
      (text) => {
        const raw = text.split("\n");
        if (raw.at(-1) === "") raw.pop();
        return raw.map((line) => {
          if (line.trim() === "") return undefined;
          try {
            return options.decode(line.endsWith("\r") ? line.slice(0, -1) : line) ?? undefined;
          } catch {
            undecodable++;
            return undefined;
          }
        });
      },
      (cause: unknown) => {
        loaded = undefined;
        throw new AdapterError(name, "UNAVAILABLE", `cannot read ${options.path}`, { cause });
      },
    );
    return loaded;
  };

  const only = (p: number) => {
    if (p !== 0) throw new AdapterError(name, "INVALID_ARGUMENT", `no partition ${p} (a recorded file has only 0)`);
  };

  return {
    name,
    async partitions() {
      return [0];
    },
    async append() {
      throw new AdapterError(name, "READ_ONLY", `${options.path} is a recorded stream; it cannot be appended to`);
    },
    async read(p, from, max): Promise<LogBatch> {
      only(p);
      const all = await lines();
      if (!Number.isSafeInteger(from) || from < 0 || from > all.length) {
        throw new AdapterError(name, "OFFSET_OUT_OF_RANGE", `${options.path} has lines 0..${all.length}, asked for ${from}`);
      }
      const records: LogRecord[] = [];
      let next = from;
      for (; next < all.length && records.length < max; next++) {
        const trade = all[next];
        if (trade !== undefined) records.push({ offset: next, trade });
      }
      return { records, next };
    },
    async highWatermark(p) {
      only(p);
      return (await lines()).length;
    },
    async lowWatermark(p) {
      only(p);
      return 0;
    },
    async health(): Promise<Health> {
      if (closed) return { adapter: name, ok: false, detail: "closed" };
      try {
        const all = await lines();
        return { adapter: name, ok: true, detail: `${all.length} lines${undecodable > 0 ? `, ${undecodable} undecodable` : ""}` };
      } catch (e) {
        return { adapter: name, ok: false, detail: e instanceof Error ? e.message : String(e) };
      }
    },
    async close() {
      closed = true;
      loaded = undefined;
    },
  };
}
