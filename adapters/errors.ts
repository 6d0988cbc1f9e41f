/**
 * Every error the library raises is a LifecycleError with a stable string code. HTTP maps
 * codes to statuses in one table (adapters/http); nothing else inspects messages.
 */

/** The stable error codes, with what each means. */
export const ErrorCode = {
  /** The input is not a valid envelope, or its data does not match its event_type's schema. */
  INVALID_ENVELOPE: 'INVALID_ENVELOPE',
  /** The envelope's event_type is not a lifecycle event this engine knows. */
  UNKNOWN_EVENT_TYPE: 'UNKNOWN_EVENT_TYPE',
  /** The event addresses an entity that does not exist and the event cannot create it. */
  ENTITY_NOT_FOUND: 'ENTITY_NOT_FOUND',
  /** The machine cannot take the event in its current state. */
  EVENT_REJECTED: 'EVENT_REJECTED',
  /** A compare-and-set lost against a concurrent writer more times than the retry budget. */
  VERSION_CONFLICT: 'VERSION_CONFLICT',
  /** A stored snapshot was written by a machine version with no registered migration. */
  SNAPSHOT_INCOMPATIBLE: 'SNAPSHOT_INCOMPATIBLE',
  /** A stored snapshot row is unreadable (bad JSON, unknown state, foreign machine). */
  SNAPSHOT_CORRUPT: 'SNAPSHOT_CORRUPT',
  /** A machine reached an error status while taking an event (a bug in a provided implementation). */
  MACHINE_ERROR: 'MACHINE_ERROR',
  /** The store failed (disk, driver, connection). */
  STORE_FAILURE: 'STORE_FAILURE',
  /** A configuration value (store URL, option) is invalid. */
  INVALID_CONFIGURATION: 'INVALID_CONFIGURATION',
  /** The request is refused by authentication. */
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  /** The principal may not act on this resource. */
  FORBIDDEN: 'FORBIDDEN',
  /** The event's sender class is not accepted from this sender: an internal event (from anywhere), or an outbound one over HTTP. */
  SENDER_NOT_ALLOWED: 'SENDER_NOT_ALLOWED',
  /** An event for one batch would reach an entity of another batch (membership); nothing of it was applied. */
  OUTSIDE_BATCH: 'OUTSIDE_BATCH',
  /** A limit (size, count, rate, subscribers) was exceeded. */
  LIMIT_EXCEEDED: 'LIMIT_EXCEEDED',
  /** The engine is shutting down and takes no new work. */
  SHUTTING_DOWN: 'SHUTTING_DOWN',
  /** An operator call (forced transition, dead-letter redrive) got an argument that does not match its schema. */
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  /** A forced transition names a state the machine does not have. */
  UNKNOWN_STATE: 'UNKNOWN_STATE',
  /** A forced transition the machine's definition shows to be unsafe (see adapters/engine/force-rules.ts). */
  FORCE_REFUSED: 'FORCE_REFUSED',
  /** A commit would break a lifecycle invariant (engine option `invariants: 'refuse'`); nothing was written. */
  INVARIANT_VIOLATED: 'INVARIANT_VIOLATED',
  /** A batch archive (SQLite `batch_archives`) does not decompress or check out; nothing was changed. */
  ARCHIVE_CORRUPT: 'ARCHIVE_CORRUPT',
  /** The store does not implement this optional operation (e.g. batch archives on PostgreSQL). */
  UNSUPPORTED_OPERATION: 'UNSUPPORTED_OPERATION',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Optional structured details carried by an error (ids involved, field issues, states). */
export type ErrorDetails = Readonly<Record<string, unknown>>;

/** The one error class of the library: a stable `code`, a message naming what was wrong, details. */
export class LifecycleError extends Error {
  override readonly name: string = 'LifecycleError';
  readonly code: ErrorCode;
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message: string, options: { details?: ErrorDetails; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? {};
  }
}

/** True when `error` is a LifecycleError with one of the given codes (all codes when none given). */
export function isLifecycleError(error: unknown, ...codes: ErrorCode[]): error is LifecycleError {
  return error instanceof LifecycleError && (codes.length === 0 || codes.includes(error.code));
}
