/**
 * The ingest role: a source's trades into the trade log. It drops trades dated too far
 * ahead of the clock (counted), holds the source up while the log is away (a broker
 * restarting) instead of ending it, and, on the in-process log, while the processor is far
 * behind, so memory stays bounded. Kafka and Redis Streams hold a backlog themselves.
 */
import type { Trade } from "../lib/types.ts";
import { normalizeTs } from "../lib/validate.ts";
import { AdapterError } from "./adapters/errors.ts";
import type { Health, TradeLog } from "./adapters/types.ts";
import type { Source } from "./sources/types.ts";

/** What an ingest run needs. */
export interface IngestOptions {
  source: Source;
  log: TradeLog;
  /** Only these symbols go to the log (a replay of a file with more); default all. */
  symbols?: ReadonlySet<string>;
  /** Trades dated more than this ahead of `clock` are dropped and counted; undefined: none are (replays bound their own at load). */
  maxFutureMs?: number;
  /** How far the in-process log may run ahead of its processor before the source waits; undefined: no bound. */
  backlog?: { max: number; behind: () => Promise<number> };
  /** Called after each append, e.g. to wake an in-process processor. */
  appended?: () => void;
  clock: () => number;
  onError: (e: unknown) => void;
}

/** A running ingest. */
export interface Ingest {
  /** The source's health: ok while connected, or once its finite input has ended. */
  health(): Health;
  /** Trades dropped for being dated in the future. */
  future(): number;
  /** Stops the source and waits for its last batch. */
  stop(): Promise<void>;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts feeding `options.source` into `options.log`. */
export function ingest(options: IngestOptions): Ingest {
  const { source, log, clock, onError } = options;
  let stopping = false;
  let future = 0;
  const run = { state: "running" as "running" | "ended" | "failed", error: "" };

  const timely = (trades: Trade[]) => {
    if (options.maxFutureMs === undefined) return trades;
    const limit = clock() + options.maxFutureMs;
    const kept = trades.filter((t) => !(normalizeTs(t.ts) > limit));
    future += trades.length - kept.length;
    return kept;
  };

  const append = async (batch: Trade[]) => {
    // The same batch again once the log is back: a retry may write it twice; the engine drops duplicates.
    for (let backoff = 100; ; backoff = Math.min(backoff * 2, 2000)) {
      try {
        return await log.append(batch);
      } catch (e) {
        if (stopping || !(e instanceof AdapterError && e.retryable)) throw e;
        onError(e);
        await pause(backoff);
      }
    }
  };

  const feeding = source.start(async (trades) => {
    const wanted = options.symbols;
    await append(timely(wanted ? trades.filter((t) => wanted.has(t.symbol)) : trades));
    options.appended?.();
    const backlog = options.backlog;
    while (backlog && !stopping && (await backlog.behind()) > backlog.max) await pause(20);
  }).then(() => void (run.state = "ended"), (e) => {
    run.state = "failed";
    run.error = e instanceof Error ? e.message : String(e);
    onError(e);
  });

  return {
    health() {
      const s = source.status();
      const ok = run.state === "ended" || (run.state === "running" && s.connected);
      const detail = run.state === "failed" ? run.error : run.state === "ended" ? "input ended" : s.connected ? undefined : s.lastError ?? "connecting";
      return { adapter: source.name, ok, ...(detail ? { detail } : {}) };
    },
    future: () => future,
    async stop() {
      stopping = true;
      await source.stop();
      await feeding;
    },
  };
}
