/**
 * The core's data shapes: what goes in (trades), what comes out (events), and how it is
 * configured. Every shape here is plain data, so it crosses workers, sockets and
 * runtimes unchanged.
 */

/** Taker side: `buy` when the taker bought (Binance `m=false`), `sell` when it sold. */
export type Side = "buy" | "sell";

/** One exchange trade, or one aggregate trade standing for `count` trades. */
export interface Trade {
  /** Instrument, e.g. `BTCUSDT`. Non-empty. */
  symbol: string;
  /** Exchange trade id (aggregate id for aggregate trades); duplicates are dropped by it. */
  id: number;
  /** Price as a decimal string, e.g. `"61837.63000000"`. Must be > 0. */
  price: string;
  /** Quantity as a decimal string. Must be > 0. */
  qty: string;
  /** Exchange trade time, epoch ms; µs and ns inputs are recognised by magnitude and normalised. */
  ts: number;
  /** Taker side. */
  side: Side;
  /** How many exchange trades this record stands for (aggregate trades); default 1. */
  count?: number;
}

/** An OHLCV candle. Prices and volumes are exact decimal strings. */
export interface Candle {
  symbol: string;
  /** Interval label, e.g. `1m`. */
  interval: string;
  /** Window start, epoch ms; the window is `[openTime, openTime + size)`. */
  openTime: number;
  open: string;
  high: string;
  low: string;
  close: string;
  /** Sum of quantities. */
  volume: string;
  /** Sum of price × quantity. */
  quoteVolume: string;
  /** Number of exchange trades (aggregate trades count as many). */
  trades: number;
  /** Volume where the taker bought. */
  takerBuyVolume: string;
  /** Quote volume where the taker bought. */
  takerBuyQuoteVolume: string;
  /** quoteVolume ÷ volume, rounded half-to-even to 12 decimal places; `"0"` for an empty window. */
  vwap: string;
  /** 0 for the first final; each later change of a final window adds one. */
  rev: number;
  /** False while the window is open. */
  final: boolean;
}

/** Names of the alert rules. */
export type AlertRule = "whale" | "price_move" | "zscore" | "volume_spike" | "gap";

/** A market alert. `id` is stable: a replay of the same input yields the same ids. */
export interface Alert {
  id: string;
  rule: AlertRule;
  symbol: string;
  /** Interval of the candle that raised it (candle rules only). */
  interval?: string;
  /** Event time the alert refers to (trade time, or window open time). */
  ts: number;
  /** Measured value: notional, percent move, z-score, volume ratio, or missing id count. */
  value: number;
  /** The configured threshold it crossed. */
  threshold: number;
  /** One line for people. */
  message: string;
}

/** Why a trade was not aggregated at all. */
export type RejectReason =
  | "symbol"
  | "id"
  | "price"
  | "qty"
  | "ts"
  | "side"
  | "count"
  | "precision";

/** What the engine emits, as the return value of its methods. */
export type EngineEvent =
  /** The open candle changed (at most one per window per call). */
  | { type: "update"; candle: Candle }
  /** The watermark passed the window's end: the candle is complete. */
  | { type: "final"; candle: Candle }
  /** A trade within allowed lateness changed a final candle (`candle.rev` ≥ 1). */
  | { type: "revision"; candle: Candle }
  /** A trade too late for this window even with allowed lateness: counted, not aggregated. */
  | { type: "late"; symbol: string; interval: string; openTime: number; id: number; ts: number }
  /** A trade failed validation: counted, not aggregated. */
  | { type: "rejected"; reason: RejectReason; detail: string; trade: unknown }
  /** A rule fired. */
  | { type: "alert"; alert: Alert };

/** Whale rule: a single trade whose notional (price × qty) is at least `notional`. */
export interface WhaleRule {
  /** Threshold in quote currency, as a decimal string or number. */
  notional: string | number;
}

/** Price-move rule, evaluated on final candles. */
export interface PriceMoveRule {
  /** Alert when |close − open| / open ≥ percent / 100. Omit to disable. */
  percent?: number;
  /** Alert when |z-score| of the latest close-to-close return, against the previous `lookback` returns, ≥ this. Omit to disable. */
  zScore?: number;
  /** Returns in the z-score history; default 20. */
  lookback?: number;
}

/** Volume-spike rule, evaluated on final candles. */
export interface VolumeSpikeRule {
  /** Alert when volume ≥ factor × mean volume of the previous `lookback` candles. */
  factor: number;
  /** Candles in the rolling mean; default 20. */
  lookback?: number;
}

/** Feed-gap rule: trade ids skipped, confirmed once the watermark passes them. */
export interface GapRule {
  /** Smallest number of missing ids worth an alert; default 1. */
  minMissing?: number;
}

/** The rules for one symbol; a rule that is absent is off. */
export interface RuleSet {
  whale?: WhaleRule;
  priceMove?: PriceMoveRule;
  volumeSpike?: VolumeSpikeRule;
  gap?: GapRule;
  /** Intervals whose final candles the candle rules watch; default: the smallest configured interval. */
  intervals?: string[];
}

/** Rules for every symbol, with per-symbol overrides (an override replaces whole rules). */
export interface RulesConfig {
  default?: RuleSet;
  symbols?: Record<string, RuleSet>;
}

/** Engine configuration. Every field has a default. */
export interface EngineOptions {
  /** Tumbling window sizes, e.g. `["1m","5m","15m","1h"]` (the default). */
  intervals?: string[];
  /** Shift of every window boundary from the epoch, ms; default 0. */
  offset?: number;
  /** Bounded out-of-orderness, ms: watermark = max trade time − this; default 10 000. */
  outOfOrderness?: number;
  /** How long after its final a window still accepts trades as revisions, ms; default 0. */
  allowedLateness?: number;
  /** Windows without trades: `skip` (default) emits nothing, `flat` emits O=H=L=C=previous close, volume 0. */
  empty?: "skip" | "flat";
  /**
   * `update` events for open candles: `true` (default) at the end of every call, one per
   * window it touched; `"pull"` only from `pullUpdates()`, one per window touched since the
   * last pull (a driver that publishes on a timer renders each candle once); `false` never.
   */
  updates?: boolean | "pull";
  /** Alert rules; default none. */
  rules?: RulesConfig;
  /** Most id ranges remembered per symbol as missing (for dedupe and gap alerts); default 4096. */
  maxIdGaps?: number;
}

/** Counters since the engine began (carried through snapshot and restore). */
export interface EngineStats {
  /** Trades aggregated (records, not underlying trade counts). */
  trades: number;
  rejected: number;
  duplicates: number;
  /** Late (trade, window) pairs: counted once per interval that refused the trade. */
  late: number;
  revisions: number;
  finals: number;
  alerts: number;
  /** Missing-id ranges forgotten because a symbol had more than `maxIdGaps` open. */
  gapsEvicted: number;
}
