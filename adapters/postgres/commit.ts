/**
 * The commit transaction of the PostgreSQL store (see the module comment of store.ts): the statements
 * of one commit, sent at once on a pipelining client, then the conflict checks that end in ROLLBACK
 * or COMMIT.
 */
import type { PoolClient, QueryResult } from 'pg';
import { LifecycleError } from '../errors.js';
import { checkTimersFired, versionConflict } from '../store-support.js';
import type { CommitBatch, CommitResult } from '../store.js';
import type { ChainBreak, CommitPlan, FoldedEntity, PartsPlan } from './commit-plan.js';
import { keyOf } from './rows.js';
import type { Statement, StatementKey } from './sql.js';

/** What a commit needs of its store: the named statements and whether the feed lock is taken. */
export interface CommitContext {
  readonly sql: Record<StatementKey, Statement>;
  readonly orderedFeeds: boolean;
}

function staleVersion(write: { machine: string; entity_id: string; expected_version: number }, actual: number): LifecycleError {
  return versionConflict(write.machine, write.entity_id, write.expected_version, actual);
}

/** One statement of a commit transaction, and what its result means. */
export interface Step {
  kind: 'begin' | 'inbox' | 'unchanged' | 'insert' | 'update' | 'parts' | 'lock' | 'audit' | 'outbox' | 'timers' | 'fire';
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

type StepOf = (kind: Step['kind'], key: StatementKey, values: unknown[]) => Step;

/**
 * The part-row statements (after the entity writes: a commit holds an entity's row lock before it
 * touches its parts; when a compare-and-set lost, the whole transaction is rolled back anyway).
 */
function partSteps(step: StepOf, parts: PartsPlan): Step[] {
  const steps: Step[] = [];
  const { upserts, deletes, rewrites } = parts;
  if (rewrites.length > 0) steps.push(step('parts', 'deleteOtherParts', [rewrites.map((r) => r.machine), rewrites.map((r) => r.entity_id), rewrites.map((r) => r.keep)]));
  if (deletes.length > 0) steps.push(step('parts', 'deleteParts', [deletes.map((d) => d.machine), deletes.map((d) => d.entity_id), deletes.map((d) => d.part_id)]));
  if (upserts.length > 0) {
    steps.push(step('parts', 'upsertParts', [upserts.map((u) => u.machine), upserts.map((u) => u.entity_id), upserts.map((u) => u.part_id), upserts.map((u) => u.items)]));
  }
  return steps;
}

/** Builds the statements of one commit (empty parts are left out). */
function commitSteps(context: CommitContext, batch: CommitBatch, plan: CommitPlan, at: string): Step[] {
  const step: StepOf = (kind, key, values) => ({ kind, query: { ...context.sql[key], values } });
  const steps: Step[] = [{ kind: 'begin', query: { text: 'BEGIN' } }];
  if (plan.inbox.length > 0) {
    steps.push(step('inbox', 'insertInbox', [plan.inbox.map((i) => i.event_id), plan.inbox.map((i) => i.event_type), plan.inboxResults, at]));
  }
  const unchanged = batch.unchanged ?? [];
  if (unchanged.length > 0) steps.push(step('unchanged', 'lockUnchanged', [unchanged.map((u) => u.machine), unchanged.map((u) => u.entity_id)]));
  const { inserts, updates } = plan;
  if (inserts.length > 0) {
    steps.push(step('insert', 'insertEntities', [
      inserts.map((e) => e.machine), inserts.map((e) => e.entity_id), inserts.map((e) => e.parent_id), inserts.map((e) => e.machine_version),
      inserts.map((e) => e.next), inserts.map((e) => e.status), inserts.map((e) => e.snapshot), at, inserts.map((e) => e.parts),
    ]));
  }
  if (updates.length > 0) {
    steps.push(step('update', 'updateEntities', [
      updates.map((e) => e.machine), updates.map((e) => e.entity_id), updates.map((e) => e.expected), updates.map((e) => e.next),
      updates.map((e) => e.parent_id), updates.map((e) => e.machine_version), updates.map((e) => e.status), updates.map((e) => e.snapshot), at,
      updates.map((e) => e.parts),
    ]));
  }
  steps.push(...partSteps(step, plan.parts));
  if (context.orderedFeeds && (batch.audit.length > 0 || plan.outbox.length > 0)) steps.push(step('lock', 'feedLock', []));
  const a = batch.audit;
  if (a.length > 0) {
    steps.push(step('audit', 'insertAudit', [
      a.map((r) => r.event_id), a.map((r) => r.event_type), a.map((r) => r.correlation_id), a.map((r) => r.causation_id),
      a.map((r) => r.machine), a.map((r) => r.entity_id), a.map((r) => r.from_status), a.map((r) => r.to_status),
      a.map((r) => r.outcome), a.map((r) => r.reason), a.map((r) => r.entity_version), plan.auditEnvelopes, at,
      a.map((r) => r.machine_version ?? null),
    ]));
  }
  const o = plan.outbox;
  if (o.length > 0) {
    steps.push(step('outbox', 'insertOutbox', [
      o.map((r) => r.event_id), o.map((r) => r.event_type), o.map((r) => r.aggregate_id), plan.outboxEnvelopes, o.map((r) => r.internal), at,
    ]));
  }
  // Firing consumes the arming read as due (a compare-and-set); what the firing's own cascade cancels or re-arms comes after it.
  if (batch.timersFired.length > 0) steps.push(step('fire', 'fireTimers', [at, [...batch.timersFired]]));
  const t = plan.timersSet;
  if (t.length > 0) {
    steps.push(step('timers', 'upsertTimers', [
      t.map((r) => r.timer_id), t.map((r) => r.machine), t.map((r) => r.entity_id), t.map((r) => r.due_at), plan.timerEvents, at,
    ]));
  }
  if (batch.timersCancelled.length > 0) steps.push(step('timers', 'deleteTimers', [[...batch.timersCancelled]]));
  return steps;
}

/** The transaction of one commit; throws (the caller rolls back) on any conflict or driver error. */
export async function runCommit(context: CommitContext, client: PoolClient, batch: CommitBatch, plan: CommitPlan, committedAt: string): Promise<CommitResult> {
  const steps = commitSteps(context, batch, plan, committedAt);
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

  const current = new Map(rowsOf<{ machine: string; entity_id: string; version: number }>('unchanged').map((r) => [keyOf(r.machine, r.entity_id), r.version]));
  for (const row of batch.unchanged ?? []) {
    const actual = current.get(keyOf(row.machine, row.entity_id)) ?? 0;
    if (actual !== row.version) throw staleVersion({ machine: row.machine, entity_id: row.entity_id, expected_version: row.version }, actual);
  }

  type Written = { machine: string; entity_id: string };
  const written = new Set([...rowsOf<Written>('insert'), ...rowsOf<Written>('update')].map((r) => keyOf(r.machine, r.entity_id)));
  const lost = [...plan.inserts, ...plan.updates].filter((f) => !written.has(keyOf(f.machine, f.entity_id)));
  if (lost.length > 0 || plan.chainBreak !== undefined) throw await staleConflict(context.sql, client, lost, plan.chainBreak);

  // A timer fires at most once per arming: each one fired here must still have been waiting.
  const fired = new Set(rowsOf<{ timer_id: string }>('fire').map((r) => r.timer_id));
  checkTimersFired(batch.timersFired, (id) => fired.has(id));

  const positions = rowsOf<{ position: string }>('audit').map((r) => Number(r.position)).sort((x, y) => x - y);
  await client.query('COMMIT');
  return { committedAt, auditPositions: positions };
}

/**
 * The VERSION_CONFLICT of the first stale write in batch order (as SQLite, which writes one by one,
 * reports it): lost folded writes (actual version read now) or a chain break inside the batch.
 */
async function staleConflict(sql: Record<StatementKey, Statement>, client: PoolClient, lost: FoldedEntity[], chainBreak: ChainBreak | undefined): Promise<LifecycleError> {
  const first = lost.reduce<FoldedEntity | undefined>((min, f) => (min === undefined || f.index < min.index ? f : min), undefined);
  if (first === undefined || (chainBreak !== undefined && chainBreak.index < first.index)) {
    const { write, actual } = chainBreak as ChainBreak;
    return staleVersion(write, actual);
  }
  const result = await client.query<{ version: number }>({ ...sql.entityVersions, values: [[first.machine], [first.entity_id]] });
  return staleVersion({ machine: first.machine, entity_id: first.entity_id, expected_version: first.expected }, result.rows[0]?.version ?? 0);
}

/** Rolls the open transaction back; returns the error to release the client with when it is unusable. */
export async function rollback(client: PoolClient, cause: unknown): Promise<Error | undefined> {
  try {
    await client.query('ROLLBACK');
    return undefined;
  } catch (error) {
    return error instanceof Error ? error : cause instanceof Error ? cause : new Error(String(error));
  }
}
