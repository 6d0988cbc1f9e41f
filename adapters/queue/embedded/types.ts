/** The types of the embedded queue: its rows, counts, drain reports and options. */
import type { LifecycleEngine } from '../../engine/engine.js';
import type { QueueLogger } from '../support.js';

/** How a queue row ended. */
export type QueueOutcome = 'accepted' | 'refused' | 'duplicate' | 'invalid' | 'dead';

/** One stored queue row. */
export interface QueueRow {
  readonly id: number;
  /** The batch id of the envelope (best effort; null when none can be found). */
  readonly partition_key: string | null;
  /** The envelope as JSON text. */
  readonly envelope: string;
  readonly enqueued_at: string;
  /** Processing attempts recorded (the successful one included). */
  readonly attempts: number;
  readonly last_error: string | null;
  readonly done_at: string | null;
  readonly outcome: QueueOutcome | null;
}

/** Row counts of a queue. */
export interface QueueCounts {
  readonly pending: number;
  readonly done: number;
  /** Done rows whose input was invalid. */
  readonly invalid: number;
  /** Done rows given up after `maxAttempts` failures. */
  readonly dead: number;
}

/** What one `drainOnce` did. */
export interface DrainReport {
  /** Rows marked done by this call. */
  taken: number;
  accepted: number;
  refused: number;
  duplicate: number;
  invalid: number;
  dead: number;
  /** Rows the engine could not apply now (`deferred`): left pending with their error, not counted in `taken`. */
  deferred: number;
  /** True when dequeue and commit were one transaction. */
  atomic: boolean;
}

/** The part of the engine a drain needs. */
export type DrainEngine = Pick<LifecycleEngine, 'dispatchMany' | 'store'>;

/** Options of an embedded queue. */
export interface EmbeddedQueueOptions {
  /** Clock of enqueued_at / done_at (default `() => new Date()`). */
  readonly now?: () => Date;
  /** Attempts before a row failing with a non-transient error is marked `dead` (default 5). */
  readonly maxAttempts?: number;
  readonly logger?: QueueLogger;
}
