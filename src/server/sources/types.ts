/**
 * The source port: where trades come from. One file per source (replay, binance,
 * coinbase, coingecko), each a factory returning this small interface.
 */
import type { Trade } from "../../lib/types.ts";

/** Receives one batch of trades, in the order the source got them. A returned promise is awaited before the next batch (backpressure). */
export type Sink = (trades: Trade[]) => void | Promise<void>;

/** Health of a source, cheap to read at any time. */
export interface SourceStatus {
  /** True while a live connection is open (replay: while it is playing). */
  connected: boolean;
  /** Trade time (epoch ms) of the newest trade handed to the sink. */
  lastTradeTs?: number;
  /** Connections opened after the first one. */
  reconnects: number;
  /** Trades recovered from REST to fill gaps. */
  backfilled: number;
  /** Missing id ranges noticed on the live stream (filled or not). */
  gaps: number;
  /** Failures seen (connection, decode, REST); the source keeps running through them. */
  errors: number;
  /** The newest failure, for people. */
  lastError?: string;
  /** Set when trades are not real exchange trades but observed prices (see coingecko.ts). */
  indicative?: true;
  /** Connections dropped because the sink fell too far behind (the trades missed meanwhile are backfilled). */
  shed?: number;
}

/**
 * A feed of trades.
 *
 * `start` runs the source and settles when it ends: resolves when the input is exhausted
 * (a replay without loop) or `stop()` was called; rejects if the sink throws (a trade the
 * driver could not take must not be silently dropped) or the source cannot begin at all.
 * Transient failures (lost connection, REST error) are retried and only counted in `status()`.
 *
 * @example
 * const src = binanceSource({ symbols: ["BTCUSDT"] });
 * const run = src.start((trades) => log.append(trades));
 * // ...
 * await src.stop(); await run;
 */
export interface Source {
  /** Short name for logs and health output, e.g. `binance`. */
  readonly name: string;
  /** Runs the source, handing batches to `sink`; settles when the source ends. */
  start(sink: Sink): Promise<void>;
  /** Ends the source; resolves once no further batch will reach the sink. */
  stop(): Promise<void>;
  /** A copy of the current status. */
  status(): SourceStatus;
}

/** Reads a clock, epoch ms. Sources may read clocks; injecting one keeps tests exact. */
export type Clock = () => number;

/** Waits `ms`; resolves early when `signal` aborts. */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;
