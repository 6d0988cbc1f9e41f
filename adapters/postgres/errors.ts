/**
 * Translation of `pg` driver errors into the library's LifecycleError, shared by the PostgreSQL
 * store and its migrations.
 */
import pg from 'pg';
import { LifecycleError } from '../errors.js';

/** SQLSTATEs that mean "a concurrent transaction won; run the whole unit again". */
const RETRYABLE: Readonly<Record<string, string>> = { '40001': 'serialization failure', '40P01': 'deadlock detected' };

/** The SQLSTATE of a server error (`pg.DatabaseError`), or undefined for anything else (network, usage). */
export function pgCodeOf(error: unknown): string | undefined {
  return error instanceof pg.DatabaseError && typeof error.code === 'string' ? error.code : undefined;
}

/**
 * Wraps anything that is not already a LifecycleError: serialization failures (40001) and deadlocks
 * (40P01) become VERSION_CONFLICT (the engine retries the unit of work), everything else
 * STORE_FAILURE. Details: `{ operation, pg_code }` (pg_code only for server errors); the original
 * error is the cause.
 */
export function toStoreError(error: unknown, operation: string): LifecycleError {
  if (error instanceof LifecycleError) return error;
  const message = messageOf(error);
  const code = pgCodeOf(error);
  const race = code === undefined ? undefined : RETRYABLE[code];
  if (code !== undefined && race !== undefined) {
    return new LifecycleError('VERSION_CONFLICT', `postgres store ${operation} lost to a concurrent transaction (${race}): ${message}`, {
      details: { operation, pg_code: code },
      cause: error,
    });
  }
  return new LifecycleError('STORE_FAILURE', `postgres store ${operation} failed: ${message}`, {
    details: code === undefined ? { operation } : { operation, pg_code: code },
    cause: error,
  });
}

/** The message of `error`; for an AggregateError (e.g. every address of a host refused the connection) its parts'. */
function messageOf(error: unknown): string {
  if (error instanceof AggregateError && error.message === '') return error.errors.map(messageOf).join('; ');
  return error instanceof Error ? error.message : String(error);
}

/** A schema name the store accepts: a plain SQL identifier (letters, digits, underscore; at most 63 bytes). */
export const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** `name` as a quoted SQL identifier. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
