import { compareExact, formatDecimal } from "./decimal.ts";
import { quotient, Sum } from "./sum.ts";
import type { Candle } from "./types.ts";

/** Decimal places of the rendered VWAP (half-to-even). */
export const VWAP_PLACES = 12;

/**
 * One tumbling window's running OHLCV. Open and close are the trades earliest and latest
 * in (time, id) order, not in arrival order, so out-of-order input gives the same candle.
 * Prices are kept as exact mantissa/scale pairs; a symbol's prices almost always share one
 * scale, so high and low compare mantissas and reach for `compareExact` only across scales.
 */
export class Window {
  trades = 0;
  rev = 0;
  final = false;
  /** Update epoch that last queued it (for coalesced updates). */
  mark = 0;
  oTs = 0; oId = 0; oM = 0; oE = 0;
  cTs = 0; cId = 0; cM = 0; cE = 0;
  hM = 0; hE = 0;
  lM = 0; lE = 0;
  readonly volume = new Sum();
  readonly quote = new Sum();
  readonly buyVolume = new Sum();
  readonly buyQuote = new Sum();

  constructor(
    readonly symbol: string,
    readonly interval: string,
    readonly openTime: number,
    readonly end: number,
  ) {}

  /**
   * Adds a trade. `nm` is price × qty mantissa at scale `pe + qe` when it is an exact
   * double, or -1 when it is not.
   */
  add(ts: number, id: number, pm: number, pe: number, qm: number, qe: number, nm: number, buy: boolean, count: number): void {
    // Kept small (the first trade and a notional past 2^53 are out of line) so that the
    // compiler inlines it into the engine's per-trade path.
    if (this.trades === 0) this.first(ts, id, pm, pe);
    else {
      if (ts < this.oTs || (ts === this.oTs && id < this.oId)) {
        this.oTs = ts; this.oId = id; this.oM = pm; this.oE = pe;
      }
      if (ts > this.cTs || (ts === this.cTs && id > this.cId)) {
        this.cTs = ts; this.cId = id; this.cM = pm; this.cE = pe;
      }
      if (pe === this.hE ? pm > this.hM : compareExact(pm, pe, this.hM, this.hE) > 0) {
        this.hM = pm; this.hE = pe;
      }
      if (pe === this.lE ? pm < this.lM : compareExact(pm, pe, this.lM, this.lE) < 0) {
        this.lM = pm; this.lE = pe;
      }
    }
    this.trades += count;
    if (nm < 0) {
      this.addBig(pm, pe, qm, qe, buy);
      return;
    }
    const ne = pe + qe;
    this.volume.add(qm, qe);
    this.quote.add(nm, ne);
    if (buy) {
      this.buyVolume.add(qm, qe);
      this.buyQuote.add(nm, ne);
    }
  }

  private first(ts: number, id: number, pm: number, pe: number): void {
    this.oTs = this.cTs = ts; this.oId = this.cId = id;
    this.oM = this.cM = this.hM = this.lM = pm;
    this.oE = this.cE = this.hE = this.lE = pe;
  }

  /** The sums of a trade whose notional mantissa is past 2^53. */
  private addBig(pm: number, pe: number, qm: number, qe: number, buy: boolean): void {
    const notional = BigInt(pm) * BigInt(qm);
    this.volume.add(qm, qe);
    this.quote.addBig(notional, pe + qe);
    if (buy) {
      this.buyVolume.add(qm, qe);
      this.buyQuote.addBig(notional, pe + qe);
    }
  }

  /** Adds everything `o` holds into this window (a pane folding into a larger window). */
  merge(o: Window): void {
    if (o.trades === 0) return;
    if (this.trades === 0) {
      this.oTs = o.oTs; this.oId = o.oId; this.oM = o.oM; this.oE = o.oE;
      this.cTs = o.cTs; this.cId = o.cId; this.cM = o.cM; this.cE = o.cE;
      this.hM = o.hM; this.hE = o.hE;
      this.lM = o.lM; this.lE = o.lE;
    } else {
      if (o.oTs < this.oTs || (o.oTs === this.oTs && o.oId < this.oId)) {
        this.oTs = o.oTs; this.oId = o.oId; this.oM = o.oM; this.oE = o.oE;
      }
      if (o.cTs > this.cTs || (o.cTs === this.cTs && o.cId > this.cId)) {
        this.cTs = o.cTs; this.cId = o.cId; this.cM = o.cM; this.cE = o.cE;
      }
      if (o.hE === this.hE ? o.hM > this.hM : compareExact(o.hM, o.hE, this.hM, this.hE) > 0) {
        this.hM = o.hM; this.hE = o.hE;
      }
      if (o.lE === this.lE ? o.lM < this.lM : compareExact(o.lM, o.lE, this.lM, this.lE) < 0) {
        this.lM = o.lM; this.lE = o.lE;
      }
    }
    this.trades += o.trades;
    this.volume.merge(o.volume);
    this.quote.merge(o.quote);
    this.buyVolume.merge(o.buyVolume);
    this.buyQuote.merge(o.buyQuote);
  }

  /** Empties the running values (a scratch window reused for merged views). */
  clear(): void {
    this.trades = 0;
    this.volume.clear();
    this.quote.clear();
    this.buyVolume.clear();
    this.buyQuote.clear();
  }

  /** The close price as an exact decimal string. */
  close(): string {
    return formatDecimal(this.cM, this.cE);
  }

  /** Renders the candle; a merged view renders its values under the identity of the window `as` it shows. */
  toCandle(as: Window = this): Candle {
    return {
      symbol: as.symbol,
      interval: as.interval,
      openTime: as.openTime,
      open: formatDecimal(this.oM, this.oE),
      high: formatDecimal(this.hM, this.hE),
      low: formatDecimal(this.lM, this.lE),
      close: formatDecimal(this.cM, this.cE),
      volume: this.volume.toString(),
      quoteVolume: this.quote.toString(),
      trades: this.trades,
      takerBuyVolume: this.buyVolume.toString(),
      takerBuyQuoteVolume: this.buyQuote.toString(),
      vwap: quotient(this.quote, this.volume, VWAP_PLACES),
      rev: as.rev,
      final: as.final,
    };
  }
}

/** A window with no trades under the `flat` policy: O=H=L=C=previous close, volume 0. */
export function flatCandle(symbol: string, interval: string, openTime: number, close: string): Candle {
  return {
    symbol, interval, openTime,
    open: close, high: close, low: close, close,
    volume: "0", quoteVolume: "0", trades: 0, takerBuyVolume: "0", takerBuyQuoteVolume: "0", vwap: "0",
    rev: 0, final: true,
  };
}
