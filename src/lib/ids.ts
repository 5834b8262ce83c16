/**
 * Which trade ids of one symbol have been seen. Exchange ids rise by one per trade, so
 * the state is the highest id plus the ranges below it still missing; an in-order trade
 * costs two comparisons. Missing ranges serve dedupe (an id in a range is new, any other
 * id ≤ max is a duplicate) and gap alerts (a range the watermark has passed is a gap).
 */
export class IdTracker {
  /** Highest id seen; -1 before the first trade. */
  max = -1;
  /** Missing ranges, ascending, as flat quads: from, to, ts of the trade that revealed it, alerted (0/1). */
  gaps: number[] = [];

  /**
   * Records `id`. Returns false for a duplicate. `ts` is the trade time; `limit` bounds
   * the number of ranges kept (the oldest is forgotten first); returns true when new.
   * `onEvict` is called once per forgotten range.
   */
  accept(id: number, ts: number, limit: number, onEvict: () => void): boolean {
    const max = this.max;
    if (id > max) {
      if (id > max + 1 && max >= 0) {
        this.gaps.push(max + 1, id - 1, ts, 0);
        if (this.gaps.length > limit * 4) {
          this.gaps.splice(0, 4);
          onEvict();
        }
      }
      this.max = id;
      return true;
    }
    const g = this.gaps;
    for (let i = g.length - 4; i >= 0; i -= 4) {
      const from = g[i]!;
      const to = g[i + 1]!;
      if (id > to) return false;
      if (id < from) continue;
      if (from === to) g.splice(i, 4);
      else if (id === from) g[i] = id + 1;
      else if (id === to) g[i + 1] = id - 1;
      else g.splice(i + 1, 0, id - 1, g[i + 2]!, g[i + 3]!, id + 1);
      return true;
    }
    return false;
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
    if (drop > 0) g.splice(0, drop);
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
