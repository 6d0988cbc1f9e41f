/**
 * The PostgreSQL store: the port's contract suite (unchanged), migrations, concurrency across pools,
 * timer/outbox claims, failure translation, and the engine on PostgreSQL against the same run on
 * SQLite. Runs only when TEST_POSTGRES_URL is set; every schema it creates is dropped afterwards.
 */
import pg from 'pg';
import { afterAll, expect, it } from 'vitest';
import { LifecycleEngine } from '../../adapters/engine/engine.js';
import type { DispatchResult } from '../../adapters/engine/results.js';
import { LifecycleError, isLifecycleError } from '../../adapters/errors.js';
import type { ErrorCode } from '../../adapters/errors.js';
import { toStoreError } from '../../adapters/postgres/errors.js';
import { migrate, migrations } from '../../adapters/postgres/migrations.js';
import { FEED_LOCK_KEY, openPostgresStore, PostgresStore } from '../../adapters/postgres/store.js';
import type { PostgresStoreOptions } from '../../adapters/postgres/store.js';
import { openSqliteStore } from '../../adapters/sqlite/store.js';
import type { CommitBatch, EntityWrite, SnapshotStore, TimerWrite } from '../../adapters/store.js';
import { describeSnapshotStore } from '../contract/snapshot-store-contract.js';
import * as E from '../support/envelopes.js';
import { adminPool, describePostgres, dropAllSchemas, dropSchema, freshSchema, url } from './support.js';

const FIXED = new Date('2031-05-06T07:08:09.010Z');
const FAR_FUTURE = '9999-12-31T23:59:59.999Z';

afterAll(dropAllSchemas);

const batch = (parts: Partial<CommitBatch> = {}): CommitBatch => ({
  entities: [], audit: [], outbox: [], inbox: [], timersSet: [], timersCancelled: [], timersFired: [], ...parts,
});
const entity = (entity_id: string, over: Partial<EntityWrite> = {}): EntityWrite => ({
  machine: 'essay', entity_id, parent_id: 'b1', expected_version: 0, machine_version: 1, status: 'pending', snapshot: { n: 1 }, ...over,
});
const timer = (timer_id: string, due_at: string): TimerWrite => ({ timer_id, machine: 'batch', entity_id: 'b1', due_at, event: { type: 'timeout', timer_id } });
const auditRow = (event_id: string) => ({
  event_id, event_type: 't', correlation_id: 'c', causation_id: null, machine: 'essay', entity_id: 'e1',
  from_status: null, to_status: 'x', outcome: 'accepted' as const, reason: null, entity_version: 1, envelope: { event_id },
});

async function rejection(promise: Promise<unknown>, code: ErrorCode): Promise<LifecycleError> {
  const error: unknown = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(LifecycleError);
  expect((error as LifecycleError).code).toBe(code);
  return error as LifecycleError;
}

type Extra = Partial<Pick<PostgresStoreOptions, 'now' | 'orderedFeeds'>> & { pipeline?: boolean; poolSize?: number };

/** A store on `schema` with its own pool of `poolSize` (default 2) connections. */
function open(schema: string, extra: Extra = {}): Promise<PostgresStore> {
  return openPostgresStore({ connectionString: url(), schema, poolSize: extra.poolSize ?? 2, ...extra });
}

/** Closes every store even when a test failed (schemas are dropped by the file's afterAll). */
const openStores: PostgresStore[] = [];
async function tracked(schema: string, extra: Extra = {}): Promise<PostgresStore> {
  const store = await open(schema, extra);
  openStores.push(store);
  return store;
}
afterAll(async () => {
  await Promise.all(openStores.map((s) => s.close().catch(() => undefined)));
});

const versions = async (schema: string): Promise<number[]> =>
  (await adminPool().query<{ version: number }>(`SELECT version FROM ${schema}.schema_migrations ORDER BY version`)).rows.map((r) => r.version);

/** Overwrites one entity's snapshot in `schema` with text that is not JSON. */
const corrupting = (schema: string) => async (machine: string, entity_id: string): Promise<void> => {
  await adminPool().query(`UPDATE ${schema}.entities SET snapshot = '{not json' WHERE machine = $1 AND entity_id = $2`, [machine, entity_id]);
};

