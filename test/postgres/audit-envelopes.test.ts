/**
 * Audit envelopes kept once on PostgreSQL (schema 4): the audit readers return, as JSON text, what
 * a SQLite store writing envelopes whole returns for the same events; the rows of an event that
 * drove several entities keep its envelope once. Runs only with TEST_POSTGRES_URL.
 */
import { afterAll, expect, it } from 'vitest';
import { LifecycleEngine } from '../../adapters/engine/engine.js';
import { openPostgresStore, type PostgresStore } from '../../adapters/postgres/store.js';
import { openSqliteStore } from '../../adapters/sqlite/store.js';
import type { SnapshotStore } from '../../adapters/store.js';
import { readsOf } from '../fixtures/audit-v6/reads.js';
import { allEvents } from '../fixtures/audit-v6/scenario.js';
import { FIXED_NOW } from '../support/reliability-kit.js';
import { adminPool, describePostgres, dropAllSchemas, freshSchema, url } from './support.js';

const now = (): Date => new Date(FIXED_NOW);
let store: PostgresStore | undefined;

afterAll(async () => {
  await store?.close();
  await dropAllSchemas();
});

async function applyAll(target: SnapshotStore): Promise<void> {
  const engine = new LifecycleEngine({ store: target, clock: now, invariants: 'refuse' });
  for (const raw of allEvents()) expect((await engine.dispatch(raw)).outcome, String(raw.event_type)).toBe('accepted');
}

describePostgres('PostgreSQL audit envelopes', () => {
  it('history and auditSince return byte for byte what a store writing envelopes whole returns; shared rows keep no envelope', async () => {
    const schema = await freshSchema();
    store = await openPostgresStore({ connectionString: url(), schema, now, poolSize: 2 });
    const whole = openSqliteStore({ path: ':memory:', now, compactAuditEnvelopes: false });
    await applyAll(store);
    await applyAll(whole);
    expect(JSON.stringify(await readsOf(store))).toBe(JSON.stringify(await readsOf(whole)));
    const { rows } = await adminPool().query<{ compact: string; shared: string; total: string }>(
      `SELECT COUNT(*) FILTER (WHERE envelope LIKE '=%') AS compact, COUNT(*) FILTER (WHERE envelope = '') AS shared, COUNT(*) AS total FROM ${schema}.audit`,
    );
    const counts = rows[0];
    expect(Number(counts?.shared)).toBeGreaterThan(0);
    expect(Number(counts?.compact) + Number(counts?.shared)).toBe(Number(counts?.total));
    await whole.close();
  });
});
