/** Stable codes of adapter errors; match on these, not on messages. */
export type AdapterErrorCode =
  /** The backing service cannot be reached or refused the call; a retry may help. */
  | "UNAVAILABLE"
  /** The call took too long; a retry may help. */
  | "TIMEOUT"
  /** A reader asked for an offset the log no longer (or does not yet) hold. */
  | "OFFSET_OUT_OF_RANGE"
  /** The adapter does not accept writes (e.g. a recorded file). */
  | "READ_ONLY"
  /** The adapter was closed. */
  | "CLOSED"
  /** The caller passed something the adapter cannot store or answer. */
  | "INVALID_ARGUMENT"
  /** Stored data could not be read back as written. */
  | "CORRUPT"
  /** A fenced write lost: another processor committed the same checkpoint key first. */
  | "CONFLICT";

const RETRYABLE: ReadonlySet<AdapterErrorCode> = new Set(["UNAVAILABLE", "TIMEOUT"]);

/**
 * The one error class of the server's adapters: which adapter failed, a stable `code`, and
 * whether retrying the same call can help.
 *
 * @example
 * try { await store.commit(batch) } catch (e) {
 *   if (e instanceof AdapterError && e.retryable) await retryLater()
 *   else throw e
 * }
 */
export class AdapterError extends Error {
  /** Adapter name, e.g. `sqlite` or `memory-log`. */
  readonly adapter: string;
  /** Stable error code. */
  readonly code: AdapterErrorCode;
  /** True when the same call may succeed later. */
  readonly retryable: boolean;

  constructor(adapter: string, code: AdapterErrorCode, message: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super(`${adapter}: ${message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "AdapterError";
    this.adapter = adapter;
    this.code = code;
    this.retryable = options.retryable ?? RETRYABLE.has(code);
  }
}
