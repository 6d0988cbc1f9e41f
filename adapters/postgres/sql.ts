/**
 * The SQL of the PostgreSQL store: every statement with its schema-qualified text and prepared-statement
 * name, and the helpers that shape statement parameters (page sizes, lease ends). See store.ts for the
 * storage decisions behind them.
 */
import { createHash } from 'node:crypto';
import { LifecycleError } from '../errors.js';
import { quoteIdent } from './errors.js';

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;

/** First key of the feed lock (the second is `hashtext(schema)`); see the module comment of store.ts. */
export const FEED_LOCK_KEY = 727_310_002;
/** First key of the lock that serializes in-order outbox claims (the second is `hashtext(schema)`). */
export const CLAIM_LOCK_KEY = 727_310_003;

const ENTITY_COLUMNS = 'machine, entity_id, parent_id, machine_version, version, status, snapshot, created_at, updated_at';
/**
 * An entity read: its columns, its number of part rows and, when it has some, the rows as one
 * array of [part_id, items] pairs (one statement, so the main row and its parts are one consistent read).
 * The entities table must be aliased `e`; `s` is the quoted schema.
 */
export const entityRead = (s: string): string =>
  `${ENTITY_COLUMNS}, parts AS part_count, CASE WHEN e.parts > 0 THEN (SELECT array_agg(ARRAY[p.part_id, p.items]) FROM ${s}.entity_parts AS p
    WHERE p.machine = e.machine AND p.entity_id = e.entity_id) END AS part_rows`;
/**
 * An audit read: a row's columns and its envelope, or, for a row that keeps none (`''`), the one of
 * the nearest earlier row of the same event, which holds it (see adapters/audit-envelopes.ts).
 * The audit table must be aliased `a`; `s` is the quoted schema.
 */
const auditRead = (s: string): string =>
  `a.position, a.event_id, a.event_type, a.correlation_id, a.causation_id, a.machine, a.entity_id, a.from_status, a.to_status, a.outcome, a.reason,
    a.entity_version,
    CASE WHEN a.envelope = '' THEN (SELECT r.envelope FROM ${s}.audit AS r WHERE r.event_id = a.event_id AND r.position < a.position AND r.envelope <> ''
      ORDER BY r.position DESC LIMIT 1) ELSE a.envelope END AS envelope,
    a.recorded_at, a.machine_version`;
const OUTBOX_COLUMNS = 'id, event_id, event_type, aggregate_id, envelope, internal, created_at, published_at, attempts, last_error';
const TIMER_COLUMNS = 'timer_id, machine, entity_id, due_at, event, created_at, fired_at';

