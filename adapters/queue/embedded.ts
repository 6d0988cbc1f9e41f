/**
 * The embedded durable queue: a `queue` table in the same SQLite database as the store
 * (migration 2), so a process needs no server to take events asynchronously.
 *
 * EXACTLY-ONCE, BY CONSTRUCTION (atomic mode). When the engine runs on the SqliteStore that owns
 * this queue's database (the normal case), `drainOnce` opens `BEGIN IMMEDIATE` on that
 * connection, selects the oldest undone rows, runs `engine.dispatchMany` on them, marks them
 * done and COMMITs. The store's own commit transaction nests inside as a SAVEPOINT
 * (better-sqlite3 turns a transaction started inside another one into a savepoint), so dequeue,
 * transitions, audit, outbox, inbox and timers commit together or not at all: a crash anywhere
 * before the COMMIT leaves every row undone and nothing applied; after it, all of it is durable.
 * The write lock is taken before the rows are read, so several processes draining one file take
 * disjoint rows in strict queue order.
 *
 * Why that is safe with an open transaction spanning `await`s: the SQLite store is synchronous
 * behind an async port, so `dispatchMany` on it never waits for I/O; the whole
 * BEGIN .. COMMIT runs inside one event-loop callback (as microtasks) and no other callback of
 * the process (HTTP request, timer scheduler, outbox relay) can run in between and join the
 * transaction. A probe (`setImmediate`) checks that assumption on every drain and logs a
 * warning if it is ever broken (e.g. an engine store that really awaits I/O).
 *
 * EFFECTIVELY EXACTLY-ONCE (fallback mode). When the engine's store is another one (PostgreSQL,
 * memory, or another SQLite connection), the rows are dispatched first and marked done in a second
 * transaction. A crash between the two redelivers those rows; the engine's inbox answers
 * `duplicate` for every event already applied, so each event still takes effect once. In this
 * mode run one drainer per queue.
 *
 * Poison and invalid input: an item the engine answers `invalid` (not an envelope, unknown event
 * type, missing entity, machine error) is marked done with outcome `invalid` and the error in
 * `last_error`: never lost, never retried. A row that is not JSON at all likewise. When a whole
 * group fails with a thrown error, the rows are retried one by one in the same call, so the rows
 * before the culprit commit and the culprit alone gets `attempts + 1` and `last_error`;
 * transient failures (STORE_FAILURE, VERSION_CONFLICT) are retried without limit (a full disk
 * must not destroy events), any other failure at most `maxAttempts` times, then the row is
 * marked done with outcome `dead`. Rows after a failing row wait, so per-batch order holds.
 */
import Database from 'better-sqlite3';
import type { LifecycleEngine } from '../engine/engine.js';
import type { BatchItemResult } from '../engine/results.js';
import type { Worker } from '../engine/workers.js';
import { LifecycleError } from '../errors.js';
import { SqliteStore } from '../sqlite/store.js';
import { backoffDelay, isTransient, messageOf, partitionKeyOf, silentLogger, type QueueLogger } from './support.js';

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

interface CountRow {
  pending: number;
  done: number;
  invalid: number;
  dead: number;
}

type Pending = Pick<QueueRow, 'id' | 'envelope' | 'attempts'>;

const MAX_DRAIN = 1000;
const MAX_ERROR_TEXT = 2000;

