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
 * Deferred: an item the engine answers `deferred` (it cannot apply it now: a snapshot written by a
 * newer machine version during a rolling upgrade, an unreadable row, a failing machine; or a later
 * item of the same batch waiting behind one) stays pending with the error in `last_error` and
 * `attempts + 1`; it is retried on every drain and applied by the first drainer whose code can, and
 * never marked dead. Rows of other batches go on. (Deferred rows at the head of the queue, as many
 * as a drain takes, stall it: the rows behind them wait for a drainer that can apply them.)
 *
 * Poison and invalid input: an item the engine answers `invalid` (not an envelope, unknown event
 * type, missing entity) is marked done with outcome `invalid` and the error in
 * `last_error`: never lost, never retried. A row that is not JSON at all likewise. When a whole
 * group fails with a thrown error, the rows are retried one by one in the same call, so the rows
 * before the culprit commit and the culprit alone gets `attempts + 1` and `last_error`;
 * transient failures (STORE_FAILURE, VERSION_CONFLICT) are retried without limit (a full disk
 * must not destroy events), any other failure at most `maxAttempts` times, then the row is
 * marked done with outcome `dead`. Rows after a failing row wait, so per-batch order holds.
 */
import type Database from 'better-sqlite3';
import type { BatchItemResult, DeferredItemResult } from '../../engine/results.js';
import { LifecycleError } from '../../errors.js';
import { SqliteStore } from '../../sqlite/store.js';
import { isTransient, messageOf, partitionKeyOf, silentLogger, warnPartialRefusal, type QueueLogger } from '../support.js';
import { prepare, settle, toJsonText, translate, type Pending } from './statements.js';
import type { DrainEngine, DrainReport, EmbeddedQueueOptions, QueueCounts, QueueRow } from './types.js';

const MAX_DRAIN = 1000;
const MAX_ERROR_TEXT = 2000;

function emptyReport(atomic: boolean): DrainReport {
  return { taken: 0, accepted: 0, refused: 0, duplicate: 0, invalid: 0, dead: 0, deferred: 0, atomic };
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
    if (result.outcome === 'deferred') {
      this.keepPending(row, result, report);
      return;
    }
    const error = result.outcome === 'invalid' ? `${result.code}: ${result.message}`.slice(0, MAX_ERROR_TEXT) : null;
    if (this.s.markDone.run(at, result.outcome, error, row.id).changes !== 1) {
      throw new LifecycleError('VERSION_CONFLICT', `queue row ${row.id} was taken by another drainer`, { details: { queue_id: row.id } });
    }
    report.taken += 1;
    report[result.outcome] += 1;
    if (result.outcome === 'invalid') this.logger.warn(`embedded queue: row ${row.id} is invalid and was set aside`, { queue_id: row.id, error });
    else warnPartialRefusal(this.logger, `embedded queue: row ${row.id}`, result);
  }

  /**
   * A row the engine could not apply now (`deferred`: a snapshot of a newer machine version, say)
   * stays pending with its error, for a later drain or a drainer running newer code; never `dead`.
   */
  private keepPending(row: Pending, result: DeferredItemResult, report: DrainReport): void {
    const error = `${result.code}: ${result.message}`.slice(0, MAX_ERROR_TEXT);
    this.s.markFailed.run(error, row.id);
    report.deferred += 1;
    if (row.attempts === 0) this.logger.warn(`embedded queue: row ${row.id} cannot be applied by this process now and stays pending: ${error}`, { queue_id: row.id, code: result.code });
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
