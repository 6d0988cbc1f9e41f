/**
 * PostgreSQL implementation of the store port (`pg`). Behaviour, error codes, messages and details
 * mirror adapters/sqlite/store.ts; the contract suite (test/contract) runs unchanged against it.
 *
 * Storage decisions (see also adapters/postgres/migrations.ts):
 * - JSON values are `text` columns holding `JSON.stringify` output and are `JSON.parse`d on read, like
 *   SQLite. Not `jsonb`: jsonb cannot store the `\u0000` escape (the contract suite round-trips it)
 *   and it normalizes key order and number spelling. A snapshot that no longer parses is
 *   SNAPSHOT_CORRUPT, as in SQLite.
 * - Timestamps are the ISO strings of the injected clock, stored as `text COLLATE "C"`: ordering and
 *   equality are SQLite's exactly, and rows come back byte-identical.
 * - `audit.position` and `outbox.id` are bigserial (read back as numbers).
 * - Context parts (adapters/store-parts.ts, schema 3): an entity's snapshot is one main row in
 *   `entities` (each part a `{ part_id }` stub) plus one `entity_parts` row per part; a commit
 *   writes only the parts its `EntityWrite.parts` hint does not call unchanged (folded over the
 *   writes of one entity in the batch), and every read joins the parts back in the same statement.
 *
 * Commits: one transaction per `commit` on one pooled client (BEGIN ... COMMIT, READ COMMITTED):
 * inbox insert `ON CONFLICT DO NOTHING RETURNING` (duplicate -> VERSION_CONFLICT { event_id,
 * duplicate }), entity inserts `ON CONFLICT DO NOTHING RETURNING` and compare-and-set updates
 * `WHERE version = expected RETURNING` (mismatch -> VERSION_CONFLICT { machine, entity_id,
 * expected_version, actual_version }), audit, outbox `ON CONFLICT (event_id) DO NOTHING`, timers
 * upsert / cancel / fire. Every multi-row write is ONE statement over `unnest` of array parameters
 * (a group commit of 500 rows is still ~8 statements). Conflicts are decided after the statements ran
 * and end in ROLLBACK, so a failed commit writes nothing. On a pipelining client (the default for
 * pools this store creates) every statement of the transaction is sent at once: a commit costs two
 * round trips (statements, then COMMIT) however many statements it has.
 *
 * Commit order of the feeds: the store port promises audit positions and outbox ids that increase in
 * COMMIT order (SQLite gets that for free by serializing writers). Sequences alone do not: a
 * transaction can draw position 10 and commit after another one drew 11, and a reader that polled
 * `auditSince(10)` in between would skip it forever. So, unless `orderedFeeds: false`, a commit with
 * audit or outbox rows takes `pg_advisory_xact_lock(FEED_LOCK_KEY, hashtext(schema))` after its
 * inbox and entity writes (so it never waits for the lock while another holder waits for its rows)
 * and before drawing positions; the lock is held to COMMIT. Entity compare-and-sets still run
 * concurrently; only the short feed tail (and its WAL flush) is serialized.
 *
 * Concurrency across workers:
 * - Entity writes are compare-and-sets; under READ COMMITTED an UPDATE that waited for a concurrent
 *   writer re-checks `version = expected` against the committed row, so exactly one wins.
 * - Serialization failures (40001) and deadlocks (40P01) are VERSION_CONFLICT: the engine retries.
 * - Timers: `dueTimers` (the port method, a plain read) skips timers with an active claim lease and
 *   rows locked by an in-flight claimer (`FOR KEY SHARE SKIP LOCKED`). Workers that must not
 *   fire the same timer call `claimDueTimers(now, limit, leaseMs)`, which leases the rows it returns
 *   (`claimed_until`) in one short statement whose candidate rows are taken `FOR UPDATE SKIP LOCKED`:
 *   concurrent claimers get disjoint timers. Firing (`timersFired`) or re-arming ends the claim; an
 *   expired lease (crashed worker) makes the timer claimable again. The final guard stays the
 *   engine's idempotency: a timer's event id is deterministic and the inbox refuses it twice.
 * - Outbox: `pendingOutbox` is the port's read; several relays use `claimOutbox(limit, leaseMs)`
 *   (same SKIP LOCKED lease scheme; `markPublishFailed` releases the lease). Relays running in
 *   parallel deliver in ascending id per relay, not globally. With `{ inAggregateOrder: true }` a
 *   relay never claims a row of an aggregate whose earlier row another relay holds under an active
 *   claim (the claims are serialized by a transaction advisory lock, CLAIM_LOCK_KEY, so each sees
 *   the ones before): per aggregate (batch), rows reach the broker in id order.
 *
 * Errors: driver errors become LifecycleError('STORE_FAILURE', 'postgres store <operation> failed:
 * ...', { cause, details: { operation, pg_code } }). Text values (ids, statuses) cannot contain
 * U+0000 in PostgreSQL: such a write fails with STORE_FAILURE (pg_code 22021), JSON values are fine.
 * The library writes nothing to the console.
 */
