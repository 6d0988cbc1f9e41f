/**
 * Options of `openPostgresStore` and their validation (INVALID_CONFIGURATION before anything connects).
 */
import type { Pool } from 'pg';
import { LifecycleError } from '../errors.js';
import { SCHEMA_NAME } from './errors.js';

/** Options shared by both ways of opening a store. */
export interface PostgresCommonOptions {
  /** Schema holding the tables (created and migrated on open); default 'public'. A plain identifier. */
  schema?: string;
  /** Clock for every timestamp the store writes (default `() => new Date()`). */
  now?: () => Date;
  /**
   * Take the feed lock so audit positions and outbox ids increase in commit order (default true;
   * see the module comment of store.ts). `false` trades that guarantee for concurrent feed writes.
   */
  orderedFeeds?: boolean;
}

/** Options of `openPostgresStore`: a connection string (the store owns its pool) or a pool (the caller owns it). */
export type PostgresStoreOptions = PostgresCommonOptions &
  (
    | {
        /** e.g. postgres://user@host:5432/db */
        connectionString: string;
        /** Connections of the pool the store creates (default 10). */
        poolSize?: number;
        /** Send the statements of a transaction without waiting for each answer (default true). */
        pipeline?: boolean;
        pool?: never;
      }
    | {
        /** A pool the caller owns: `close()` does not end it. Pipelining is used when its clients have `pipeline: true`. */
        pool: Pool;
        connectionString?: never;
        poolSize?: never;
        pipeline?: never;
      }
  );

export const DEFAULT_POOL_SIZE = 10;

function invalid(message: string, details: Record<string, unknown>): LifecycleError {
  return new LifecycleError('INVALID_CONFIGURATION', message, { details });
}

export function validateOptions(options: PostgresStoreOptions): { schema: string } {
  const schema = options.schema ?? 'public';
  const hasPool = options.pool !== undefined;
  const hasUrl = options.connectionString !== undefined;
  if (hasPool === hasUrl) throw invalid('postgres store needs exactly one of connectionString or pool', {});
  if (hasUrl && (typeof options.connectionString !== 'string' || options.connectionString.length === 0)) {
    throw invalid('postgres connectionString must be a non-empty string', {});
  }
  const pool = options.pool as Partial<Pool> | undefined;
  if (hasPool && (typeof pool?.connect !== 'function' || typeof pool.query !== 'function')) throw invalid('postgres pool must be a pg.Pool', {});
  if (typeof schema !== 'string' || !SCHEMA_NAME.test(schema)) {
    throw invalid(`postgres schema must be a plain identifier (letters, digits, _), got ${JSON.stringify(schema)}`, { schema });
  }
  const poolSize = options.poolSize;
  if (poolSize !== undefined && (!Number.isInteger(poolSize) || poolSize < 1)) {
    throw invalid(`postgres poolSize must be a positive integer, got ${poolSize}`, { poolSize });
  }
  return { schema };
}
