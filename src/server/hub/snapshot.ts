/**
 * What a client gets when it subscribes to a pair (or drains after being slow): the pair's last
 * candles as one columnar snapshot, uPlot-ready, then the changes that arrived while they were
 * read, so nothing between the read and the live topic is missed or shown out of order.
 */
import type { Candle } from "../../lib/types.ts";
import { supersedes } from "../adapters/candle-order.ts";
import { encode, type SnapshotFrame } from "../protocol.ts";

const kindOf = (k: Candle) => (!k.final ? "update" : k.rev > 0 ? "revision" : "final");

/**
 * The frames that bring a client up to date on `symbol` × `interval`: the snapshot of `candles`
 * (oldest first), then, oldest first, each candle of `arrived` that is newer than the snapshot
 * shows: a later window, or a later version of one of its windows.
 */
export function catchUpFrames(symbol: string, interval: string, candles: readonly Candle[], arrived: Iterable<Candle>): string[] {
  const byTime = new Map(candles.map((k) => [k.openTime, k]));
  const first = candles[0]?.openTime ?? -Infinity;
  const later = [...arrived].sort((a, b) => a.openTime - b.openTime)
    .filter((k) => k.openTime >= first && (!byTime.has(k.openTime) || supersedes(k, byTime.get(k.openTime)!)));
  const snapshot = encode({
    type: "snapshot", symbol, interval,
    columns: [candles.map((k) => k.openTime / 1000), ...(["open", "high", "low", "close", "volume"] as const).map((f) => candles.map((k) => Number(k[f])))] as SnapshotFrame["columns"],
    final: candles.map((k) => k.final), candles: candles.length,
  });
  return [snapshot, ...later.map((k) => encode({ type: "candle", kind: kindOf(k), candle: k }))];
}