function prepare(db: Database.Database) {
  return {
    insert: db.prepare<[string | null, string, string]>('INSERT INTO queue (partition_key, envelope, enqueued_at) VALUES (?, ?, ?)'),
    anyUndone: db.prepare<[], { id: number }>('SELECT id FROM queue WHERE done_at IS NULL ORDER BY id LIMIT 1'),
    undone: db.prepare<[number], Pending>('SELECT id, envelope, attempts FROM queue WHERE done_at IS NULL ORDER BY id LIMIT ?'),
    markDone: db.prepare<[string, string, string | null, number]>(
      'UPDATE queue SET done_at = ?, outcome = ?, last_error = ?, attempts = attempts + 1 WHERE id = ? AND done_at IS NULL',
    ),
    markFailed: db.prepare<[string, number]>('UPDATE queue SET attempts = attempts + 1, last_error = ? WHERE id = ? AND done_at IS NULL'),
    attemptsOf: db.prepare<[number], { attempts: number }>('SELECT attempts FROM queue WHERE id = ?'),
    markDead: db.prepare<[string, number]>("UPDATE queue SET done_at = ?, outcome = 'dead' WHERE id = ? AND done_at IS NULL"),
    counts: db.prepare<[], CountRow>(
      `SELECT COALESCE(SUM(done_at IS NULL), 0) AS pending, COALESCE(SUM(done_at IS NOT NULL), 0) AS done,
       COALESCE(SUM(outcome = 'invalid'), 0) AS invalid, COALESCE(SUM(outcome = 'dead'), 0) AS dead FROM queue`,
    ),
    list: db.prepare<[number, number], QueueRow>('SELECT * FROM queue WHERE id > ? ORDER BY id LIMIT ?'),
    begin: db.prepare('BEGIN IMMEDIATE'),
    commit: db.prepare('COMMIT'),
    rollback: db.prepare('ROLLBACK'),
  };
}

/** JSON text of one item: strings must be JSON text already, anything else must serialize. */
function toJsonText(item: unknown, index: number): { text: string; value: unknown } {
  if (typeof item === 'string') {
    try {
      return { text: item, value: JSON.parse(item) as unknown };
    } catch (error) {
      throw new LifecycleError('INVALID_ENVELOPE', `item ${index} is a string but not JSON: ${messageOf(error)}`, { details: { index } });
    }
  }
  let text: unknown;
  try {
    text = JSON.stringify(item);
  } catch (error) {
    throw new LifecycleError('INVALID_ENVELOPE', `item ${index} cannot be serialized as JSON: ${messageOf(error)}`, { details: { index } });
  }
  if (typeof text !== 'string') throw new LifecycleError('INVALID_ENVELOPE', `item ${index} is not a JSON value`, { details: { index } });
  return { text, value: item };
}

/** A driver error (lock timeout, disk, corruption) becomes STORE_FAILURE; other errors are kept. */
function translate(error: unknown, operation: string): Error {
  if (!(error instanceof Database.SqliteError)) return error instanceof Error ? error : new Error(String(error));
  return new LifecycleError('STORE_FAILURE', `embedded queue ${operation} failed: ${error.message}`, {
    details: { operation, sqlite_code: error.code },
    cause: error,
  });
}

/** Runs a synchronous statement as a settled promise, translating driver errors. */
function settle<T>(operation: string, fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (error) {
    return Promise.reject(translate(error, operation));
  }
}

function emptyReport(atomic: boolean): DrainReport {
  return { taken: 0, accepted: 0, refused: 0, duplicate: 0, invalid: 0, dead: 0, atomic };
}

/** The durable queue table of one SQLite database. */
export class EmbeddedQueue {
  readonly db: Database.Database;
  private readonly s: ReturnType<typeof prepare>;
  private readonly now: () => Date;
  private readonly maxAttempts: number;
  private readonly logger: QueueLogger;
  private readonly insertMany: Database.Transaction<(rows: ReadonlyArray<{ key: string | null; text: string }>, at: string) => number[]>;
  /** Drains of this queue run one after the other (a connection has one transaction at a time). */
  private chain: Promise<unknown> = Promise.resolve();

