/**
 * The one owner of what a checkpoint says about where to resume: its key, and its offsets
 * string — the log offset the partition continues from, plus the driver's own state (where
 * a replayed recording sits in time). The string is what `Engine.snapshot(offsets)` carries,
 * so a snapshot and the stored row can be checked against each other.
 *
 * Format: a JSON object with the partition number as key for its offset, beside the
 * driver's fields: `{"2":1234,"source":"replay","replayBase":86400000}`.
 */

/** Driver state committed with every checkpoint; where each symbol stopped comes from the engine itself. */
export interface SourceResume {
  /** Name of the source that fed the committed trades, e.g. `replay`, `binance`. */
  source?: string;
  /** A replay's time shift (ms) in use when the checkpoint was taken. */
  replayBase?: number;
}

/** What a checkpoint's offsets string says. */
export interface Resume extends SourceResume {
  /** Log offset to read from next. */
  next: number;
}

/** Key of a processor group's checkpoint of `partition`, e.g. `candleflow:3`. */
export const checkpointKey = (group: string, partition: number): string => `${group}:${partition}`;

/** The offsets string of a checkpoint of `partition` that resumes at `next`. */
export function encodeResume(partition: number, next: number, source: SourceResume = {}): string {
  return JSON.stringify({ ...source, [partition]: next });
}

/** Reads an offsets string back; undefined when it is not one of `partition`. */
export function decodeResume(partition: number, offsets: string): Resume | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(offsets);
  } catch {
    return undefined;
  }
  if (parsed === null || typeof parsed !== "object") return undefined;
  const fields = parsed as Record<string, unknown>;
  const next = fields[String(partition)];
  if (typeof next !== "number" || !Number.isSafeInteger(next) || next < 0) return undefined;
  return {
    next,
    ...(typeof fields.source === "string" ? { source: fields.source } : {}),
    ...(typeof fields.replayBase === "number" ? { replayBase: fields.replayBase } : {}),
  };
}