describePostgres('PostgreSQL store', () => {
  describeSnapshotStore('postgres, fixed clock, pipelined, ordered feeds', async () => {
    const schema = await freshSchema();
    const store = await open(schema, { now: () => FIXED });
    return { store, close: async () => { await store.close(); await dropSchema(schema); }, corrupt: corrupting(schema) };
  });

  describeSnapshotStore('postgres, real clock, one statement at a time, unordered feeds', async () => {
    const schema = await freshSchema(false);
    const store = await open(schema, { pipeline: false, orderedFeeds: false });
    return { store, close: async () => { await store.close(); await dropSchema(schema); }, corrupt: corrupting(schema) };
  });

  configurationTests();
  migrationTests();
  concurrencyTests();
  claimTests();
  failureTests();
  engineTests();
});

function configurationTests(): void {
  it('reports kind postgres, stamps rows with the injected clock, and leaves a pool it did not create open', async () => {
    const schema = await freshSchema();
    const pool = new pg.Pool({ connectionString: url(), max: 2 });
    try {
      const store = await openPostgresStore({ pool, schema, now: () => FIXED });
      expect(store.kind).toBe('postgres');
      const { committedAt } = await store.commit(batch({ entities: [entity('e1')] }));
      expect(committedAt).toBe(FIXED.toISOString());
      expect(await store.load('essay', 'e1')).toMatchObject({ created_at: FIXED.toISOString(), updated_at: FIXED.toISOString() });
      await store.close();
      await rejection(store.load('essay', 'e1'), 'STORE_FAILURE');
      expect((await pool.query<{ n: string }>(`SELECT COUNT(*) AS n FROM ${schema}.entities`)).rows[0]?.n).toBe('1');
    } finally {
      await pool.end();
    }
  });

  it('invalid options are refused with INVALID_CONFIGURATION before anything connects', async () => {
    const cases = [
      {} as PostgresStoreOptions,
      { connectionString: '' },
      { connectionString: url(), pool: new pg.Pool() } as unknown as PostgresStoreOptions,
      { connectionString: url(), schema: 'bad-name; DROP' },
      { connectionString: url(), schema: '' },
      { connectionString: url(), poolSize: 0 },
    ];
    for (const options of cases) await rejection(openPostgresStore(options), 'INVALID_CONFIGURATION');
  });

  it('an unreachable server is a STORE_FAILURE naming the open', async () => {
    for (const host of ['127.0.0.1', 'localhost']) {
      const error = await rejection(openPostgresStore({ connectionString: `postgres://postgres@${host}:1/test`, schema: 'x' }), 'STORE_FAILURE');
      expect(error.message).toMatch(/^postgres store (open|migration) of schema "x" failed: .*ECONNREFUSED/);
      expect(error.details).toMatchObject({ operation: 'migration of schema "x"' });
    }
  });
}