import pg from 'pg';
import type { Pool, PoolClient, QueryResultRow } from 'pg';
import { LifecycleError } from '../errors.js';
import { parseColumn } from '../store-support.js';
import type { AuditRecord, CommitBatch, CommitResult, EntityRecord, Json, ListQuery, OutboxRecord, PruneCutoffs, PruneReport, SnapshotStore, TimerRecord } from '../store.js';
import { rollback, runCommit } from './commit.js';
import { planCommit, type CommitPlan } from './commit-plan.js';
import { SCHEMA_NAME, toStoreError } from './errors.js';
import { migrate, migrations, type MigrationReport } from './migrations.js';
import { DEFAULT_POOL_SIZE, validateOptions, type PostgresStoreOptions } from './options.js';
import { keyOf, parseAudit, parseEntity, parseOutbox, parseTimer, type AuditRow, type EntityRow, type OutboxRow, type StatusCount, type TimerRow } from './rows.js';
import { leaseEnd, namedStatements, nonNegative, pageLimit, type Statement, type StatementKey } from './sql.js';

export { FEED_LOCK_KEY } from './sql.js';
export type { PostgresStoreOptions } from './options.js';

/** The PostgreSQL `SnapshotStore`. Build it with `openPostgresStore`, which creates the pool and migrates the schema. */
export class PostgresStore implements SnapshotStore {
  /** The migrations this store applies on open. */
  static readonly migrations = migrations;

  readonly kind = 'postgres' as const;
  readonly checksUnchanged = true;
  /** The pool (for tests and tools; do not write through it in production). */
  readonly pool: Pool;
  /** The schema holding the tables. */
  readonly schema: string;
  /** What the migration on open did. */
  readonly migration: MigrationReport;
  private readonly now: () => Date;
  private readonly ownsPool: boolean;
  private readonly orderedFeeds: boolean;
  private readonly sql: Record<StatementKey, Statement>;
  private closed = false;
  private closing: Promise<void> | undefined;

  /** `pool`'s database must already hold the migrated `schema` (see `openPostgresStore`). */
  constructor(
    pool: Pool,
    options: { schema: string; now?: () => Date; ownsPool?: boolean; orderedFeeds?: boolean; migration?: MigrationReport },
  ) {
    if (!SCHEMA_NAME.test(options.schema)) {
      throw new LifecycleError('INVALID_CONFIGURATION', `postgres schema must be a plain identifier (letters, digits, _), got ${JSON.stringify(options.schema)}`, {
        details: { schema: options.schema },
      });
    }
    this.pool = pool;
    this.schema = options.schema;
    this.now = options.now ?? (() => new Date());
    this.ownsPool = options.ownsPool ?? false;
    this.orderedFeeds = options.orderedFeeds ?? true;
    this.migration = options.migration ?? { applied: [], version: migrations.at(-1)?.version ?? 0 };
    this.sql = namedStatements(this.schema);
  }

  async load(machine: string, entity_id: string): Promise<EntityRecord | undefined> {
    const [row] = await this.rows<EntityRow>('load', 'loadEntity', [machine, entity_id]);
    return row === undefined ? undefined : parseEntity(row);
  }

  async loadMany(keys: ReadonlyArray<{ machine: string; entity_id: string }>): Promise<Map<string, EntityRecord>> {
    this.assertOpen('loadMany');
    const found = new Map<string, EntityRecord>();
    if (keys.length === 0) return found;
    const rows = await this.rows<EntityRow>('loadMany', 'loadMany', [keys.map((k) => k.machine), keys.map((k) => k.entity_id)]);
    const byKey = new Map(rows.map((row) => [keyOf(row.machine, row.entity_id), row]));
    for (const { machine, entity_id } of keys) {
      const key = keyOf(machine, entity_id);
      const row = byKey.get(key);
      if (row !== undefined && !found.has(key)) found.set(key, parseEntity(row));
    }
    return found;
  }

  async findInbox(event_ids: readonly string[]): Promise<Map<string, Json>> {
    this.assertOpen('findInbox');
    const found = new Map<string, Json>();
    if (event_ids.length === 0) return found;
    const rows = await this.rows<{ event_id: string; result: string }>('findInbox', 'findInbox', [[...event_ids]]);
    const byId = new Map(rows.map((row) => [row.event_id, row.result]));
    for (const id of event_ids) {
      const result = byId.get(id);
      if (result !== undefined && !found.has(id)) found.set(id, parseColumn(result, 'inbox', id));
    }
    return found;
  }

