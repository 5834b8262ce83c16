import { compareExact, formatDecimal, quotient, Sum } from "./decimal.ts";
import type { Candle } from "./types.ts";

/** Decimal places of the rendered VWAP (half-to-even). */
export const VWAP_PLACES = 12;

/**
 * One tumbling window's running OHLCV. Open and close are the trades earliest and latest
 * in (time, id) order, not in arrival order, so out-of-order input gives the same candle.
 * Prices are kept as exact mantissa/scale pairs plus a double for fast ordering.
 */
export class Window {
  trades = 0;
  rev = 0;
  final = false;
  /** Update epoch that last queued it (for coalesced updates). */
  mark = 0;
  oTs = 0; oId = 0; oM = 0; oE = 0;
  cTs = 0; cId = 0; cM = 0; cE = 0;
  hV = -1; hM = 0; hE = 0;
  lV = Infinity; lM = 0; lE = 0;
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
   * Adds a trade. `pv` is the price as a double; `nm` is price × qty mantissa at scale
   * `pe + qe` when it is an exact double, or -1 when it is not.
   */
  add(ts: number, id: number, pm: number, pe: number, pv: number, qm: number, qe: number, nm: number, buy: boolean, count: number): void {
    if (this.trades === 0) {
      this.oTs = this.cTs = ts; this.oId = this.cId = id;
      this.oM = this.cM = this.hM = this.lM = pm;
      this.oE = this.cE = this.hE = this.lE = pe;
      this.hV = this.lV = pv;
    } else {
      if (ts < this.oTs || (ts === this.oTs && id < this.oId)) {
        this.oTs = ts; this.oId = id; this.oM = pm; this.oE = pe;
      }
      if (ts > this.cTs || (ts === this.cTs && id > this.cId)) {
        this.cTs = ts; this.cId = id; this.cM = pm; this.cE = pe;
      }
      if (pv > this.hV || (pv === this.hV && (pm !== this.hM || pe !== this.hE) && compareExact(pm, pe, this.hM, this.hE) > 0)) {
        this.hV = pv; this.hM = pm; this.hE = pe;
      }
      if (pv < this.lV || (pv === this.lV && (pm !== this.lM || pe !== this.lE) && compareExact(pm, pe, this.lM, this.lE) < 0)) {
        this.lV = pv; this.lM = pm; this.lE = pe;
      }
    }
    this.trades += count;
    const ne = pe + qe;
    this.volume.add(qm, qe);
    if (nm >= 0) this.quote.add(nm, ne);
    else this.quote.addBig(BigInt(pm) * BigInt(qm), ne);
    if (buy) {
      this.buyVolume.add(qm, qe);
      if (nm >= 0) this.buyQuote.add(nm, ne);
      else this.buyQuote.addBig(BigInt(pm) * BigInt(qm), ne);
    }
  }

  /** Adds everything `o` holds into this window (a pane folding into a larger window). */
  merge(o: Window): void {
    if (o.trades === 0) return;
    if (this.trades === 0) {
      this.oTs = o.oTs; this.oId = o.oId; this.oM = o.oM; this.oE = o.oE;
      this.cTs = o.cTs; this.cId = o.cId; this.cM = o.cM; this.cE = o.cE;
      this.hV = o.hV; this.hM = o.hM; this.hE = o.hE;
      this.lV = o.lV; this.lM = o.lM; this.lE = o.lE;
    } else {
      if (o.oTs < this.oTs || (o.oTs === this.oTs && o.oId < this.oId)) {
        this.oTs = o.oTs; this.oId = o.oId; this.oM = o.oM; this.oE = o.oE;
      }
      if (o.cTs > this.cTs || (o.cTs === this.cTs && o.cId > this.cId)) {
        this.cTs = o.cTs; this.cId = o.cId; this.cM = o.cM; this.cE = o.cE;
      }
      if (o.hV > this.hV || (o.hV === this.hV && compareExact(o.hM, o.hE, this.hM, this.hE) > 0)) {
        this.hV = o.hV; this.hM = o.hM; this.hE = o.hE;
      }
      if (o.lV < this.lV || (o.lV === this.lV && compareExact(o.lM, o.lE, this.lM, this.lE) < 0)) {
        this.lV = o.lV; this.lM = o.lM; this.lE = o.lE;
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
