/**
 * Issue #20: a database made by the code before context parts (SQLite schema 4, batch_tracker
 * version 1, the fixture in test/fixtures/tracker-v1, built by its build.ts from commit 480c77f)
 * opens with today's code, migrates, and carries on exactly like a database made today.
 */
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { EntityRecord } from '../../adapters/store.js';
import { migrations as sqliteMigrations } from '../../adapters/sqlite/migrations.js';
import { batchTrackerLifecycle } from '../../machines/batch-tracker.js';
import { batchLifecycle, batchMissedPhasesMigration } from '../../machines/batch/index.js';
import { trackerPartsMigration } from '../../machines/batch-tracker/migrations.js';
import { fixtureBatches, remainingEvents } from '../fixtures/tracker-v1/scenario.js';
import { emittedData } from '../support/emitted.js';
import { engineOn, openFileStore, PROJECT_ROOT, removeTempDirs, tempDir, type Raw } from '../support/reliability-kit.js';

const FIXTURE = join(PROJECT_ROOT, 'test', 'fixtures', 'tracker-v1', 'schema4-tracker-v1.sqlite');

afterAll(removeTempDirs);

async function applyAll(store: ReturnType<typeof openFileStore>, raws: readonly Raw[]): Promise<void> {
  const engine = engineOn(store);
  for (const raw of raws) expect((await engine.dispatch(raw)).outcome, String(raw.event_type)).toBe('accepted');
}

async function everyEntity(store: ReturnType<typeof openFileStore>): Promise<EntityRecord[]> {
  const rows: EntityRecord[] = [];
  for (const machine of ['batch', 'batch_tracker', 'essay', 'associations']) rows.push(...(await store.list({ machine, limit: 1000 })));
  return rows;
}

/** The phase outcomes (applied by the engine itself: from the audit log) and pipeline completions (outbox) sent. */
const outcomes = async (store: ReturnType<typeof openFileStore>) => {
  const types = ['huleedu.els.batch.phase.outcome.v1', 'huleedu.batch.pipeline.completed.v1'];
  return Promise.all(types.map((type) => emittedData(store, type)));
};

describe('a schema-4 database with version-1 trackers', () => {
  it('migrates on open and on first touch, then ends exactly where a database made today ends', async () => {
    const dir = tempDir('tracker-v1-');
    const migratedPath = join(dir, 'migrated.sqlite');
    copyFileSync(FIXTURE, migratedPath);
    const migrated = openFileStore(migratedPath);
    expect(migrated.db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get()).toEqual({ v: sqliteMigrations.at(-1)?.version });
    await applyAll(migrated, remainingEvents());

    const fresh = openFileStore(join(dir, 'fresh.sqlite'));
    const { done, open } = fixtureBatches();
    await applyAll(fresh, [...done, ...open]);

    const freshRows = new Map((await everyEntity(fresh)).map((row) => [`${row.machine}/${row.entity_id}`, row]));
    const migratedRows = await everyEntity(migrated);
    expect(migratedRows.length).toBe(freshRows.size);
    for (const row of migratedRows) {
      const today = freshRows.get(`${row.machine}/${row.entity_id}`);
      // fx-done's tracker and batch were not touched after the upgrade: they are still stored at
      // their old versions (lazy migration), so compare them migrated.
      const snapshot =
        row.machine === 'batch_tracker' && row.machine_version < batchTrackerLifecycle.version
          ? trackerPartsMigration(row.snapshot)
          : row.machine === 'batch' && row.machine_version < batchLifecycle.version
            ? batchMissedPhasesMigration(row.snapshot)
            : row.snapshot;
      expect([row.status, row.version, snapshot], `${row.machine} ${row.entity_id}`).toEqual([today?.status, today?.version, today?.snapshot]);
    }
    expect(migratedRows.filter((row) => row.machine === 'batch_tracker').map((row) => [row.entity_id, row.machine_version])).toEqual([
      ['fx-done', 1],
      ['fx-open', 2],
    ]);
    expect(await outcomes(migrated)).toEqual(await outcomes(fresh));
    expect((await outcomes(fresh)).map((data) => data.length)).toEqual([4, 2]);
    // The open tracker now keeps its per-essay facts in part rows.
    const parts = migrated.db.prepare(`SELECT COUNT(*) AS n FROM entity_parts WHERE entity_id = 'fx-open'`).get() as { n: number };
    expect(parts.n).toBeGreaterThan(0);
    await migrated.close();
    await fresh.close();
  });
});