  /** `source` is the SqliteStore (or its database) whose schema includes migration 2. */
  constructor(source: SqliteStore | Database.Database, options: EmbeddedQueueOptions = {}) {
    this.db = source instanceof SqliteStore ? source.db : source;
    this.now = options.now ?? (() => new Date());
    this.maxAttempts = options.maxAttempts ?? 5;
    this.logger = options.logger ?? silentLogger;
    if (!Number.isInteger(this.maxAttempts) || this.maxAttempts < 1) {
      throw new LifecycleError('INVALID_CONFIGURATION', `maxAttempts must be a positive integer, got ${this.maxAttempts}`);
    }
    try {
      this.s = prepare(this.db);
    } catch (error) {
      throw new LifecycleError('STORE_FAILURE', `the database has no queue table (migration 2): ${messageOf(error)}`, { cause: error });
    }
    this.insertMany = this.db.transaction((rows, at) => rows.map((row) => Number(this.s.insert.run(row.key, row.text, at).lastInsertRowid)));
  }

  /**
   * Appends envelopes in order, atomically, and returns their row ids. Checks only that each
   * item is JSON (a string must be JSON text); the engine validates envelopes when draining.
   */
  enqueue(items: readonly unknown[]): Promise<number[]> {
    return settle('enqueue', () => {
      const rows = items.map((item, index) => {
        const { text, value } = toJsonText(item, index);
        return { key: partitionKeyOf(value), text };
      });
      return rows.length === 0 ? [] : this.insertMany.immediate(rows, this.now().toISOString());
    });
  }

  /** Row counts (pending, done, invalid, dead). */
  counts(): Promise<QueueCounts> {
    return settle('counts', () => {
      const row = this.s.counts.get();
      return { pending: row?.pending ?? 0, done: row?.done ?? 0, invalid: row?.invalid ?? 0, dead: row?.dead ?? 0 };
    });
  }

  /** Rows with id > afterId, ascending, at most `limit` (default 1000, max 10,000). */
  rows(options: { afterId?: number; limit?: number } = {}): Promise<QueueRow[]> {
    return settle('rows', () => this.s.list.all(options.afterId ?? 0, Math.min(Math.max(options.limit ?? 1000, 0), 10_000)));
  }

  /** True when `engine` commits through this queue's connection (dequeue and commit can be one transaction). */
  isAtomicWith(engine: DrainEngine): boolean {
    return engine.store instanceof SqliteStore && engine.store.db === this.db;
  }