  async commit(batch: CommitBatch): Promise<CommitResult> {
    this.assertOpen('commit');
    let plan: CommitPlan;
    let committedAt: string;
    try {
      committedAt = this.now().toISOString();
      plan = planCommit(batch);
    } catch (error) {
      throw toStoreError(error, 'commit');
    }
    const client = await this.connect('commit');
    let release: Error | undefined;
    try {
      return await runCommit({ sql: this.sql, orderedFeeds: this.orderedFeeds }, client, batch, plan, committedAt);
    } catch (error) {
      release = await rollback(client, error);
      throw toStoreError(error, 'commit');
    } finally {
      client.release(release);
    }
  }

  async history(machine: string, entity_id: string, options: { limit?: number; afterPosition?: number } = {}): Promise<AuditRecord[]> {
    const rows = await this.rows<AuditRow>('history', 'history', [machine, entity_id, nonNegative(options.afterPosition), pageLimit(options.limit)]);
    return rows.map(parseAudit);
  }

  async auditSince(afterPosition: number, limit: number): Promise<AuditRecord[]> {
    const rows = await this.rows<AuditRow>('auditSince', 'auditSince', [nonNegative(afterPosition), pageLimit(limit)]);
    return rows.map(parseAudit);
  }

  async list(query: ListQuery): Promise<EntityRecord[]> {
    const { machine, status, parent_id } = query;
    const page = [pageLimit(query.limit), nonNegative(query.offset)];
    let rows: EntityRow[];
    if (status !== undefined && parent_id !== undefined) rows = await this.rows<EntityRow>('list', 'listByStatusAndParent', [machine, status, parent_id, ...page]);
    else if (status !== undefined) rows = await this.rows<EntityRow>('list', 'listByStatus', [machine, status, ...page]);
    else if (parent_id !== undefined) rows = await this.rows<EntityRow>('list', 'listByParent', [machine, parent_id, ...page]);
    else rows = await this.rows<EntityRow>('list', 'listAll', [machine, ...page]);
    return rows.map(parseEntity);
  }

  async countByStatus(machine?: string): Promise<StatusCount[]> {
    return machine === undefined ? this.rows<StatusCount>('countByStatus', 'countAll', []) : this.rows<StatusCount>('countByStatus', 'countMachine', [machine]);
  }

  /**
   * Unfired timers due at `now`, ascending due_at then timer_id, at most `limit` (max 1000). Timers
   * under an active claim lease (`claimDueTimers`) and rows an in-flight claimer has locked are
   * skipped (`FOR KEY SHARE SKIP LOCKED`: the weakest row lock, for the statement only; it conflicts
   * with a claimer's FOR UPDATE but never delays an engine commit). Otherwise a plain read: two calls
   * return the same rows.
   */
  async dueTimers(now: string, limit: number): Promise<TimerRecord[]> {
    const rows = await this.rows<TimerRow>('dueTimers', 'dueTimers', [now, pageLimit(limit)]);
    return rows.map(parseTimer);
  }

  /**
   * Claims up to `limit` (max 1000) timers due at `now` for `leaseMs` and returns them ascending by
   * due_at then timer_id: one short statement selects unfired, due, unleased timers `FOR UPDATE SKIP
   * LOCKED` and sets `claimed_until = now + leaseMs`. Concurrent claimers (other pools, processes)
   * get disjoint timers; a claimed timer is neither due nor claimable until it is fired, re-armed or
   * its lease expires (measured against the `now` of later calls).
   */
  async claimDueTimers(now: string, limit: number, leaseMs: number): Promise<TimerRecord[]> {
    const until = leaseEnd(Date.parse(now), leaseMs, 'claimDueTimers');
    const rows = await this.rows<TimerRow>('claimDueTimers', 'claimDueTimers', [now, pageLimit(limit), until]);
    return rows.map(parseTimer);
  }

  async nextTimerDue(): Promise<string | undefined> {
    const [row] = await this.rows<{ due: string | null }>('nextTimerDue', 'nextTimerDue', []);
    return row?.due ?? undefined;
  }

  async pendingOutbox(limit: number): Promise<OutboxRecord[]> {
    const rows = await this.rows<OutboxRow>('pendingOutbox', 'pendingOutbox', [pageLimit(limit)]);
    return rows.map(parseOutbox);
  }

