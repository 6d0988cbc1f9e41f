/**
 * Retention (issue #20): published outbox rows and inbox keys older than their windows are
 * deleted by `pruneStore` and by the lifecycle-prune CLI; unpublished rows and younger keys stay,
 * and idempotency holds inside the window.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LifecycleEngine } from '../adapters/engine/engine.js';
import { pruneStore } from '../adapters/engine/retention.js';
import { createMemoryStore } from '../adapters/memory/index.js';
import { openSqliteStore } from '../adapters/sqlite/store.js';
import { content, registration } from './support/envelopes.js';
import { PROJECT_ROOT, removeTempDirs, tempDir } from './support/reliability-kit.js';

const T0 = new Date('2026-03-01T12:00:00.000Z');
const days = (n: number): Date => new Date(T0.getTime() + n * 86_400_000);

afterAll(removeTempDirs);

async function seeded(path: string) {
  const store = openSqliteStore({ path, now: () => T0 });
  const engine = new LifecycleEngine({ store, clock: () => T0 });
  const registered = registration('ret-1', ['ret-1-e1', 'ret-1-e2']);
  // Two contents: two slot assignments for clients in the outbox (what the engine applies itself is in the audit only).
  for (const raw of [registered, content('ret-1', 't1'), content('ret-1', 't2')]) expect((await engine.dispatch(raw)).outcome).toBe('accepted');
  const pending = await store.pendingOutbox(1000);
  // Everything but the last row was published at T0; the last stays unpublished.
  await store.markPublished(pending.slice(0, -1).map((row) => row.id), T0.toISOString());
  return { store, engine, registered, unpublished: pending.length > 0 ? 1 : 0 };
}

describe('pruneStore', () => {
  it('inside the windows it deletes nothing and a redelivery is still a duplicate; past them it deletes published rows and old keys only', async () => {
    const { store, engine, registered, unpublished } = await seeded(join(tempDir('retention-'), 'db.sqlite'));
    const published = await store.outboxCount({ published: true });
    expect(published).toBeGreaterThan(0);
    expect(await pruneStore(store, { outboxDays: 7, inboxDays: 7 }, days(3))).toEqual({ outbox: 0, inbox: 0 });
    expect((await engine.dispatch(registered)).outcome).toBe('duplicate');

    const report = await pruneStore(store, { outboxDays: 7, inboxDays: 7 }, days(8));
    expect(report.outbox).toBe(published);
    expect(report.inbox).toBeGreaterThan(0);
    expect([await store.outboxCount({ published: true }), await store.outboxCount({ published: false })]).toEqual([0, unpublished]);
    // The key is gone: the same event id is taken as a new event (here the machines refuse or ignore it).
    expect((await engine.dispatch(registered)).outcome).not.toBe('duplicate');
    await store.close();
  });

  it('refuses a negative window and a store without retention, naming them', async () => {
    const store = openSqliteStore({ path: ':memory:' });
    await expect(pruneStore(store, { inboxDays: -1 })).rejects.toMatchObject({ code: 'INVALID_CONFIGURATION', message: expect.stringMatching(/inboxDays/) });
    await expect(pruneStore(createMemoryStore())).rejects.toMatchObject({ code: 'INVALID_CONFIGURATION', message: expect.stringMatching(/memory store/) });
    await store.close();
  });
});

describe('lifecycle-prune', () => {
  it('prunes a SQLite file and prints what it deleted; a bad flag is a usage error', async () => {
    const path = join(tempDir('retention-cli-'), 'db.sqlite');
    const { store } = await seeded(path);
    await store.close();
    const run = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'scripts', 'prune.ts'), ...args], { encoding: 'utf8', cwd: PROJECT_ROOT });
    // T0 lies in 2026-03: with a window of 0 days everything published or recorded before now goes.
    const ok = run(['--store', path, '--outbox-days', '0', '--inbox-days', '0']);
    expect(ok.status, ok.stderr).toBe(0);
    const printed = JSON.parse(ok.stdout) as { deleted: { outbox: number; inbox: number } };
    expect(printed.deleted.outbox).toBeGreaterThan(0);
    expect(printed.deleted.inbox).toBeGreaterThan(0);
    const bad = run(['--store', path, '--inbox-days', 'soon']);
    expect([bad.status, bad.stderr]).toEqual([2, expect.stringContaining('--inbox-days must be a non-negative number of days, got "soon"')]);
  }, 30_000);
});