  /** See `drainOnce`. */
  drain(engine: DrainEngine, limit = 100): Promise<DrainReport> {
    const size = Math.min(Math.max(Math.floor(limit), 1), MAX_DRAIN);
    const run = this.chain.then(() => this.round(engine, size));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async round(engine: DrainEngine, limit: number): Promise<DrainReport> {
    const report = emptyReport(this.isAtomicWith(engine));
    if ((await settle('drain', () => this.s.anyUndone.get())) === undefined) return report;
    const group = { size: 0 };
    try {
      await this.attempt(engine, limit, report, group);
      return report;
    } catch (error) {
      // A transient failure (store, lock) is no row's fault: attempt() recorded it on the group's
      // first row; the caller retries later. Otherwise find the culprit.
      if (group.size <= 1 || isTransient(error)) throw error;
      this.logger.warn(`embedded queue: a group of ${group.size} rows failed (${messageOf(error)}); retrying its rows one by one`);
    }
    // Isolation: the rows before the culprit commit; the culprit records the failure and throws.
    for (let i = 0; i < limit; i += 1) {
      const before = report.taken;
      await this.attempt(engine, 1, report, group);
      if (report.taken === before) break;
    }
    return report;
  }

  /**
   * Takes up to `limit` rows and applies them. On failure it rolls back and throws, after recording
   * the failure on the row when the group was one row, or on its first row when the failure is
   * transient (so `last_error` shows why the queue does not move).
   */
  private async attempt(engine: DrainEngine, limit: number, report: DrainReport, group: { size: number }): Promise<void> {
    const atomic = report.atomic;
    if (atomic) this.s.begin.run();
    let open = atomic;
    let rows: Pending[] = [];
    try {
      rows = this.s.undone.all(limit);
      group.size = rows.length;
      if (rows.length === 0) {
        if (atomic) this.s.commit.run();
        open = false;
        return;
      }
      const results = await this.apply(engine, rows, atomic);
      const at = this.now().toISOString();
      const mark = (): void => {
        rows.forEach((row, index) => this.markDone(row, results[index], at, report));
      };
      if (atomic) {
        mark();
        this.s.commit.run();
        open = false;
      } else {
        this.db.transaction(mark).immediate();
      }
    } catch (thrown) {
      if (open && this.db.inTransaction) this.s.rollback.run();
      const error = translate(thrown, 'drain');
      const [first] = rows;
      if (first !== undefined && (rows.length === 1 || isTransient(error))) this.recordFailure(first, error, report);
      throw error;
    }
  }

  /** Dispatches the rows' envelopes (rows that are not JSON are answered invalid without dispatch). */
  private async apply(engine: DrainEngine, rows: readonly Pending[], atomic: boolean): Promise<BatchItemResult[]> {
    const parsed = rows.map((row, index): { ok: true; value: unknown } | { ok: false; result: BatchItemResult } => {
      try {
        return { ok: true, value: JSON.parse(row.envelope) as unknown };
      } catch (error) {
        return { ok: false, result: { outcome: 'invalid', index, code: 'INVALID_ENVELOPE', message: `queue row ${row.id} is not JSON: ${messageOf(error)}`, details: {} } };
      }
    });
    const values = parsed.flatMap((item) => (item.ok ? [item.value] : []));
    let hopped = false;
    const probe = atomic ? setImmediate(() => (hopped = true)) : undefined;
    let answers: BatchItemResult[];
    try {
      answers = values.length === 0 ? [] : await engine.dispatchMany(values);
    } finally {
      if (probe !== undefined) clearImmediate(probe);
    }
    if (hopped) {
      this.logger.warn('embedded queue: the engine yielded to the event loop inside a drain transaction; other work of this process may have joined it');
    }
    let next = 0;
    return parsed.map((item) => {
      if (!item.ok) return item.result;
      const answer = answers[next];
      next += 1;
      if (answer === undefined) throw new LifecycleError('STORE_FAILURE', 'dispatchMany returned fewer answers than items');
      return answer;
    });
  }

  private markDone(row: Pending, result: BatchItemResult | undefined, at: string, report: DrainReport): void {
    if (result === undefined) throw new LifecycleError('STORE_FAILURE', `no answer for queue row ${row.id}`);
    const error = result.outcome === 'invalid' ? `${result.code}: ${result.message}`.slice(0, MAX_ERROR_TEXT) : null;
    if (this.s.markDone.run(at, result.outcome, error, row.id).changes !== 1) {
      throw new LifecycleError('VERSION_CONFLICT', `queue row ${row.id} was taken by another drainer`, { details: { queue_id: row.id } });
    }
    report.taken += 1;
    report[result.outcome] += 1;
    if (result.outcome === 'invalid') this.logger.warn(`embedded queue: row ${row.id} is invalid and was set aside`, { queue_id: row.id, error });
  }

  /** Records a failed attempt of one row (own transaction); gives a poison row up after maxAttempts. */
  private recordFailure(row: Pending, error: unknown, report: DrainReport): void {
    const text = `${error instanceof LifecycleError ? `${error.code}: ` : ''}${messageOf(error)}`.slice(0, MAX_ERROR_TEXT);
    try {
      this.db.transaction(() => {
        this.s.markFailed.run(text, row.id);
        const attempts = this.s.attemptsOf.get(row.id)?.attempts ?? 0;
        if (!isTransient(error) && attempts >= this.maxAttempts) {
          this.s.markDead.run(this.now().toISOString(), row.id);
          report.taken += 1;
          report.dead += 1;
          this.logger.error(`embedded queue: row ${row.id} failed ${attempts} times and is set aside as dead: ${text}`, { queue_id: row.id });
        }
      }).immediate();
    } catch (recordError) {
      this.logger.error(`embedded queue: could not record the failure of row ${row.id}: ${messageOf(recordError)}`, { queue_id: row.id });
    }
  }
}

/**
 * Takes the oldest undone rows (at most `limit`, max 1000) and applies them with
 * `engine.dispatchMany`; see the module comment for the transaction. Resolves with what it did;
 * rejects (after recording the failure on the row) when a row could not be applied.
 */
export function drainOnce(engine: DrainEngine, queue: EmbeddedQueue, limit = 100): Promise<DrainReport> {
  return queue.drain(engine, limit);
}

/** Options of `startEmbeddedWorker`. */
export interface EmbeddedWorkerOptions {
  /** Pause when the queue is empty (ms, default 200). */
  readonly intervalMs?: number;
  /** Rows per transaction (default 100). */
  readonly batchSize?: number;
  /** Receives every failure; the loop goes on after a capped exponential pause. */
  readonly onError?: (error: unknown) => void;
  /** Receives the report of every round that took rows. */
  readonly onDrained?: (report: DrainReport) => void;
  /** Longest pause after repeated failures (ms, default 30,000). */
  readonly maxBackoffMs?: number;
}

/** A running embedded worker. */
export interface EmbeddedWorker extends Worker {
  /** Resolves when a round finds the queue empty (or at once when stopped). */
  idle(): Promise<void>;
}

/** Drains `queue` in a loop until stopped: at once while there is work, every `intervalMs` otherwise. */
export function startEmbeddedWorker(engine: DrainEngine, queue: EmbeddedQueue, options: EmbeddedWorkerOptions = {}): EmbeddedWorker {
  const interval = options.intervalMs ?? 200;
  const batchSize = options.batchSize ?? 100;
  let stopped = false;
  let failures = 0;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> = Promise.resolve();
  let idleWaiters: Array<() => void> = [];
  const wakeIdle = (): void => {
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const resolve of waiters) resolve();
  };
  const tick = (): void => {
    if (stopped) return;
    current = queue.drain(engine, batchSize).then(
      (report) => {
        failures = 0;
        if (report.taken > 0) options.onDrained?.(report);
        else wakeIdle();
        return report.taken > 0 ? 0 : interval;
      },
      (error: unknown) => {
        failures += 1;
        options.onError?.(error);
        return backoffDelay(failures, { initialMs: Math.max(interval, 50), maxMs: options.maxBackoffMs ?? 30_000 });
      },
    ).then((delay) => {
      if (!stopped) timer = setTimeout(tick, delay);
    });
  };
  tick();
  return {
    async stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      await current;
      wakeIdle();
    },
    idle() {
      return stopped ? Promise.resolve() : new Promise((resolve) => idleWaiters.push(resolve));
    },
  };
}

