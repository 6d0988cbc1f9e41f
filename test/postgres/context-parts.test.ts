/**
 * Context parts on PostgreSQL (issue #20): an entity's snapshot is a main row plus one row per
 * part, a commit rewrites only the parts it changed, and a schema made before parts (version 2,
 * whole snapshots; the fixture in test/fixtures/postgres-schema2, built by its build.ts from
 * 6df2ff3) migrates on open and carries on like a schema made today. Runs only with TEST_POSTGRES_URL.
 */
import { withoutPartLayout } from '../support/part-layout.js';
import { batchLifecycle, batchMissedPhasesMigration } from '../../machines/batch/index.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { LifecycleEngine } from '../../adapters/engine/engine.js';
import { migrate, migrations } from '../../adapters/postgres/migrations.js';
import { openPostgresStore, type PostgresStore } from '../../adapters/postgres/store.js';
import type { CommitBatch, EntityRecord, Json } from '../../adapters/store.js';
import { fixtureBatches, remainingEvents } from '../fixtures/tracker-v1/scenario.js';
import * as E from '../support/envelopes.js';
import { FIXED_NOW, PROJECT_ROOT, type Raw } from '../support/reliability-kit.js';
import { adminPool, describePostgres, dropAllSchemas, freshSchema, url } from './support.js';

const FIXTURE = join(PROJECT_ROOT, 'test', 'fixtures', 'postgres-schema2', 'schema2.json');
const now = (): Date => new Date(FIXED_NOW);
const stores: PostgresStore[] = [];

afterAll(async () => {
  await Promise.all(stores.map((store) => store.close().catch(() => undefined)));
  await dropAllSchemas();
});

async function open(schema: string): Promise<PostgresStore> {
  const store = await openPostgresStore({ connectionString: url(), schema, now, poolSize: 2 });
  stores.push(store);
  return store;
}

const batch = (over: Partial<CommitBatch>): CommitBatch => ({ entities: [], audit: [], outbox: [], inbox: [], timersSet: [], timersCancelled: [], timersFired: [], ...over });
const part = (part_id: string, items: Json): Json => ({ part_id, items });
const snap = (...parts: Json[]): Json => ({ value: 'x', context: { slots: { length: parts.length, parts } } });

/** The transaction id that last wrote each part row of an entity (`xmin`): it changes exactly when the row is rewritten. */
async function partWriters(schema: string, entityId: string): Promise<Map<string, string>> {
  const { rows } = await adminPool().query<{ part_id: string; xmin: string }>(`SELECT part_id, xmin::text AS xmin FROM ${schema}.entity_parts WHERE entity_id = $1`, [entityId]);
  return new Map(rows.map((row) => [row.part_id, row.xmin]));
}

async function apply(engine: LifecycleEngine, raws: readonly Raw[]): Promise<void> {
  for (const raw of raws) expect((await engine.dispatch(raw)).outcome, String(raw.event_type)).toBe('accepted');
}

async function everyEntity(store: PostgresStore): Promise<EntityRecord[]> {
  const rows: EntityRecord[] = [];
  for (const machine of ['batch', 'batch_tracker', 'essay', 'associations']) rows.push(...(await store.list({ machine, limit: 1000 })));
  return rows;
}

/** Loads the fixture's rows into `schema`, made with the migrations of that code (versions 1 and 2). */
async function loadFixture(schema: string): Promise<Record<string, Array<Record<string, unknown>>>> {
  const fixture = JSON.parse(readFileSync(FIXTURE, 'utf8')) as Record<string, Array<Record<string, unknown>>>;
  const pool = adminPool();
  await migrate(pool, { schema, list: migrations.filter((m) => m.version <= 2), now });
  await pool.query(`DELETE FROM ${schema}.schema_migrations`);
  for (const [table, rows] of Object.entries(fixture)) {
    for (const row of rows) {
      const columns = Object.keys(row);
      await pool.query(`INSERT INTO ${schema}.${table} (${columns.join(', ')}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')})`, Object.values(row));
    }
  }
  await pool.query(`SELECT setval(pg_get_serial_sequence('${schema}.audit', 'position'), (SELECT MAX(position) FROM ${schema}.audit))`);
  await pool.query(`SELECT setval(pg_get_serial_sequence('${schema}.outbox', 'id'), (SELECT MAX(id) FROM ${schema}.outbox))`);
  return fixture;
}

