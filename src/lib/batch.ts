/**
 * Trades in columns, for `Engine.ingestBatch`: prices and quantities already parsed into
 * exact integer mantissas and scales, symbols as indexes into a small name table. A batch
 * is reused: `clear()` keeps its arrays, so filling it allocates nothing per trade.
 */
import { formatDecimal, MAX_SCALE } from "./decimal.ts";
import type { RejectReason, Trade } from "./types.ts";
import { checkTrade, normalizeTs, valid, type PriceCache } from "./validate.ts";

/** `sym` of a rejected row. */
const REJECTED = 0xffffffff;

/** A row that failed validation: the engine emits it as a `rejected` event, in row order. */
export interface BatchRejection {
  row: number;
  reason: RejectReason;
  detail: string;
  trade: unknown;
}

/**
 * A reusable batch of trades in parallel typed arrays. Rows are checked as they are added,
 * exactly as `Engine.ingest` checks a trade object; a row that fails is kept as a rejection,
 * so `ingestBatch` of a batch emits what `ingestMany` of the same trades emits.
 *
 * @example
 * const batch = new TradeBatch()
 * for (const t of trades) batch.push(t)
 * const events = engine.ingestBatch(batch)
 * batch.clear()
 */
export class TradeBatch {
  /** Rows held (valid and rejected). */
  length = 0;
  /** Symbol names seen by this batch; `sym[row]` indexes it. Kept across `clear()`. */
  readonly names: string[] = [];
  sym: Uint32Array;
  id: Float64Array;
  /** Trade time, ms (already normalised from µs or ns). */
  ts: Float64Array;
  /** Price = pm · 10^-pe, exact (pm a safe integer, pe ≤ 18, trailing zeros dropped). */
  pm: Float64Array;
  pe: Uint8Array;
  /** Quantity = qm · 10^-qe, exact. */
  qm: Float64Array;
  qe: Uint8Array;
  /** 1 when the taker bought. */
  buy: Uint8Array;
  /** Exchange trades the row stands for (aggregate trades); 1 otherwise. */
  count: Float64Array;
  /** Rejected rows, ascending by row. */
  readonly rejected: BatchRejection[] = [];
  private readonly index = new Map<string, number>();
  /** The last symbol added and its index (-1 before the first: "" is never a valid symbol). */
  private lastName = "";
  private lastIndex = -1;
  private readonly slotName: string[] = new Array<string>(64).fill("");
  private readonly slotIndex = new Int32Array(64);
  private readonly cache: PriceCache = { lastPrice: "", lastPM: 0, lastPE: 0 };

  constructor(capacity = 4096) {
    const n = Math.max(16, capacity);
    this.sym = new Uint32Array(n);
    this.id = new Float64Array(n);
    this.ts = new Float64Array(n);
    this.pm = new Float64Array(n);
    this.pe = new Uint8Array(n);
    this.qm = new Float64Array(n);
    this.qe = new Uint8Array(n);
    this.buy = new Uint8Array(n);
    this.count = new Float64Array(n);
  }

  /** A batch holding `trades`. */
  static from(trades: Iterable<Trade>): TradeBatch {
    const batch = new TradeBatch();
    for (const t of trades) batch.push(t);
    return batch;
  }

  /** Empties the batch, keeping its arrays and name table. */
  clear(): void {
    this.length = 0;
    this.rejected.length = 0;
  }

  /**
   * The symbol of row `row`: its name, or for a rejected row the symbol its trade named
   * (undefined when it named none), so a reader can filter rows by symbol before ingesting.
   */
  symbolAt(row: number): string | undefined {
    if (row < 0 || row >= this.length) return undefined;
    const k = this.sym[row]!;
    if (k !== REJECTED) return this.names[k];
    let r: BatchRejection | undefined;
    for (let i = this.rejected.length - 1; i >= 0 && r === undefined; i--) if (this.rejected[i]!.row === row) r = this.rejected[i];
    const symbol = (r?.trade as { symbol?: unknown } | null | undefined)?.symbol;
    return typeof symbol === "string" ? symbol : undefined;
  }

  /** Takes back the last row added, a rejected one included, as if it had never been added. */
  pop(): void {
    if (this.length === 0) return;
    const row = --this.length;
    if (this.sym[row] === REJECTED) this.rejected.pop();
  }

  /** Adds a trade object (untrusted: checked like `Engine.ingest` checks it). */
  push(t: Trade): void {
    const rejection = checkTrade(t, this.cache);
    if (rejection !== null) {
      this.reject(rejection.reason, rejection.detail, t);
      return;
    }
    this.row(this.symbolIndex(t.symbol), t.id, valid.ts, valid.pm, valid.pe, valid.qm, valid.qe, t.side === "buy", valid.count);
  }