/** A producer function for the HTTP layer: enqueues one envelope and answers its row id. */
export function queueProducer(queue: EmbeddedQueue): (envelope: unknown) => Promise<{ queued: true; queue_id: number }> {
  return async (envelope) => {
    const [id] = await queue.enqueue([envelope]);
    if (id === undefined) throw new LifecycleError('STORE_FAILURE', 'enqueue returned no id');
    return { queued: true, queue_id: id };
  };
}

/** A JSONL line that could not be enqueued. */
export interface RejectedLine {
  readonly line: number;
  readonly error: string;
}

/**
 * Enqueues the lines of a JSONL text (blank lines skipped) in order, for `replay`-style loading.
 * Lines that are not JSON are reported with their 1-based line number and not enqueued.
 */
export async function enqueueJsonl(queue: EmbeddedQueue, text: string): Promise<{ ids: number[]; rejected: RejectedLine[] }> {
  const items: unknown[] = [];
  const rejected: RejectedLine[] = [];
  text.split(/\r?\n/).forEach((line, index) => {
    if (line.trim().length === 0) return;
    try {
      items.push(JSON.parse(line) as unknown);
    } catch (error) {
      rejected.push({ line: index + 1, error: messageOf(error) });
    }
  });
  return { ids: await queue.enqueue(items), rejected };
}
