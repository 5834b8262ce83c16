/**
 * The WebSocket protocol of `/ws` (version 1), as the server writes it and the page reads it:
 * one typed definition of every frame, so the public protocol cannot drift from what the
 * server sends, nor follow the internal pub/sub format by accident.
 */
import type { Alert, Candle } from "../lib/types.ts";

/** Protocol version in `hello`. */
export const PROTOCOL_VERSION = 1;

/** First frame of a connection: what may be subscribed, and the client's budget. */
export interface HelloFrame {
  type: "hello";
  version: number;
  symbols: string[];
  intervals: string[];
  heartbeatMs: number;
  limits: {
    subscriptions: number;
    frameBytes: number;
    framesPerSecond: number;
    frameBurst: number;
    pairsPerSecond: number;
    pairBurst: number;
  };
}

/** Last candles of a pair, uPlot-ready: `[t (s), open, high, low, close, volume]`. */
export interface SnapshotFrame {
  type: "snapshot";
  symbol: string;
  interval: string;
  columns: [number[], number[], number[], number[], number[], number[]];
  final: boolean[];
  candles: number;
}

/** A live change of a pair's candle. */
export interface CandleFrame {
  type: "candle";
  kind: "update" | "final" | "revision";
  candle: Candle;
}

/** Every frame the server sends. */
export type ServerFrame =
  | HelloFrame
  | SnapshotFrame
  | CandleFrame
  | { type: "alert"; alert: Alert }
  | { type: "heartbeat"; ts: number }
  | { type: "pong"; ts: number }
  | { type: "error"; code: string; message: string };

/** Every frame a client sends. */
export type ClientFrame =
  | { op: "subscribe" | "unsubscribe"; symbols: string[]; intervals: string[] }
  | { op: "ping" };

/** The text of a server frame. */
export const encode = (frame: ServerFrame): string => JSON.stringify(frame);
