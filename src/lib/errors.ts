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
