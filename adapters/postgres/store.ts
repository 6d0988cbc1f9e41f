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
 *   (same SKIP LOCKED lease scheme; `markPublishFailed` releases the lease). Note that relays running
 *   in parallel deliver in ascending id per relay, not globally.
 *
 * Errors: driver errors become LifecycleError('STORE_FAILURE', 'postgres store <operation> failed:
 * ...', { cause, details: { operation, pg_code } }). Text values (ids, statuses) cannot contain
 * U+0000 in PostgreSQL: such a write fails with STORE_FAILURE (pg_code 22021), JSON values are fine.
 * The library writes nothing to the console.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Pool, PoolClient, QueryResult, QueryResultRow } from 'pg';
import { LifecycleError } from '../errors.js';
import type {
  AuditRecord,
  CommitBatch,
  CommitResult,
  EntityRecord,
  EntityWrite,
  Json,
  ListQuery,
  OutboxRecord,
  SnapshotStore,
  TimerRecord,
} from '../store.js';
import { quoteIdent, SCHEMA_NAME, toStoreError } from './errors.js';
import { migrate, migrations, type MigrationReport } from './migrations.js';

/** Options shared by both ways of opening a store. */
interface CommonOptions {
  /** Schema holding the tables (created and migrated on open); default 'public'. A plain identifier. */
  schema?: string;
  /** Clock for every timestamp the store writes (default `() => new Date()`). */
  now?: () => Date;
  /**
   * Take the feed lock so audit positions and outbox ids increase in commit order (default true;
   * see the module comment). `false` trades that guarantee for concurrent feed writes.
   */
  orderedFeeds?: boolean;
}

/** Options of `openPostgresStore`: a connection string (the store owns its pool) or a pool (the caller owns it). */
export type PostgresStoreOptions = CommonOptions &
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

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;
const DEFAULT_POOL_SIZE = 10;

/** First key of the feed lock (the second is `hashtext(schema)`); see the module comment. */
export const FEED_LOCK_KEY = 727_310_002;

type EntityRow = Omit<EntityRecord, 'snapshot'> & { snapshot: string };
type AuditRow = Omit<AuditRecord, 'envelope' | 'position'> & { envelope: string; position: string };
type OutboxRow = Omit<OutboxRecord, 'envelope' | 'id'> & { envelope: string; id: string };
type TimerRow = Omit<TimerRecord, 'event'> & { event: string };
type StatusCount = { machine: string; status: string; count: number };

const ENTITY_COLUMNS = 'machine, entity_id, parent_id, machine_version, version, status, snapshot, created_at, updated_at';
const AUDIT_COLUMNS =
  'position, event_id, event_type, correlation_id, causation_id, machine, entity_id, from_status, to_status, outcome, reason, entity_version, envelope, recorded_at';
const OUTBOX_COLUMNS = 'id, event_id, event_type, aggregate_id, envelope, internal, created_at, published_at, attempts, last_error';
const TIMER_COLUMNS = 'timer_id, machine, entity_id, due_at, event, created_at, fired_at';

