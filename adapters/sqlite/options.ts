/** The options of `openSqliteStore`, their checks, and the folder a database file needs. */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { LifecycleError } from '../errors.js';
import { CHECKPOINT_MODES, type CheckpointMode } from './checkpointer.js';

/** Options of `openSqliteStore`. */
export interface SqliteStoreOptions {
  /** File path, or ':memory:'. */
  path: string;
  /** PRAGMA synchronous: NORMAL (default; durable up to the last WAL checkpoint on power loss) or FULL. */
  synchronous?: 'NORMAL' | 'FULL';
  /** Clock for every timestamp the store writes (default `() => new Date()`). */
  now?: () => Date;
  /** How long a writer waits for another connection's lock before STORE_FAILURE (default 5000). */
  busyTimeoutMs?: number;
  /**
   * Keep an event's first answer derived from its audit row where it can be (default true; see
   * outcomes.ts). `false` is for the bench's ablation table; files read the same either way.
   */
  deriveStoredAnswers?: boolean;
  /**
   * Keep each audit envelope once and without what the row's columns say (default true; see
   * audit.ts). `false` writes every envelope whole (the layout before schema 7), for comparisons;
   * files read the same either way.
   */
  compactAuditEnvelopes?: boolean;
  /**
   * Who copies the WAL into the database file: `background` (default; a worker thread, started
   * after the store's first 256 commits, so commits never wait for a checkpoint's fsyncs) or
   * `inline` (SQLite's default: the commit that takes the WAL past 1,000 pages). See checkpointer.ts.
   */
  checkpoint?: CheckpointMode;
  /** Told when the background checkpointer fails and the store falls back to inline checkpoints (default: a process warning). */
  onCheckpointError?: (error: Error) => void;
}

function invalid(message: string, details: Record<string, unknown>): LifecycleError {
  return new LifecycleError('INVALID_CONFIGURATION', message, { details });
}

export function validateOptions(options: SqliteStoreOptions): { synchronous: 'NORMAL' | 'FULL'; busyTimeoutMs: number; checkpoint: CheckpointMode } {
  const synchronous = options.synchronous ?? 'NORMAL';
  const checkpoint = options.checkpoint ?? 'background';
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  if (typeof options.path !== 'string' || options.path.length === 0) throw invalid('sqlite store path must be a non-empty string', {});
  if (synchronous !== 'NORMAL' && synchronous !== 'FULL') {
    throw invalid(`sqlite synchronous must be NORMAL or FULL, got ${String(synchronous)}`, { synchronous });
  }
  if (!Number.isInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
    throw invalid(`sqlite busyTimeoutMs must be a non-negative integer, got ${busyTimeoutMs}`, { busyTimeoutMs });
  }
  if (!(CHECKPOINT_MODES as readonly string[]).includes(checkpoint)) {
    throw invalid(`sqlite checkpoint must be one of ${CHECKPOINT_MODES.join(', ')}, got ${String(checkpoint)}`, { checkpoint });
  }
  return { synchronous, busyTimeoutMs, checkpoint };
}

/**
 * Creates the folder of a database file (`./data/lifecycle.db` needs `./data`). Throws
 * STORE_FAILURE naming the folder and what to do when it cannot be created.
 */
export function ensureParentDirectory(path: string): void {
  if (path === ':memory:' || path.startsWith('file:')) return;
  const dir = dirname(resolve(path));
  try {
    mkdirSync(dir, { recursive: true });
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new LifecycleError(
      'STORE_FAILURE',
      `sqlite store: cannot create the folder ${dir} for the database ${path} (${typeof code === 'string' ? code : String(error)}): create it yourself, fix its permissions, or choose another path`,
      { details: { operation: 'create folder', path: dir }, cause: error },
    );
  }
}