function migrationTests(): void {
  it('the migration list is strictly ascending and exposed on the class', () => {
    expect(PostgresStore.migrations).toBe(migrations);
    migrations.forEach((m, i) => { if (i > 0) expect(m.version).toBeGreaterThan(migrations[i - 1]!.version); });
  });

  it('a fresh schema is created and records every migration; reopening applies nothing and keeps the data', async () => {
    const schema = await freshSchema(false);
    const first = await tracked(schema);
    expect(first.migration).toEqual({ applied: migrations.map((m) => m.version), version: migrations.at(-1)!.version });
    expect(await versions(schema)).toEqual(migrations.map((m) => m.version));
    await first.commit(batch({ entities: [entity('e1')] }));
    await first.close();
    const second = await tracked(schema);
    expect(second.migration).toEqual({ applied: [], version: migrations.at(-1)!.version });
    expect(await migrate(second.pool, { schema })).toEqual({ applied: [], version: migrations.at(-1)!.version });
    expect(await versions(schema)).toEqual(migrations.map((m) => m.version));
    expect((await second.load('essay', 'e1'))?.version).toBe(1);
  });

  it('several workers opening one new schema at once migrate it exactly once', async () => {
    const schema = await freshSchema(false);
    const stores = await Promise.all([tracked(schema), tracked(schema), tracked(schema), tracked(schema)]);
    const applied = stores.map((s) => s.migration.applied);
    // Each step is applied by exactly one of them (steps may be shared out between them).
    expect(applied.flat().sort((a, b) => a - b)).toEqual(migrations.map((m) => m.version));
    expect(await versions(schema)).toEqual(migrations.map((m) => m.version));
    await stores[0].commit(batch({ entities: [entity('e1')] }));
    expect((await stores[3].load('essay', 'e1'))?.version).toBe(1);
  });

  it('a schema whose version is newer than the code is refused with STORE_FAILURE and left untouched', async () => {
    const schema = await freshSchema();
    await (await open(schema)).close();
    await adminPool().query(`INSERT INTO ${schema}.schema_migrations (version, name, applied_at) VALUES (999, 'from_the_future', 'x')`);
    const error = await rejection(open(schema), 'STORE_FAILURE');
    const known = migrations.at(-1)!.version;
    expect(error.message).toContain(`schema version 999 is newer than this code supports (${known})`);
    expect(error.details).toMatchObject({ schema_version: 999, known_version: known });
    expect(await versions(schema)).toEqual([...migrations.map((m) => m.version), 999]);
  });

  it('each migration runs in its own transaction: a failing one is rolled back, earlier ones stay applied', async () => {
    const schema = await freshSchema(false);
    const pool = new pg.Pool({ connectionString: url(), max: 1 });
    try {
      const list = [
        { version: 1, name: 'one', sql: 'CREATE TABLE one (x integer)' },
        { version: 2, name: 'two', sql: 'CREATE TABLE two (x integer); INSERT INTO missing_table VALUES (1)' },
      ];
      const error = await rejection(migrate(pool, { schema, list }), 'STORE_FAILURE');
      expect(error.message).toMatch(/migration 2 \(two\) failed/);
      expect(error.details).toMatchObject({ version: 2, name: 'two' });
      expect(await versions(schema)).toEqual([1]);
      const tables = await adminPool().query<{ table_name: string }>(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_name IN ('one', 'two')", [schema]);
      expect(tables.rows.map((t) => t.table_name)).toEqual(['one']);
      await rejection(migrate(pool, { schema, list: [{ version: 2, name: 'b', sql: '' }, { version: 1, name: 'a', sql: '' }] }), 'STORE_FAILURE');
      // the pool's connection is still usable after both failures
      expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one).toBe(1);
    } finally {
      await pool.end();
    }
  });
}