/** The statements on entities: load, compare-and-set writes, listing and counting. */
function entityStatements(s: string) {
  const read = entityRead(s);
  const listBy = (where: string, args: number): string =>
    `SELECT ${read} FROM ${s}.entities AS e WHERE machine = $1${where} ORDER BY created_at, entity_id LIMIT $${args + 1} OFFSET $${args + 2}`;
  return {
    loadEntity: `SELECT ${read} FROM ${s}.entities AS e WHERE machine = $1 AND entity_id = $2`,
    loadMany: `SELECT ${read} FROM ${s}.entities AS e WHERE (machine, entity_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
    entityVersions: `SELECT machine, entity_id, version FROM ${s}.entities WHERE (machine, entity_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
    // The rows a commit relied on without writing (CommitBatch.unchanged), share-locked to the commit.
    lockUnchanged: `SELECT machine, entity_id, version FROM ${s}.entities WHERE (machine, entity_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
      ORDER BY machine, entity_id FOR SHARE`,
    insertEntities: `INSERT INTO ${s}.entities (${ENTITY_COLUMNS}, parts)
      SELECT u.machine, u.entity_id, u.parent_id, u.machine_version, u.version, u.status, u.snapshot, $8, $8, u.parts
      FROM unnest($1::text[], $2::text[], $3::text[], $4::integer[], $5::integer[], $6::text[], $7::text[], $9::integer[])
        AS u(machine, entity_id, parent_id, machine_version, version, status, snapshot, parts)
      ON CONFLICT (machine, entity_id) DO NOTHING
      RETURNING machine, entity_id`,
    updateEntities: `UPDATE ${s}.entities AS e
      SET parent_id = u.parent_id, machine_version = u.machine_version, status = u.status, snapshot = u.snapshot,
          updated_at = $9, version = u.next_version, parts = u.parts
      FROM unnest($1::text[], $2::text[], $3::integer[], $4::integer[], $5::text[], $6::integer[], $7::text[], $8::text[], $10::integer[])
        AS u(machine, entity_id, expected_version, next_version, parent_id, machine_version, status, snapshot, parts)
      WHERE e.machine = u.machine AND e.entity_id = u.entity_id AND e.version = u.expected_version
      RETURNING e.machine, e.entity_id`,
    // Context parts (adapters/store-parts.ts): only the parts a commit changed are written.
    upsertParts: `INSERT INTO ${s}.entity_parts (machine, entity_id, part_id, items)
      SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
      ON CONFLICT (machine, entity_id, part_id) DO UPDATE SET items = excluded.items`,
    deleteParts: `DELETE FROM ${s}.entity_parts WHERE (machine, entity_id, part_id) IN (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]))`,
    // An entity written without a parts hint: every part row not in its snapshot (a JSON array of ids) goes.
    deleteOtherParts: `DELETE FROM ${s}.entity_parts AS p USING unnest($1::text[], $2::text[], $3::text[]) AS u(machine, entity_id, keep)
      WHERE p.machine = u.machine AND p.entity_id = u.entity_id AND p.part_id NOT IN (SELECT json_array_elements_text(u.keep::json))`,
    listAll: listBy('', 1),
    listByStatus: listBy(' AND status = $2', 2),
    listByParent: listBy(' AND parent_id = $2', 2),
    listByStatusAndParent: listBy(' AND status = $2 AND parent_id = $3', 3),
    countAll: `SELECT machine, status, COUNT(*)::integer AS count FROM ${s}.entities GROUP BY machine, status ORDER BY machine, status`,
    countMachine: `SELECT machine, status, COUNT(*)::integer AS count FROM ${s}.entities WHERE machine = $1
      GROUP BY machine, status ORDER BY machine, status`,
  };
}

/** The statements of the ordered feeds: the feed lock, audit and outbox. */
function feedStatements(s: string, schema: string) {
  return {
    feedLock: `SELECT pg_advisory_xact_lock(${FEED_LOCK_KEY}, hashtext('${schema}'))`,
    insertAudit: `INSERT INTO ${s}.audit (event_id, event_type, correlation_id, causation_id, machine, entity_id, from_status, to_status,
        outcome, reason, entity_version, envelope, recorded_at, machine_version)
      SELECT u.event_id, u.event_type, u.correlation_id, u.causation_id, u.machine, u.entity_id, u.from_status, u.to_status,
        u.outcome, u.reason, u.entity_version, u.envelope, $13, u.machine_version
      FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
        $11::integer[], $12::text[], $14::integer[]) WITH ORDINALITY
        AS u(event_id, event_type, correlation_id, causation_id, machine, entity_id, from_status, to_status, outcome, reason,
          entity_version, envelope, machine_version, ord)
      ORDER BY u.ord
      RETURNING position`,
    history: `SELECT ${auditRead(s)} FROM ${s}.audit AS a WHERE a.machine = $1 AND a.entity_id = $2 AND a.position > $3 ORDER BY a.position LIMIT $4`,
    auditSince: `SELECT ${auditRead(s)} FROM ${s}.audit AS a WHERE a.position > $1 ORDER BY a.position LIMIT $2`,
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
    claimLock: `SELECT pg_advisory_xact_lock(${CLAIM_LOCK_KEY}, hashtext('${schema}'))`,
    // Like claimOutbox, but never a row of an aggregate whose earlier row another relay holds under an
    // active claim: per aggregate, one relay at a time publishes, oldest row first.
    claimOutboxInOrder: `WITH blocked AS (
        SELECT aggregate_id, MIN(id) AS first FROM ${s}.outbox WHERE published_at IS NULL AND claimed_until > $1 GROUP BY aggregate_id
      ), next AS (
        SELECT o.id FROM ${s}.outbox AS o
        WHERE o.published_at IS NULL AND (o.claimed_until IS NULL OR o.claimed_until <= $1)
          AND NOT EXISTS (SELECT 1 FROM blocked AS b WHERE b.aggregate_id = o.aggregate_id AND b.first < o.id)
        ORDER BY o.id LIMIT $2 FOR UPDATE OF o SKIP LOCKED
      ), claimed AS (
        UPDATE ${s}.outbox AS o SET claimed_until = $3 FROM next WHERE o.id = next.id RETURNING ${OUTBOX_COLUMNS.split(', ').map((c) => `o.${c}`).join(', ')}
      )
      SELECT ${OUTBOX_COLUMNS} FROM claimed ORDER BY id`,
    markPublished: `UPDATE ${s}.outbox SET published_at = $1 WHERE id = ANY($2::bigint[]) AND published_at IS NULL`,
    markPublishFailed: `UPDATE ${s}.outbox SET attempts = attempts + 1, last_error = $1, claimed_until = NULL WHERE id = $2 AND published_at IS NULL`,
    outboxCountAll: `SELECT COUNT(*) AS n FROM ${s}.outbox`,
    outboxCountPublished: `SELECT COUNT(*) AS n FROM ${s}.outbox WHERE published_at IS NOT NULL`,
    outboxCountPending: `SELECT COUNT(*) AS n FROM ${s}.outbox WHERE published_at IS NULL`,
    // Retention (adapters/engine/retention.ts): one statement, so both deletes commit together.
    prune: `WITH o AS (DELETE FROM ${s}.outbox WHERE published_at IS NOT NULL AND published_at < $1 RETURNING 1),
      i AS (DELETE FROM ${s}.inbox WHERE received_at < $2 RETURNING 1)
      SELECT (SELECT COUNT(*) FROM o) AS outbox, (SELECT COUNT(*) FROM i) AS inbox`,
  };
}

/** The statements on the inbox and on timers. */
function inboxAndTimerStatements(s: string) {
  const due = `fired_at IS NULL AND due_at <= $1 AND (claimed_until IS NULL OR claimed_until <= $1)`;
  return {
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
    fireTimers: `UPDATE ${s}.timers SET fired_at = $1 WHERE timer_id = ANY($2::text[]) AND fired_at IS NULL RETURNING timer_id`,
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

/** Every statement of the store, with its schema-qualified text. */
function statements(schema: string) {
  const s = quoteIdent(schema);
  return { ...entityStatements(s), ...feedStatements(s, schema), ...inboxAndTimerStatements(s) };
}
export type StatementKey = keyof ReturnType<typeof statements>;
export type Statement = { name: string; text: string };

/** A short, stable prepared-statement name for a statement text (unique per text, so stores on other schemas never clash). */
function statementName(text: string): string {
  return `lc_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
}

/** Every statement of the store on `schema`, each with its prepared-statement name. */
export function namedStatements(schema: string): Record<StatementKey, Statement> {
  const texts = statements(schema);
  return Object.fromEntries(
    Object.entries(texts).map(([key, text]) => [key, { name: statementName(text), text }]),
  ) as Record<StatementKey, Statement>;
}

/** A page size: the default when absent or not a number, clamped to [0, MAX_LIMIT]. */
export function pageLimit(limit: number | undefined, fallback: number = DEFAULT_LIMIT): number {
  if (limit === undefined || !Number.isFinite(limit)) return fallback;
  return Math.min(MAX_LIMIT, Math.max(0, Math.floor(limit)));
}

export function nonNegative(value: number | undefined): number {
  return value === undefined || !Number.isFinite(value) ? 0 : Math.max(0, Math.floor(value));
}

export function leaseEnd(fromMs: number, leaseMs: number, operation: string): string {
  if (!Number.isFinite(fromMs) || !Number.isFinite(leaseMs) || leaseMs <= 0) {
    throw new LifecycleError('STORE_FAILURE', `postgres store ${operation} failed: needs a valid ISO time and a positive leaseMs`, {
      details: { operation, leaseMs },
    });
  }
  return new Date(fromMs + leaseMs).toISOString();
}