  /**
   * Adds a trade whose price and quantity are already parsed: price = `pm · 10^-pe`,
   * qty = `qm · 10^-qe`. Checked like any trade (positive safe-integer mantissas, at most
   * 18 decimals, a plausible time); a decoder that scanned the digits itself calls this.
   */
  add(symbol: string, id: number, pm: number, pe: number, qm: number, qe: number, ts: number, buy: boolean, count = 1): void {
    const at = normalizeTs(ts);
    const k = this.known(symbol);
    if (
      k >= 0 && Number.isSafeInteger(id) && id >= 0 && at === at &&
      decimalOk(pm, pe) && decimalOk(qm, qe) && Number.isSafeInteger(count) && count >= 1
    ) {
      this.lastName = symbol;
      this.lastIndex = k;
      this.row(k, id, at, pm, pe, qm, qe, buy, count);
      return;
    }
    this.unusual(symbol, id, pm, pe, qm, qe, ts, buy, count);
  }

  /**
   * {@link add} for a decoder in this library whose scanner already guarantees what `add`
   * checks of the parts (safe non-negative id, positive canonical mantissas, at most 18
   * decimals, count ≥ 1): only the symbol and the time are left to check.
   * @internal
   */
  addScanned(symbol: string, id: number, pm: number, pe: number, qm: number, qe: number, ts: number, buy: boolean, count: number): void {
    const at = normalizeTs(ts);
    const k = this.known(symbol);
    if (k >= 0 && at === at) {
      this.lastName = symbol;
      this.lastIndex = k;
      this.row(k, id, at, pm, pe, qm, qe, buy, count);
    } else this.unusual(symbol, id, pm, pe, qm, qe, ts, buy, count);
  }

  /** Anything unusual (a new symbol, a bad part) goes the way a trade object goes, for the same verdicts. */
  private unusual(symbol: string, id: number, pm: number, pe: number, qm: number, qe: number, ts: number, buy: boolean, count: number): void {
    const shown = (m: number, e: number): string =>
      Number.isSafeInteger(m) && m >= 0 && Number.isInteger(e) && e >= 0 && e <= MAX_SCALE ? formatDecimal(m, e) : `${m}e-${e}`;
    this.push({ symbol, id, price: shown(pm, pe), qty: shown(qm, qe), ts, side: buy ? "buy" : "sell", ...(count === 1 ? {} : { count }) });
  }

  private row(sym: number, id: number, ts: number, pm: number, pe: number, qm: number, qe: number, buy: boolean, count: number): void {
    if (this.length === this.id.length) this.grow();
    const i = this.length++;
    this.sym[i] = sym;
    this.id[i] = id;
    this.ts[i] = ts;
    this.pm[i] = pm;
    this.pe[i] = pe;
    this.qm[i] = qm;
    this.qe[i] = qe;
    this.buy[i] = buy ? 1 : 0;
    this.count[i] = count;
  }

  /**
   * The index of a symbol this batch has seen, or -1. Rows of many symbols interleave: the
   * last symbol, then a small table keyed by a few characters, answer before the Map does.
   */
  private known(symbol: string): number {
    if (symbol === this.lastName) return this.lastIndex;
    const n = symbol.length;
    if (n === 0) return -1;
    const slot = (n * 7 + symbol.charCodeAt(0) * 3 + symbol.charCodeAt(n >> 1) * 5 + symbol.charCodeAt(n - 1)) & 63;
    if (this.slotName[slot] === symbol) return this.slotIndex[slot]!;
    const k = this.index.get(symbol);
    if (k === undefined) return -1;
    this.slotName[slot] = symbol;
    this.slotIndex[slot] = k;
    return k;
  }

  private reject(reason: RejectReason, detail: string, trade: unknown): void {
    if (this.length === this.id.length) this.grow();
    const row = this.length++;
    this.sym[row] = REJECTED;
    this.rejected.push({ row, reason, detail, trade });
  }

  private symbolIndex(name: string): number {
    if (name === this.lastName) return this.lastIndex;
    let i = this.index.get(name);
    if (i === undefined) {
      i = this.names.length;
      this.names.push(name);
      this.index.set(name, i);
    }
    this.lastName = name;
    this.lastIndex = i;
    return i;
  }

  private grow(): void {
    const n = this.id.length * 2;
    const more = <A extends Uint8Array | Uint32Array | Float64Array>(a: A): A => {
      const b = new (a.constructor as new (n: number) => A)(n);
      b.set(a);
      return b;
    };
    this.sym = more(this.sym);
    this.id = more(this.id);
    this.ts = more(this.ts);
    this.pm = more(this.pm);
    this.pe = more(this.pe);
    this.qm = more(this.qm);
    this.qe = more(this.qe);
    this.buy = more(this.buy);
    this.count = more(this.count);
  }
}

/** A positive exact mantissa with a canonical scale (no trailing zero) the core accepts. */
function decimalOk(m: number, e: number): boolean {
  return Number.isSafeInteger(m) && m > 0 && Number.isInteger(e) && e >= 0 && e <= MAX_SCALE && (e === 0 || m % 10 !== 0);
}