function concurrencyTests(): void {
  it('two stores (two pools) on one schema see each other\'s commits and a stale compare-and-set loses with VERSION_CONFLICT', async () => {
    const schema = await freshSchema();
    const a = await tracked(schema);
    const b = await tracked(schema);
    await a.commit(batch({ entities: [entity('e1')] }));
    expect((await b.load('essay', 'e1'))?.version).toBe(1);
    await a.commit(batch({ entities: [entity('e1', { expected_version: 1, status: 'from-a' })] }));
    const error = await rejection(b.commit(batch({ entities: [entity('e1', { expected_version: 1, status: 'from-b' })] })), 'VERSION_CONFLICT');
    expect(error.details).toEqual({ machine: 'essay', entity_id: 'e1', expected_version: 1, actual_version: 2 });
    await b.commit(batch({ entities: [entity('e1', { expected_version: 2, status: 'from-b' })] }));
    expect(await a.load('essay', 'e1')).toMatchObject({ version: 3, status: 'from-b' });
  });

  it('several writes to one entity in a batch fold into one row write and fail exactly like SQLite (first stale write in batch order)', async () => {
    const cases: EntityWrite[][] = [
      [entity('e1', { expected_version: 1 }), entity('e1', { expected_version: 2, status: 'b' }), entity('e2'), entity('e2', { expected_version: 1 })],
      [entity('e2'), entity('e2', { expected_version: 5 })],
      [entity('e2'), entity('e2')],
      [entity('e2'), entity('e2', { expected_version: 3 }), entity('e1', { expected_version: 7 })],
      [entity('e1', { expected_version: 7 }), entity('e2'), entity('e2', { expected_version: 3 })],
      [entity('e3', { expected_version: 1 }), entity('e1', { expected_version: 1 }), entity('e1', { expected_version: 1 })],
    ];
    const schema = await freshSchema();
    const postgres = await tracked(schema);
    const sqlite = openSqliteStore({ path: ':memory:' });
    for (const store of [postgres, sqlite]) await store.commit(batch({ entities: [entity('e1')] }));
    for (const [i, entities] of cases.entries()) {
      const answer = async (store: SnapshotStore) => {
        try {
          await store.commit(batch({ entities, audit: [auditRow(`case-${i}`)] }));
          return { ok: (await store.list({ machine: 'essay' })).map((r) => [r.entity_id, r.version, r.status]) };
        } catch (error) {
          return { code: (error as LifecycleError).code, message: (error as LifecycleError).message, details: (error as LifecycleError).details };
        }
      };
      expect(await answer(postgres)).toEqual(await answer(sqlite));
    }
    expect(await postgres.auditSince(0, 10)).toHaveLength(1);
    await sqlite.close();
  });

  it('racing compare-and-sets from two pools: exactly one of each pair wins, the loser sees VERSION_CONFLICT, nothing is lost', async () => {
    const schema = await freshSchema();
    const a = await tracked(schema, { poolSize: 4 });
    const b = await tracked(schema, { poolSize: 4 });
    await a.commit(batch({ entities: Array.from({ length: 8 }, (_, i) => entity(`e${i}`)) }));
    for (let round = 1; round <= 5; round += 1) {
      const attempts = Array.from({ length: 8 }, (_, i) => [a, b].map((store, s) =>
        store.commit(batch({
          entities: [entity(`e${i}`, { expected_version: round, status: `r${round}-s${s}` })],
          inbox: [{ event_id: `race-${round}-${i}-${s}`, event_type: 't', result: s }],
          audit: [auditRow(`race-${round}-${i}-${s}`)],
        })).then(() => 'won', (error: unknown) => {
          if (isLifecycleError(error, 'VERSION_CONFLICT')) return 'lost';
          throw error;
        }),
      )).flat();
      const outcomes = await Promise.all(attempts);
      for (let i = 0; i < 8; i += 1) expect([outcomes[2 * i], outcomes[2 * i + 1]].sort()).toEqual(['lost', 'won']);
    }
    const rows = await a.list({ machine: 'essay' });
    expect(rows.map((r) => r.version)).toEqual(Array<number>(8).fill(6));
    expect((await a.auditSince(0, 1000)).length).toBe(40);
  });

  it('with ordered feeds a commit with audit rows waits for the feed lock; entity-only commits do not', async () => {
    const schema = await freshSchema();
    const store = await tracked(schema);
    const holder = await adminPool().connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT pg_advisory_xact_lock($1::integer, hashtext($2::text))', [FEED_LOCK_KEY, schema]);
      let settled = false;
      const feed = store.commit(batch({ audit: [auditRow('a1')] })).finally(() => { settled = true; });
      await store.commit(batch({ entities: [entity('e1')] }));
      await new Promise((resolve) => setTimeout(resolve, 150));
      expect(settled).toBe(false);
      await holder.query('COMMIT');
      expect((await feed).auditPositions).toHaveLength(1);
    } finally {
      holder.release();
    }
  });
}

