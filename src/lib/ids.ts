/** An {@link IdTracker}'s state as plain data (what a checkpoint stores). */
export interface IdState {
  max: number;
  min: number;
  minTs: number;
  gaps: number[];
}

/**
 * Which trade ids of one symbol have been seen. Exchange ids rise by one per trade, so
 * the state is the highest id plus the ranges below it still missing; an in-order trade
 * costs two comparisons. Missing ranges serve dedupe (an id in a range is new, any other
 * id ≤ max is a duplicate) and gap alerts (a range the watermark has passed is a gap).
 */
export class IdTracker {
  /** Highest id seen; -1 before the first trade. */
  max = -1;
  /** Lowest id seen, and its trade time (ids below it are unseen, not missing). */
  min = -1;
  minTs = 0;
  /** Missing ranges, ascending, as flat quads: from, to, time of the trade just above it, alerted (0/1). */
  gaps: number[] = [];

  /** The state as plain data; the gap list is shared, not copied. */
  toState(): IdState {
    return { max: this.max, min: this.min, minTs: this.minTs, gaps: this.gaps };
  }

  /** A tracker continuing from `state` (which it takes over). */
  static fromState(state: IdState): IdTracker {
    const ids = new IdTracker();
    ids.max = state.max;
    ids.min = state.min;
    ids.minTs = state.minTs;
    ids.gaps = state.gaps;
    return ids;
  }

  /**
   * Records `id` and returns true when it is new, false for a duplicate. `ts` is the
   * trade time; `limit` bounds the ranges kept (the oldest is forgotten first, and
   * `onEvict` is called for it).
   */
  accept(id: number, ts: number, limit: number, onEvict: () => void): boolean {
    const max = this.max;
    if (id > max) {
      if (max < 0) {
        this.min = id;
        this.minTs = ts;
      } else if (id > max + 1) this.open(this.gaps.length, max + 1, id - 1, ts, limit, onEvict);
      this.max = id;
      return true;
    }
    if (id < this.min) {
      // Earlier than anything seen: new. Ids between it and the old lowest went missing
      // no later than the old lowest trade's time.
      if (id < this.min - 1) this.open(0, id + 1, this.min - 1, this.minTs, limit, onEvict);
      this.min = id;
      this.minTs = ts;
      return true;
    }
    const g = this.gaps;
    for (let i = g.length - 4; i >= 0; i -= 4) {
      const from = g[i]!;
      const to = g[i + 1]!;
      if (id > to) return false;
      if (id < from) continue;
      // A range's time is that of the trade just above it, whatever the arrival order.
      if (from === to) remove(g, i, 4);
      else if (id === from) g[i] = id + 1;
      else if (id === to) {
        g[i + 1] = id - 1;
        g[i + 2] = ts;
      } else {
        insert(g, i, from, id - 1, ts, g[i + 3]!);
        g[i + 4] = id + 1;
      }
      return true;
    }
    return false;
  }

  private open(at: number, from: number, to: number, ts: number, limit: number, onEvict: () => void): void {
    insert(this.gaps, at, from, to, ts, 0);
    if (this.gaps.length > limit * 4) {
      remove(this.gaps, 0, 4);
      onEvict();
    }
  }

  /**
   * Ranges the watermark `wm` has passed and not yet reported: calls `onGap(from, to, ts)`
   * for each and marks it reported. Forgets ranges older than `wm - horizon`.
   */
  confirm(wm: number, horizon: number, onGap: (from: number, to: number, ts: number) => void): void {
    const g = this.gaps;
    for (let i = 0; i < g.length; i += 4) {
      if (g[i + 3] === 0 && g[i + 2]! < wm) {
        g[i + 3] = 1;
        onGap(g[i]!, g[i + 1]!, g[i + 2]!);
      }
    }
    let drop = 0;
    while (drop < g.length && g[drop + 3] === 1 && g[drop + 2]! + horizon < wm) drop += 4;
    if (drop > 0) remove(g, 0, drop);
  }

  /** Smallest watermark at which `confirm` has work to do; Infinity when none. */
  nextDue(horizon: number): number {
    const g = this.gaps;
    let due = Infinity;
    for (let i = 0; i < g.length; i += 4) {
      const at = g[i + 3] === 0 ? g[i + 2]! + 1 : g[i + 2]! + horizon + 1;
      if (at < due) due = at;
    }
    return due;
  }
}

// The gap list is short and changes on every out-of-order trade: plain moves instead of
// `splice`, which allocates the removed part and takes the generic path.

/** Inserts the quad `a, b, c, d` at index `at` of `g`. */
function insert(g: number[], at: number, a: number, b: number, c: number, d: number): void {
  // One element per push: the compiler inlines that, not a push of four.
  g.push(a);
  g.push(b);
  g.push(c);
  g.push(d);
  for (let j = g.length - 1; j >= at + 4; j--) g[j] = g[j - 4]!;
  g[at] = a;
  g[at + 1] = b;
  g[at + 2] = c;
  g[at + 3] = d;
}

/** Removes `n` entries of `g` from index `at`. */
function remove(g: number[], at: number, n: number): void {
  const end = g.length - n;
  for (let j = at; j < end; j++) g[j] = g[j + n]!;
  // pop() rather than `g.length = end`: setting the length leaves compiled code for the runtime.
  while (g.length > end) g.pop();
}
