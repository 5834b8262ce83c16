/** Stable codes of the core's errors. */
export type ErrorCode =
  | "INVALID_OPTIONS"
  | "INVALID_ARGUMENT"
  | "CHECKPOINT_CORRUPT"
  | "CHECKPOINT_VERSION"
  | "CHECKPOINT_TRUNCATED";

/**
 * The one error class of the core. `code` is stable; match on it, not on the message.
 *
 * @example
 * try { Engine.restore(bytes) } catch (e) {
 *   if (e instanceof CandleflowError && e.code === "CHECKPOINT_VERSION") upgrade()
 * }
 */
export class CandleflowError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = "CandleflowError";
    this.code = code;
  }
}

/** An `INVALID_ARGUMENT` error: what decoders throw for a malformed line. */
export function invalid(message: string): CandleflowError {
  return new CandleflowError("INVALID_ARGUMENT", message);
}

/**
 * A short preview of an untrusted value for an error message. Objects and arrays are shown
 * one level deep: a hostile value nested 100,000 deep costs nothing and cannot overflow the stack.
 */
export function preview(value: unknown): string {
  let text: string;
  if (value === undefined) text = "nothing";
  else if (Array.isArray(value)) text = `[${value.slice(0, 8).map(scalar).join(",")}]`;
  else if (typeof value === "object" && value !== null) {
    const o = value as Record<string, unknown>;
    text = `{${Object.keys(o).slice(0, 8).map((k) => `${JSON.stringify(k)}:${scalar(o[k])}`).join(",")}}`;
  } else text = scalar(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

function scalar(v: unknown): string {
  if (Array.isArray(v)) return "[…]";
  if (typeof v === "object" && v !== null) return "{…}";
  return JSON.stringify(v) ?? String(v);
}