function claimTests(): void {
  const d = (minute: number): string => `2030-01-01T00:${String(minute).padStart(2, '0')}:00.000Z`;

  it('two stores claiming due timers at once get disjoint timers; claimed timers are neither due nor claimable until the lease ends', async () => {
    const schema = await freshSchema();
    const a = await tracked(schema);
    const b = await tracked(schema);
    await a.commit(batch({ timersSet: Array.from({ length: 30 }, (_, i) => timer(`t${String(i).padStart(2, '0')}`, d(i))) }));
    const now = d(59);
    const [first, second] = await Promise.all([a.claimDueTimers(now, 20, 60_000), b.claimDueTimers(now, 20, 60_000)]);
    const ids = [...first, ...second].map((t) => t.timer_id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.sort()).toEqual(Array.from({ length: 30 }, (_, i) => `t${String(i).padStart(2, '0')}`));
    for (const claimed of [first, second]) {
      expect(claimed.map((t) => t.due_at)).toEqual([...claimed.map((t) => t.due_at)].sort());
    }
    expect(await a.claimDueTimers(now, 100, 60_000)).toEqual([]);
    expect(await b.dueTimers(now, 100)).toEqual([]);
    expect(await a.nextTimerDue()).toBe(d(0));
    // firing ends a claim for good; re-arming ends it and makes the timer due again at its new time
    await a.commit(batch({ timersFired: ['t00'], timersSet: [timer('t01', d(58))] }));
    expect((await b.dueTimers(now, 100)).map((t) => t.timer_id)).toEqual(['t01']);
    // an expired lease (crashed worker) makes the rest claimable again, once
    const later = '2030-01-01T01:00:00.001Z';
    const again = await Promise.all([a.claimDueTimers(later, 100, 60_000), b.claimDueTimers(later, 100, 60_000)]);
    expect(again.flat().map((t) => t.timer_id).sort()).toEqual(ids.filter((id) => id !== 't00').sort());
  });

  it('dueTimers and claimDueTimers skip a timer row locked by an in-flight transaction', async () => {
    const schema = await freshSchema();
    const store = await tracked(schema);
    await store.commit(batch({ timersSet: [timer('t1', d(1)), timer('t2', d(2))] }));
    const holder = await adminPool().connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT timer_id FROM ${schema}.timers WHERE timer_id = 't1' FOR UPDATE`);
      expect((await store.dueTimers(d(9), 10)).map((t) => t.timer_id)).toEqual(['t2']);
      expect((await store.claimDueTimers(d(9), 10, 1000)).map((t) => t.timer_id)).toEqual(['t2']);
      await holder.query('ROLLBACK');
      expect((await store.claimDueTimers(d(9), 10, 1000)).map((t) => t.timer_id)).toEqual(['t1']);
    } finally {
      holder.release();
    }
    await rejection(store.claimDueTimers('not a time', 10, 1000), 'STORE_FAILURE');
  });

  it('claimOutbox gives concurrent relays disjoint rows in ascending id; a failed publish releases the claim', async () => {
    const schema = await freshSchema();
    let clock = FIXED.getTime();
    const now = (): Date => new Date(clock);
    const a = await tracked(schema, { now });
    const b = await tracked(schema, { now });
    await a.commit(batch({ outbox: Array.from({ length: 10 }, (_, i) => ({ event_id: `o${i}`, event_type: 't', aggregate_id: 'b1', envelope: { i }, internal: false })) }));
    const [x, y] = await Promise.all([a.claimOutbox(6, 30_000), b.claimOutbox(6, 30_000)]);
    const ids = [...x, ...y].map((o) => o.id);
    expect(new Set(ids).size).toBe(10);
    for (const rows of [x, y]) expect(rows.map((o) => o.id)).toEqual([...rows.map((o) => o.id)].sort((p, q) => p - q));
    expect(await a.claimOutbox(10, 30_000)).toEqual([]);
    expect((await a.pendingOutbox(100)).length).toBe(10);
    await a.markPublished(x.map((o) => o.id), FIXED.toISOString());
    await b.markPublishFailed(y[0]!.id, 'broker down');
    const retried = await a.claimOutbox(10, 30_000);
    expect(retried.map((o) => [o.id, o.attempts, o.last_error])).toEqual([[y[0]!.id, 1, 'broker down']]);
    clock += 30_001;
    expect((await b.claimOutbox(10, 30_000)).map((o) => o.id).sort((p, q) => p - q)).toEqual(y.map((o) => o.id));
  });
}

function failureTests(): void {
  it.each([true, false])('a driver error inside commit (pipeline %s) is STORE_FAILURE with the DatabaseError as cause and pg_code; the batch is rolled back', async (pipeline) => {
    const schema = await freshSchema();
    const store = await tracked(schema, { pipeline, poolSize: 1 });
    await adminPool().query(`DROP TABLE ${schema}.outbox`);
    const failing = batch({
      entities: [entity('e1')], inbox: [{ event_id: 'i1', event_type: 't', result: 1 }], audit: [auditRow('a1')],
      outbox: [{ event_id: 'o1', event_type: 't', aggregate_id: 'b1', envelope: {}, internal: false }],
    });
    const error = await rejection(store.commit(failing), 'STORE_FAILURE');
    expect(error.cause).toBeInstanceOf(pg.DatabaseError);
    expect(error.details).toEqual({ operation: 'commit', pg_code: '42P01' });
    expect(error.message).toMatch(/^postgres store commit failed: relation .*outbox" does not exist/);
    expect(await store.load('essay', 'e1')).toBeUndefined();
    expect((await store.findInbox(['i1'])).size).toBe(0);
    expect(await store.auditSince(0, 10)).toEqual([]);
    // the single pooled connection is still usable
    await store.commit(batch({ entities: [entity('e1')] }));
  });

  it('a deadlock between a commit and another transaction is a VERSION_CONFLICT (pg_code 40P01) the engine can retry', async () => {
    const schema = await freshSchema();
    const store = await tracked(schema);
    await store.commit(batch({ entities: [entity('e1')] }));
    const other = await adminPool().connect();
    try {
      await other.query('BEGIN');
      await other.query("SET LOCAL deadlock_timeout = '10s'"); // so the store's backend is the one that detects the deadlock
      await other.query(`UPDATE ${schema}.entities SET status = 'other' WHERE entity_id = 'e1'`);
      // the commit inserts inbox i1, then waits for e1; the other transaction then waits for i1
      const commit = store.commit(batch({ inbox: [{ event_id: 'i1', event_type: 't', result: 1 }], entities: [entity('e1', { expected_version: 1 })] }));
      await new Promise((resolve) => setTimeout(resolve, 200));
      const otherInsert = other.query(`INSERT INTO ${schema}.inbox (event_id, event_type, result, received_at) VALUES ('i1', 't', '2', 'x')`);
      const error = await rejection(commit, 'VERSION_CONFLICT');
      expect(error.details).toEqual({ operation: 'commit', pg_code: '40P01' });
      expect(error.message).toMatch(/^postgres store commit lost to a concurrent transaction \(deadlock detected\)/);
      await otherInsert;
      await other.query('ROLLBACK');
    } finally {
      other.release();
    }
    await store.commit(batch({ inbox: [{ event_id: 'i1', event_type: 't', result: 1 }], entities: [entity('e1', { expected_version: 1 })] }));
    expect((await store.load('essay', 'e1'))?.version).toBe(2);
  });

  it('translates serialization failures to VERSION_CONFLICT and other server errors to STORE_FAILURE', () => {
    const dbError = (code: string): pg.DatabaseError => Object.assign(new pg.DatabaseError('boom', 0, 'error'), { code });
    expect(toStoreError(dbError('40001'), 'commit')).toMatchObject({ code: 'VERSION_CONFLICT', details: { operation: 'commit', pg_code: '40001' } });
    expect(toStoreError(dbError('53300'), 'load')).toMatchObject({ code: 'STORE_FAILURE', details: { operation: 'load', pg_code: '53300' } });
    expect(toStoreError(new Error('socket hang up'), 'load')).toMatchObject({ code: 'STORE_FAILURE', details: { operation: 'load' } });
  });

  it('a NUL character in a text column is a STORE_FAILURE (PostgreSQL text cannot hold U+0000) and writes nothing', async () => {
    const schema = await freshSchema();
    const store = await tracked(schema);
    const error = await rejection(store.commit(batch({ entities: [entity('e1'), entity('bad\u0000id')] })), 'STORE_FAILURE');
    expect(error.details).toMatchObject({ operation: 'commit', pg_code: '22021' });
    expect(await store.load('essay', 'e1')).toBeUndefined();
  });
}

/** Everything the port can observe of one store, for comparing two stores. */
async function dump(store: SnapshotStore) {
  const machines = ['associations', 'batch', 'batch_tracker', 'essay'];
  const entities = await Promise.all(machines.map((machine) => store.list({ machine, limit: 1000 })));
  return {
    entities: entities.flat(),
    counts: await store.countByStatus(),
    // Positions by rank: a PostgreSQL sequence is not transactional, so a commit lost to a
    // duplicate (the redelivered registration) leaves a gap there and none on SQLite; both are
    // within the contract (strictly increasing, gaps allowed).
    audit: (await store.auditSince(0, 1000)).map((row, rank) => ({ ...row, position: rank + 1 })),
    outbox: await store.pendingOutbox(1000),
    timers: await store.dueTimers(FAR_FUTURE, 1000),
    nextTimer: await store.nextTimerDue(),
  };
}

const outcomes = (results: readonly DispatchResult[]): string[] => results.map((r) => r.outcome);

function engineTests(): void {
  it('a GUEST batch through the nlp pipeline ends in exactly the state, audit, outbox and timers of the same run on SQLite', async () => {
    const B = 'guest-batch-1';
    const essays = ['g1', 'g2', 'g3'];
    const registration = E.registration(B, essays, { student_prompt_ref: 'prompt-guest' });
    const run = [
      registration,
      E.content(B, 'text-1'), E.content(B, 'text-2'), E.content(B, 'text-3'),
      E.pipelineRequest(B, 'nlp'),
      E.spellchecked(B, 'g1', true), E.spellchecked(B, 'g2', false), E.spellchecked(B, 'g3', true),
      registration, // redelivered: answered duplicate
      E.batchResult('nlp', B, ['g1', 'g3']),
    ];
    const second = ['h1', 'h2'];
    const grouped = [E.registration('guest-batch-2', second, { student_prompt_ref: 'p' }), E.content('guest-batch-2', 'x1'), E.content('guest-batch-2', 'x2')];
    const clock = (): Date => FIXED;

    const schema = await freshSchema();
    const pgStore = await tracked(schema, { now: clock });
    const sqlite = openSqliteStore({ path: ':memory:', now: clock });
    const results: Record<string, DispatchResult[]> = {};
    for (const [name, store] of [['postgres', pgStore], ['sqlite', sqlite]] as const) {
      const engine = new LifecycleEngine({ store, clock });
      results[name] = [];
      for (const envelope of run) results[name].push(await engine.dispatch(envelope));
      const many = await engine.dispatchMany(grouped);
      expect(many.map((r) => r.outcome)).toEqual(['accepted', 'accepted', 'accepted']);
    }
    expect(outcomes(results.postgres!)).toEqual([...Array<string>(8).fill('accepted'), 'duplicate', 'accepted']);
    expect(results.postgres).toEqual(results.sqlite);

    const statuses = Object.fromEntries((await pgStore.list({ machine: 'essay', parent_id: B })).map((e) => [e.entity_id, e.status]));
    expect(statuses).toEqual({ g1: 'nlp_success', g2: 'spellcheck_failed', g3: 'nlp_success' });
    expect((await pgStore.load('batch', B))?.status).toBe('ready_for_pipeline_execution');
    expect(await dump(pgStore)).toEqual(await dump(sqlite));
    await sqlite.close();
  });

  it('two engines on two pools dispatching content for the same batches concurrently lose no update', async () => {
    const schema = await freshSchema();
    const a = await tracked(schema, { poolSize: 4 });
    const b = await tracked(schema, { poolSize: 4 });
    const first = new LifecycleEngine({ store: a, maxRetries: 20 });
    const second = new LifecycleEngine({ store: b, maxRetries: 20 });
    const batches = ['cb1', 'cb2', 'cb3'];
    const essays = (id: string): string[] => [1, 2, 3, 4].map((n) => `${id}-e${n}`);
    for (const id of batches) await first.dispatch(E.registration(id, essays(id), { student_prompt_ref: 'p' }));
    const contents = batches.flatMap((id) => [1, 2, 3, 4].map((n) => E.content(id, `${id}-text-${n}`)));
    const answers = await Promise.all(contents.map((envelope, i) => (i % 2 === 0 ? first : second).dispatch(envelope)));
    expect(outcomes(answers)).toEqual(Array<string>(contents.length).fill('accepted'));
    // the same pipeline request delivered to both engines at once: one takes it, the other answers duplicate
    const requests = batches.map((id) => E.pipelineRequest(id, 'nlp'));
    const raced = await Promise.all(requests.flatMap((envelope) => [first.dispatch(envelope), second.dispatch(envelope)]));
    for (let i = 0; i < batches.length; i += 1) expect([raced[2 * i]!.outcome, raced[2 * i + 1]!.outcome].sort()).toEqual(['accepted', 'duplicate']);

    expect(await a.countByStatus()).toEqual([
      { machine: 'batch', status: 'processing_pipelines', count: 3 },
      { machine: 'batch_tracker', status: 'content_provisioned', count: 3 },
      { machine: 'essay', status: 'spellchecking_in_progress', count: 12 },
    ]);
    const inbox = await b.findInbox([...contents, ...requests].map((envelope) => String(envelope.event_id)));
    expect(inbox.size).toBe(contents.length + requests.length);
  });
}