/** Every statement of the store, with its schema-qualified text. */
function statements(schema: string) {
  const s = quoteIdent(schema);
  const listBy = (where: string, args: number): string =>
    `SELECT ${ENTITY_COLUMNS} FROM ${s}.entities WHERE machine = $1${where} ORDER BY created_at, entity_id LIMIT $${args + 1} OFFSET $${args + 2}`;
  const due = `fired_at IS NULL AND due_at <= $1 AND (claimed_until IS NULL OR claimed_until <= $1)`;
  return {
    loadEntity: `SELECT ${ENTITY_COLUMNS} FROM ${s}.entities WHERE machine = $1 AND entity_id = $2`,
    loadMany: `SELECT ${ENTITY_COLUMNS} FROM ${s}.entities WHERE (machine, entity_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
    entityVersions: `SELECT machine, entity_id, version FROM ${s}.entities WHERE (machine, entity_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
    insertEntities: `INSERT INTO ${s}.entities (${ENTITY_COLUMNS})
      SELECT u.machine, u.entity_id, u.parent_id, u.machine_version, u.version, u.status, u.snapshot, $8, $8
      FROM unnest($1::text[], $2::text[], $3::text[], $4::integer[], $5::integer[], $6::text[], $7::text[])
        AS u(machine, entity_id, parent_id, machine_version, version, status, snapshot)
      ON CONFLICT (machine, entity_id) DO NOTHING
      RETURNING machine, entity_id`,
    updateEntities: `UPDATE ${s}.entities AS e
      SET parent_id = u.parent_id, machine_version = u.machine_version, status = u.status, snapshot = u.snapshot,
          updated_at = $9, version = u.next_version
      FROM unnest($1::text[], $2::text[], $3::integer[], $4::integer[], $5::text[], $6::integer[], $7::text[], $8::text[])
        AS u(machine, entity_id, expected_version, next_version, parent_id, machine_version, status, snapshot)
      WHERE e.machine = u.machine AND e.entity_id = u.entity_id AND e.version = u.expected_version
      RETURNING e.machine, e.entity_id`,
    listAll: listBy('', 1),
    listByStatus: listBy(' AND status = $2', 2),
    listByParent: listBy(' AND parent_id = $2', 2),
    listByStatusAndParent: listBy(' AND status = $2 AND parent_id = $3', 3),
    countAll: `SELECT machine, status, COUNT(*)::integer AS count FROM ${s}.entities GROUP BY machine, status ORDER BY machine, status`,
    countMachine: `SELECT machine, status, COUNT(*)::integer AS count FROM ${s}.entities WHERE machine = $1
      GROUP BY machine, status ORDER BY machine, status`,
    feedLock: `SELECT pg_advisory_xact_lock(${FEED_LOCK_KEY}, hashtext('${schema}'))`,
    insertAudit: `INSERT INTO ${s}.audit (event_id, event_type, correlation_id, causation_id, machine, entity_id, from_status, to_status,
        outcome, reason, entity_version, envelope, recorded_at)
      SELECT u.event_id, u.event_type, u.correlation_id, u.causation_id, u.machine, u.entity_id, u.from_status, u.to_status,
        u.outcome, u.reason, u.entity_version, u.envelope, $13
      FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
        $11::integer[], $12::text[]) WITH ORDINALITY
        AS u(event_id, event_type, correlation_id, causation_id, machine, entity_id, from_status, to_status, outcome, reason,
          entity_version, envelope, ord)
      ORDER BY u.ord
      RETURNING position`,
    history: `SELECT ${AUDIT_COLUMNS} FROM ${s}.audit WHERE machine = $1 AND entity_id = $2 AND position > $3 ORDER BY position LIMIT $4`,
    auditSince: `SELECT ${AUDIT_COLUMNS} FROM ${s}.audit WHERE position > $1 ORDER BY position LIMIT $2`,
    insertOutbox: `INSERT INTO ${s}.outbox (event_id, event_type, aggregate_id, envelope, internal, created_at)
      SELECT u.event_id, u.event_type, u.aggregate_id, u.envelope, u.internal, $6
      FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::boolean[]) WITH ORDINALITY
        AS u(event_id, event_type, aggregate_id, envelope, internal, ord)
      ORDER BY u.ord
      ON CONFLICT (event_id) DO NOTHING`,
    pendingOutbox: `SELECT ${OUTBOX_COLUMNS} FROM ${s}.outbox WHERE published_at IS NULL ORDER BY id LIMIT $1`,
    claimOutbox: `WITH next AS (
        SELECT id FROM ${s}.outbox WHERE published_at IS NULL AND (claimed_until IS NULL OR claimed_until <= $1)
        ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED
      ), claimed AS (
        UPDATE ${s}.outbox AS o SET claimed_until = $3 FROM next WHERE o.id = next.id RETURNING ${OUTBOX_COLUMNS.split(', ').map((c) => `o.${c}`).join(', ')}
      )
      SELECT ${OUTBOX_COLUMNS} FROM claimed ORDER BY id`,
    markPublished: `UPDATE ${s}.outbox SET published_at = $1 WHERE id = ANY($2::bigint[]) AND published_at IS NULL`,
    markPublishFailed: `UPDATE ${s}.outbox SET attempts = attempts + 1, last_error = $1, claimed_until = NULL WHERE id = $2 AND published_at IS NULL`,
    outboxCountAll: `SELECT COUNT(*) AS n FROM ${s}.outbox`,
    outboxCountPublished: `SELECT COUNT(*) AS n FROM ${s}.outbox WHERE published_at IS NOT NULL`,
    outboxCountPending: `SELECT COUNT(*) AS n FROM ${s}.outbox WHERE published_at IS NULL`,
    insertInbox: `INSERT INTO ${s}.inbox (event_id, event_type, result, received_at)
      SELECT u.event_id, u.event_type, u.result, $4 FROM unnest($1::text[], $2::text[], $3::text[]) AS u(event_id, event_type, result)
      ON CONFLICT (event_id) DO NOTHING
      RETURNING event_id`,
    findInbox: `SELECT event_id, result FROM ${s}.inbox WHERE event_id = ANY($1::text[])`,
    upsertTimers: `INSERT INTO ${s}.timers (timer_id, machine, entity_id, due_at, event, created_at)
      SELECT u.timer_id, u.machine, u.entity_id, u.due_at, u.event, $6
      FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS u(timer_id, machine, entity_id, due_at, event)
      ON CONFLICT (timer_id) DO UPDATE SET machine = excluded.machine, entity_id = excluded.entity_id,
        due_at = excluded.due_at, event = excluded.event, fired_at = NULL, claimed_until = NULL`,
    deleteTimers: `DELETE FROM ${s}.timers WHERE timer_id = ANY($1::text[])`,
    fireTimers: `UPDATE ${s}.timers SET fired_at = $1 WHERE timer_id = ANY($2::text[]) AND fired_at IS NULL`,
    dueTimers: `SELECT ${TIMER_COLUMNS} FROM ${s}.timers WHERE ${due} ORDER BY due_at, timer_id LIMIT $2 FOR KEY SHARE SKIP LOCKED`,
    claimDueTimers: `WITH next AS (
        SELECT timer_id FROM ${s}.timers WHERE ${due} ORDER BY due_at, timer_id LIMIT $2 FOR UPDATE SKIP LOCKED
      ), claimed AS (
        UPDATE ${s}.timers AS t SET claimed_until = $3 FROM next WHERE t.timer_id = next.timer_id
        RETURNING ${TIMER_COLUMNS.split(', ').map((c) => `t.${c}`).join(', ')}
      )
      SELECT ${TIMER_COLUMNS} FROM claimed ORDER BY due_at, timer_id`,
    nextTimerDue: `SELECT MIN(due_at) AS due FROM ${s}.timers WHERE fired_at IS NULL`,
  };
}
type StatementKey = keyof ReturnType<typeof statements>;
type Statement = { name: string; text: string };

/** A page size: the default when absent or not a number, clamped to [0, MAX_LIMIT]. */
function pageLimit(limit: number | undefined, fallback: number = DEFAULT_LIMIT): number {
  if (limit === undefined || !Number.isFinite(limit)) return fallback;
  return Math.min(MAX_LIMIT, Math.max(0, Math.floor(limit)));
}

function nonNegative(value: number | undefined): number {
  return value === undefined || !Number.isFinite(value) ? 0 : Math.max(0, Math.floor(value));
}

/** `value` as JSON text; a value that is not JSON fails like a driver would (STORE_FAILURE). */
function stringify(value: Json, what: string): string {
  const text = JSON.stringify(value) as string | undefined;
  if (text === undefined) throw new LifecycleError('STORE_FAILURE', `${what} is not a JSON value`, { details: { what } });
  return text;
}

function parseEntity(row: EntityRow): EntityRecord {
  let snapshot: Json;
  try {
    snapshot = JSON.parse(row.snapshot) as Json;
  } catch (error) {
    throw new LifecycleError('SNAPSHOT_CORRUPT', `stored snapshot of ${row.machine} '${row.entity_id}' is not valid JSON`, {
      details: { machine: row.machine, entity_id: row.entity_id },
      cause: error,
    });
  }
  return { ...row, snapshot };
}

/** Parses a non-entity JSON column; corruption there is a store failure naming the table and row. */
function parseColumn(text: string, table: string, key: string | number): Json {
  try {
    return JSON.parse(text) as Json;
  } catch (error) {
    throw new LifecycleError('STORE_FAILURE', `${table} row ${key} holds invalid JSON`, { details: { table, key }, cause: error });
  }
}

function parseAudit(row: AuditRow): AuditRecord {
  const position = Number(row.position);
  return { ...row, position, envelope: parseColumn(row.envelope, 'audit', position) };
}

function parseOutbox(row: OutboxRow): OutboxRecord {
  const id = Number(row.id);
  return { ...row, id, envelope: parseColumn(row.envelope, 'outbox', id) };
}

function parseTimer(row: TimerRow): TimerRecord {
  return { ...row, event: parseColumn(row.event, 'timers', row.timer_id) };
}

/** Compares text by Unicode code point (= PostgreSQL "C" collation of UTF-8 = SQLite BINARY). */
function compareText(a: string, b: string): number {
  if (a === b) return 0;
  const left = a[Symbol.iterator]();
  const right = b[Symbol.iterator]();
  for (;;) {
    const x = left.next();
    const y = right.next();
    if (x.done === true) return y.done === true ? 0 : -1;
    if (y.done === true) return 1;
    const cx = x.value.codePointAt(0) ?? 0;
    const cy = y.value.codePointAt(0) ?? 0;
    if (cx !== cy) return cx < cy ? -1 : 1;
  }
}

const keyOf = (machine: string, entity_id: string): string => `${machine}\u0000${entity_id}`;

/**
 * The writes to one entity in one batch, folded into one row write: `expected` of the first write,
 * the values of the last, version `expected + count`. `index` = batch position of the first write.
 */
interface FoldedEntity {
  index: number;
  machine: string;
  entity_id: string;
  expected: number;
  next: number;
  parent_id: string | null;
  machine_version: number;
  status: string;
  snapshot: string;
}

/** A write whose expected_version cannot hold even if the earlier writes of its entity in the batch succeed. */
interface ChainBreak {
  index: number;
  write: EntityWrite;
  actual: number;
}

/** Everything `commit` sends, computed before touching the database. */
interface CommitPlan {
  inbox: CommitBatch['inbox'];
  inboxResults: string[];
  inserts: FoldedEntity[];
  updates: FoldedEntity[];
  chainBreak: ChainBreak | undefined;
  auditEnvelopes: string[];
  outbox: CommitBatch['outbox'];
  outboxEnvelopes: string[];
  timersSet: CommitBatch['timersSet'];
  timerEvents: string[];
}

/** Folds the entity writes per entity (see `FoldedEntity`), sorted by key so concurrent commits lock rows in one order. */
function foldEntities(writes: readonly EntityWrite[]): { folded: FoldedEntity[]; chainBreak: ChainBreak | undefined } {
  const byKey = new Map<string, FoldedEntity>();
  const broken = new Set<string>();
  let chainBreak: ChainBreak | undefined;
  writes.forEach((w, index) => {
    const key = keyOf(w.machine, w.entity_id);
    if (broken.has(key)) return;
    const snapshot = stringify(w.snapshot, `snapshot of ${w.machine} '${w.entity_id}'`);
    const current = byKey.get(key);
    if (current === undefined) {
      byKey.set(key, {
        index, machine: w.machine, entity_id: w.entity_id, expected: w.expected_version, next: w.expected_version + 1,
        parent_id: w.parent_id, machine_version: w.machine_version, status: w.status, snapshot,
      });
    } else if (w.expected_version === current.next) {
      Object.assign(current, { next: current.next + 1, parent_id: w.parent_id, machine_version: w.machine_version, status: w.status, snapshot });
    } else {
      broken.add(key);
      if (chainBreak === undefined) chainBreak = { index, write: w, actual: current.next };
    }
  });
  const folded = [...byKey.values()].sort((a, b) => compareText(a.machine, b.machine) || compareText(a.entity_id, b.entity_id));
  return { folded, chainBreak };
}

function planCommit(batch: CommitBatch): CommitPlan {
  const { folded, chainBreak } = foldEntities(batch.entities);
  const seenOutbox = new Set<string>();
  const outbox = batch.outbox.filter((o) => (seenOutbox.has(o.event_id) ? false : (seenOutbox.add(o.event_id), true)));
  const timers = new Map<string, CommitBatch['timersSet'][number]>();
  for (const t of batch.timersSet) timers.set(t.timer_id, t);
  const timersSet = [...timers.values()].sort((a, b) => compareText(a.timer_id, b.timer_id));
  return {
    inbox: batch.inbox,
    inboxResults: batch.inbox.map((i) => stringify(i.result, `inbox result of ${i.event_id}`)),
    inserts: folded.filter((f) => f.expected === 0),
    updates: folded.filter((f) => f.expected !== 0),
    chainBreak,
    auditEnvelopes: batch.audit.map((a) => stringify(a.envelope, `audit envelope of ${a.event_id}`)),
    outbox,
    outboxEnvelopes: outbox.map((o) => stringify(o.envelope, `outbox envelope of ${o.event_id}`)),
    timersSet,
    timerEvents: timersSet.map((t) => stringify(t.event, `event of timer ${t.timer_id}`)),
  };
}

function staleVersion(write: { machine: string; entity_id: string; expected_version: number }, actual: number): LifecycleError {
  return new LifecycleError(
    'VERSION_CONFLICT',
    `${write.machine} '${write.entity_id}': expected version ${write.expected_version}, found ${actual === 0 ? 'no row' : `version ${actual}`}`,
    { details: { machine: write.machine, entity_id: write.entity_id, expected_version: write.expected_version, actual_version: actual } },
  );
}

/** One statement of a commit transaction, and what its result means. */
interface Step {
  kind: 'begin' | 'inbox' | 'insert' | 'update' | 'lock' | 'audit' | 'outbox' | 'timers';
  query: { name?: string; text: string; values?: unknown[] };
}

function isPipelining(client: PoolClient): boolean {
  return (client as unknown as { pipeline?: unknown }).pipeline === true;
}

/**
 * Runs `queries` on `client` in order: all at once on a pipelining client, else one after the other.
 * Resolves with every result, or rejects with the first failure (later pipelined ones then fail with
 * 25P02 "transaction aborted" and are ignored).
 */
async function runAll(client: PoolClient, queries: ReadonlyArray<{ name?: string; text: string; values?: unknown[] }>): Promise<QueryResult[]> {
  if (isPipelining(client)) {
    const settled = await Promise.allSettled(queries.map((q) => client.query(q)));
    const results: QueryResult[] = [];
    for (const outcome of settled) {
      if (outcome.status === 'rejected') throw outcome.reason;
      results.push(outcome.value);
    }
    return results;
  }
  const results: QueryResult[] = [];
  for (const q of queries) results.push(await client.query(q));
  return results;
}

/** A short, stable prepared-statement name for a statement text (unique per text, so stores on other schemas never clash). */
function statementName(text: string): string {
  return `lc_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
}

/** The PostgreSQL `SnapshotStore`. Build it with `openPostgresStore`, which creates the pool and migrates the schema. */
export class PostgresStore implements SnapshotStore {
  /** The migrations this store applies on open. */
  static readonly migrations = migrations;

  readonly kind = 'postgres' as const;
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
    const texts = statements(this.schema);
    this.sql = Object.fromEntries(
      Object.entries(texts).map(([key, text]) => [key, { name: statementName(text), text }]),
    ) as Record<StatementKey, Statement>;
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
      return await this.runCommit(client, batch, plan, committedAt);
    } catch (error) {
      release = await this.rollback(client, error);
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
  async claimOutbox(limit: number, leaseMs: number): Promise<OutboxRecord[]> {
    this.assertOpen('claimOutbox');
    const at = this.now();
    const until = leaseEnd(at.getTime(), leaseMs, 'claimOutbox');
    const rows = await this.rows<OutboxRow>('claimOutbox', 'claimOutbox', [at.toISOString(), pageLimit(limit), until]);
    return rows.map(parseOutbox);
  }

  async markPublished(ids: readonly number[], at: string): Promise<void> {
    this.assertOpen('markPublished');
    if (ids.length > 0) await this.rows('markPublished', 'markPublished', [at, [...ids]]);
  }

  async markPublishFailed(id: number, error: string): Promise<void> {
    await this.rows('markPublishFailed', 'markPublishFailed', [error, id]);
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

  private step(kind: Step['kind'], key: StatementKey, values: unknown[]): Step {
    return { kind, query: { ...this.sql[key], values } };
  }

  /** Builds the statements of one commit (empty parts are left out). */
  private steps(batch: CommitBatch, plan: CommitPlan, at: string): Step[] {
    const steps: Step[] = [{ kind: 'begin', query: { text: 'BEGIN' } }];
    if (plan.inbox.length > 0) {
      steps.push(this.step('inbox', 'insertInbox', [plan.inbox.map((i) => i.event_id), plan.inbox.map((i) => i.event_type), plan.inboxResults, at]));
    }
    const { inserts, updates } = plan;
    if (inserts.length > 0) {
      steps.push(this.step('insert', 'insertEntities', [
        inserts.map((e) => e.machine), inserts.map((e) => e.entity_id), inserts.map((e) => e.parent_id), inserts.map((e) => e.machine_version),
        inserts.map((e) => e.next), inserts.map((e) => e.status), inserts.map((e) => e.snapshot), at,
      ]));
    }
    if (updates.length > 0) {
      steps.push(this.step('update', 'updateEntities', [
        updates.map((e) => e.machine), updates.map((e) => e.entity_id), updates.map((e) => e.expected), updates.map((e) => e.next),
        updates.map((e) => e.parent_id), updates.map((e) => e.machine_version), updates.map((e) => e.status), updates.map((e) => e.snapshot), at,
      ]));
    }
    if (this.orderedFeeds && (batch.audit.length > 0 || plan.outbox.length > 0)) steps.push(this.step('lock', 'feedLock', []));
    const a = batch.audit;
    if (a.length > 0) {
      steps.push(this.step('audit', 'insertAudit', [
        a.map((r) => r.event_id), a.map((r) => r.event_type), a.map((r) => r.correlation_id), a.map((r) => r.causation_id),
        a.map((r) => r.machine), a.map((r) => r.entity_id), a.map((r) => r.from_status), a.map((r) => r.to_status),
        a.map((r) => r.outcome), a.map((r) => r.reason), a.map((r) => r.entity_version), plan.auditEnvelopes, at,
      ]));
    }
    const o = plan.outbox;
    if (o.length > 0) {
      steps.push(this.step('outbox', 'insertOutbox', [
        o.map((r) => r.event_id), o.map((r) => r.event_type), o.map((r) => r.aggregate_id), plan.outboxEnvelopes, o.map((r) => r.internal), at,
      ]));
    }
    const t = plan.timersSet;
    if (t.length > 0) {
      steps.push(this.step('timers', 'upsertTimers', [
        t.map((r) => r.timer_id), t.map((r) => r.machine), t.map((r) => r.entity_id), t.map((r) => r.due_at), plan.timerEvents, at,
      ]));
    }
    if (batch.timersCancelled.length > 0) steps.push(this.step('timers', 'deleteTimers', [[...batch.timersCancelled]]));
    if (batch.timersFired.length > 0) steps.push(this.step('timers', 'fireTimers', [at, [...batch.timersFired]]));
    return steps;
  }

  /** The transaction of one commit; throws (the caller rolls back) on any conflict or driver error. */
  private async runCommit(client: PoolClient, batch: CommitBatch, plan: CommitPlan, committedAt: string): Promise<CommitResult> {
    const steps = this.steps(batch, plan, committedAt);
    const results = await runAll(client, steps.map((s) => s.query));
    const rowsOf = <R>(kind: Step['kind']): R[] => (results[steps.findIndex((s) => s.kind === kind)]?.rows ?? []) as R[];

    const inserted = new Set(rowsOf<{ event_id: string }>('inbox').map((r) => r.event_id));
    const seen = new Set<string>();
    for (const entry of plan.inbox) {
      if (seen.has(entry.event_id) || !inserted.has(entry.event_id)) {
        throw new LifecycleError('VERSION_CONFLICT', `event ${entry.event_id} was already processed`, {
          details: { event_id: entry.event_id, duplicate: true },
        });
      }
      seen.add(entry.event_id);
    }

    type Written = { machine: string; entity_id: string };
    const written = new Set([...rowsOf<Written>('insert'), ...rowsOf<Written>('update')].map((r) => keyOf(r.machine, r.entity_id)));
    const lost = [...plan.inserts, ...plan.updates].filter((f) => !written.has(keyOf(f.machine, f.entity_id)));
    if (lost.length > 0 || plan.chainBreak !== undefined) throw await this.staleConflict(client, lost, plan.chainBreak);

    const positions = rowsOf<{ position: string }>('audit').map((r) => Number(r.position)).sort((x, y) => x - y);
    await client.query('COMMIT');
    return { committedAt, auditPositions: positions };
  }

  /**
   * The VERSION_CONFLICT of the first stale write in batch order (as SQLite, which writes one by one,
   * reports it): lost folded writes (actual version read now) or a chain break inside the batch.
   */
  private async staleConflict(client: PoolClient, lost: FoldedEntity[], chainBreak: ChainBreak | undefined): Promise<LifecycleError> {
    const first = lost.reduce<FoldedEntity | undefined>((min, f) => (min === undefined || f.index < min.index ? f : min), undefined);
    if (first === undefined || (chainBreak !== undefined && chainBreak.index < first.index)) {
      const { write, actual } = chainBreak as ChainBreak;
      return staleVersion(write, actual);
    }
    const result = await client.query<{ version: number }>({ ...this.sql.entityVersions, values: [[first.machine], [first.entity_id]] });
    return staleVersion({ machine: first.machine, entity_id: first.entity_id, expected_version: first.expected }, result.rows[0]?.version ?? 0);
  }

  /** Rolls the open transaction back; returns the error to release the client with when it is unusable. */
  private async rollback(client: PoolClient, cause: unknown): Promise<Error | undefined> {
    try {
      await client.query('ROLLBACK');
      return undefined;
    } catch (error) {
      return error instanceof Error ? error : cause instanceof Error ? cause : new Error(String(error));
    }
  }
}

function leaseEnd(fromMs: number, leaseMs: number, operation: string): string {
  if (!Number.isFinite(fromMs) || !Number.isFinite(leaseMs) || leaseMs <= 0) {
    throw new LifecycleError('STORE_FAILURE', `postgres store ${operation} failed: needs a valid ISO time and a positive leaseMs`, {
      details: { operation, leaseMs },
    });
  }
  return new Date(fromMs + leaseMs).toISOString();
}

function invalid(message: string, details: Record<string, unknown>): LifecycleError {
  return new LifecycleError('INVALID_CONFIGURATION', message, { details });
}

function validateOptions(options: PostgresStoreOptions): { schema: string } {
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