  /**
   * For several relays: claims up to `limit` (max 1000) unpublished rows that no other relay holds,
   * for `leaseMs` from the store's clock, ascending id (`FOR UPDATE SKIP LOCKED`; disjoint across
   * concurrent claimers). `markPublished` ends the claim for good, `markPublishFailed` releases it.
   */
  async claimOutbox(limit: number, leaseMs: number, options: { inAggregateOrder?: boolean } = {}): Promise<OutboxRecord[]> {
    this.assertOpen('claimOutbox');
    const at = this.now();
    const until = leaseEnd(at.getTime(), leaseMs, 'claimOutbox');
    const values = [at.toISOString(), pageLimit(limit), until];
    if (options.inAggregateOrder !== true) return (await this.rows<OutboxRow>('claimOutbox', 'claimOutbox', values)).map(parseOutbox);
    // In one transaction behind the claim lock: each claim's statement sees every earlier claim committed.
    const client = await this.connect('claimOutbox');
    let broken: Error | undefined;
    try {
      const settled = await Promise.allSettled([
        client.query('BEGIN'),
        client.query(this.sql.claimLock),
        client.query<OutboxRow>({ ...this.sql.claimOutboxInOrder, values }),
        client.query('COMMIT'),
      ]);
      const failed = settled.find((outcome) => outcome.status === 'rejected');
      if (failed !== undefined) {
        broken = await rollback(client, failed.reason);
        throw failed.reason;
      }
      const claimed = settled[2] as PromiseFulfilledResult<pg.QueryResult<OutboxRow>>;
      return claimed.value.rows.map(parseOutbox);
    } catch (error) {
      throw toStoreError(error, 'claimOutbox');
    } finally {
      client.release(broken);
    }
  }

  async markPublished(ids: readonly number[], at: string): Promise<void> {
    this.assertOpen('markPublished');
    if (ids.length > 0) await this.rows('markPublished', 'markPublished', [at, [...ids]]);
  }

  async markPublishFailed(id: number, error: string): Promise<void> {
    await this.rows('markPublishFailed', 'markPublishFailed', [error, id]);
  }

  async prune(cutoffs: PruneCutoffs): Promise<PruneReport> {
    const [row] = await this.rows<{ outbox: string; inbox: string }>('prune', 'prune', [cutoffs.outboxPublishedBefore, cutoffs.inboxBefore]);
    return { outbox: Number(row?.outbox ?? 0), inbox: Number(row?.inbox ?? 0) };
  }

  async outboxCount(options: { published?: boolean } = {}): Promise<number> {
    const key = options.published === undefined ? 'outboxCountAll' : options.published ? 'outboxCountPublished' : 'outboxCountPending';
    const [row] = await this.rows<{ n: string }>('outboxCount', key, []);
    return Number(row?.n ?? 0);
  }

  /** Ends the pool when the store created it (a pool passed in stays open); idempotent. Later calls reject with STORE_FAILURE. */
  close(): Promise<void> {
    this.closed = true;
    this.closing ??=
      this.ownsPool && !this.pool.ending
        ? this.pool.end().catch((error: unknown) => {
            throw toStoreError(error, 'close');
          })
        : Promise.resolve();
    return this.closing;
  }

  private assertOpen(operation: string): void {
    if (this.closed) {
      throw new LifecycleError('STORE_FAILURE', `postgres store ${operation} failed: the store is closed`, { details: { operation } });
    }
  }

  private async connect(operation: string): Promise<PoolClient> {
    try {
      return await this.pool.connect();
    } catch (error) {
      throw toStoreError(error, operation);
    }
  }

  /** One statement on any pooled connection (autocommit), driver errors translated. */
  private async rows<R extends QueryResultRow>(operation: string, key: StatementKey, values: unknown[]): Promise<R[]> {
    this.assertOpen(operation);
    try {
      return (await this.pool.query<R>({ ...this.sql[key], values })).rows;
    } catch (error) {
      throw toStoreError(error, operation);
    }
  }
}

/**
 * Opens a PostgreSQL store: creates a pool from `connectionString` (or uses the given `pool`),
 * creates `schema` when missing and applies missing migrations (concurrent openers migrate once).
 * Throws INVALID_CONFIGURATION for bad options and STORE_FAILURE when the database is unreachable or
 * its schema is newer than this code.
 */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<PostgresStore> {
  const { schema } = validateOptions(options);
  const now = options.now ?? (() => new Date());
  const ownsPool = options.pool === undefined;
  const pool =
    options.pool ??
    new pg.Pool({
      connectionString: options.connectionString,
      max: options.poolSize ?? DEFAULT_POOL_SIZE,
      pipeline: options.pipeline ?? true,
      connectionTimeoutMillis: 10_000,
    });
  // An idle pooled connection that dies (server restart) is dropped by the pool; without a listener
  // its 'error' event would crash the process. The next query reconnects or fails with STORE_FAILURE.
  if (ownsPool) pool.on('error', () => undefined);
  try {
    const migration = await migrate(pool, { schema, now });
    return new PostgresStore(pool, { schema, now, ownsPool, orderedFeeds: options.orderedFeeds ?? true, migration });
  } catch (error) {
    if (ownsPool) await pool.end().catch(() => undefined);
    throw toStoreError(error, `open of schema "${schema}"`);
  }
}