describePostgres('PostgreSQL context parts', () => {
  it('an update rewrites only the part rows its hint calls changed, deletes the dropped ones, and reads back whole', async () => {
    const schema = await freshSchema();
    const store = await open(schema);
    const write = { machine: 'batch_tracker', entity_id: 't1', parent_id: null, machine_version: 2, status: 'open' };
    await store.commit(batch({ entities: [{ ...write, expected_version: 0, snapshot: snap(part('s/0', [0]), part('s/1', [1]), part('s/2', [2])) }] }));
    const before = await partWriters(schema, 't1');
    const next = snap(part('s/0', [0]), part('s/1', ['one']));
    await store.commit(batch({ entities: [{ ...write, expected_version: 1, snapshot: next, parts: { changed: [{ part_id: 's/1', items: ['one'] }], removed: ['s/2'] } }] }));
    const after = await partWriters(schema, 't1');
    expect([...after.keys()].sort()).toEqual(['s/0', 's/1']);
    expect(after.get('s/0')).toBe(before.get('s/0'));
    expect(after.get('s/1')).not.toBe(before.get('s/1'));
    expect((await store.load('batch_tracker', 't1'))?.snapshot).toEqual(next);
    const main = await adminPool().query<{ snapshot: string; parts: number }>(`SELECT snapshot, parts FROM ${schema}.entities WHERE entity_id = 't1'`);
    // The main row keeps the run of parts as one descriptor, not a stub per part.
    expect(JSON.parse(main.rows[0]!.snapshot)).toEqual({ value: 'x', context: { slots: { length: 2, parts: { $parts: 's', count: 2 } } } });
    expect(main.rows[0]!.parts).toBe(2);
  });

  it('a content event of a 400-essay batch rewrites a few of the tracker\'s part rows, not all of them', async () => {
    const schema = await freshSchema();
    const store = await open(schema);
    const engine = new LifecycleEngine({ store, clock: now });
    const essays = Array.from({ length: 400 }, (_, i) => `pp-e${i}`);
    await apply(engine, [E.registration('pp-1', essays, { student_prompt_ref: 'p' }), ...essays.slice(0, 200).map((_, i) => E.content('pp-1', `pp-t${i}`))]);
    const before = await partWriters(schema, 'pp-1');
    await apply(engine, [E.content('pp-1', 'pp-t-next')]);
    const after = await partWriters(schema, 'pp-1');
    const rewritten = [...after].filter(([id, xmin]) => before.get(id) !== xmin);
    expect(before.size).toBeGreaterThan(20);
    expect(rewritten.length).toBeGreaterThan(0);
    expect(rewritten.length).toBeLessThanOrEqual(4);
  });

  it('a version-2 schema with whole snapshots migrates on open, reads the same, and ends exactly where a schema made today ends', async () => {
    const schema = await freshSchema();
    const fixture = await loadFixture(schema);
    const migrated = await open(schema);
    expect(migrated.migration).toEqual({ applied: migrations.filter((m) => m.version > 2).map((m) => m.version), version: migrations.at(-1)?.version });
    const stored = fixture.entities ?? [];
    expect(stored.length).toBeGreaterThan(0);
    for (const row of stored) {
      const loaded = await migrated.load(String(row.machine), String(row.entity_id));
      expect(loaded?.snapshot, `${String(row.machine)} ${String(row.entity_id)}`).toEqual(JSON.parse(String(row.snapshot)));
    }
    await apply(new LifecycleEngine({ store: migrated, clock: now, invariants: 'refuse' }), remainingEvents());

    const fresh = await open(await freshSchema());
    const { done, open: opened } = fixtureBatches();
    await apply(new LifecycleEngine({ store: fresh, clock: now, invariants: 'refuse' }), [...done, ...opened]);
    const today = new Map((await everyEntity(fresh)).map((row) => [`${row.machine}/${row.entity_id}`, row]));
    const rows = await everyEntity(migrated);
    expect(rows.length).toBe(today.size);
    for (const row of rows) {
      const want = today.get(`${row.machine}/${row.entity_id}`);
      // fx-done's batch was not touched after the upgrade: stored at batch version 1, compared migrated.
      // Trackers written before PART_SIZE keep their part size: compared by the facts they hold.
      const snapshot = row.machine === 'batch' && row.machine_version < batchLifecycle.version ? batchMissedPhasesMigration(row.snapshot) : row.snapshot;
      expect([row.status, row.version, withoutPartLayout(snapshot)], `${row.machine} ${row.entity_id}`).toEqual([want?.status, want?.version, withoutPartLayout(want?.snapshot)]);
    }
    // The open tracker, written after the upgrade, now keeps its per-essay facts in part rows; the done one is untouched.
    expect((await partWriters(schema, 'fx-open')).size).toBeGreaterThan(0);
    expect((await partWriters(schema, 'fx-done')).size).toBe(0);
  });
});
