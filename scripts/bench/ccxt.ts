import type { Trade } from "../../src/lib/types.ts";

/**
 * The baseline a TypeScript user would reach for: ccxt's `buildOHLCVC`, which folds
 * trades into candles with JavaScript floats (not exact decimals).
 */

/** A trade in the shape ccxt's `parseTrade` yields, reduced to the fields `buildOHLCVC` and users read. */
export interface CcxtTrade {
  timestamp: number;
  symbol: string;
  side: "buy" | "sell";
  price: number;
  amount: number;
}

/**
 * Group trades per symbol and sort each group by time (then id), as `buildOHLCVC`
 * requires; prices and amounts become floats. Not part of the timed work.
 */
export function toCcxt(trades: readonly Trade[]): CcxtTrade[][] {
  const groups = new Map<string, Trade[]>();
  for (const t of trades) {
    let g = groups.get(t.symbol);
    if (g === undefined) groups.set(t.symbol, (g = []));
    g.push(t);
  }
  const out: CcxtTrade[][] = [];
  for (const g of groups.values()) {
    g.sort((a, b) => a.ts - b.ts || a.id - b.id);
    out.push(g.map((t) => ({ timestamp: t.ts, symbol: t.symbol, side: t.side, price: Number(t.price), amount: Number(t.qty) })));
  }
  return out;
}

/** Candles per timeframe, summed over symbols, from one baseline pass. */
export type CcxtCounts = Record<string, number>;

/**
 * A builder over one ccxt exchange instance (created here, outside any timed region) that
 * folds every symbol group into candles of each timeframe and counts them. ccxt is a
 * dev dependency and a large module, so it is loaded only when asked for.
 */
export async function ccxtBuilder(): Promise<(groups: readonly CcxtTrade[][], timeframes: readonly string[]) => CcxtCounts> {
  const { default: ccxt } = await import("ccxt");
  const exchange = new ccxt.binance();
  const build = exchange.buildOHLCVC.bind(exchange) as (trades: unknown[], timeframe: string) => unknown[][];
  return (groups, timeframes) => {
    const counts: CcxtCounts = {};
    for (const tf of timeframes) {
      let n = 0;
      for (const g of groups) n += build(g, tf).length;
      counts[tf] = n;
    }
    return counts;
  };
}
