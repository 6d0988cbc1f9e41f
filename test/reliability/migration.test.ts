/**
 * Snapshot versions and corruption: a row written by an older machine version is migrated by
 * the registered migrations (or refused with SNAPSHOT_INCOMPATIBLE, changing nothing), a row
 * from a newer version is refused, an unreadable row is refused with SNAPSHOT_CORRUPT while
 * every other entity keeps working. And rebuildEntity re-derives every stored snapshot and
 * every audited status from the history.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { LifecycleEngine } from '../../adapters/engine/engine.js';
import { rebuildEntity } from '../../adapters/engine/rebuild.js';
import { defaultMachines, type MachineRegistry } from '../../adapters/engine/registry.js';
import { LifecycleError } from '../../adapters/errors.js';
import type { SqliteStore } from '../../adapters/sqlite/store.js';
import type { Json, LifecycleMachine, SnapshotMigration } from '../../machines/lifecycle-machine.js';
import { batchLifecycle } from '../../machines/batch/index.js';
import { envelope } from '../support/envelopes.js';
import {
  checkpointAndHash,
  diffDumps,
  dumpStore,
  engineOn,
  guestBatch,
  openFileStore,
  plusMs,
  regularBatch,
  regularBatchUntilSuggestions,
  removeTempDirs,
  tempDir,
  FIXED_NOW,
  type Raw,
} from '../support/reliability-kit.js';

afterAll(removeTempDirs);

const ESSAYS = 3;
/** The batch machine's version in this code. */
const CURRENT = batchLifecycle.version;
/** The batches of the version tests: each registered and provisioned (ready), plus its pipeline request. */
const BATCH_IDS = ['mig-a', 'mig-b', 'mig-c'] as const;
const events = (batchId: string): { setup: Raw[]; request: Raw } => {
  const all = guestBatch('migration', batchId, ESSAYS);
  return { setup: all.slice(0, 1 + ESSAYS), request: all[1 + ESSAYS]! };
};

/** A file with every batch of BATCH_IDS ready for a pipeline. */
async function readyFile(): Promise<{ path: string; store: SqliteStore }> {
  const path = join(tempDir('reliability-migration-'), 'db.sqlite');
  const store = openFileStore(path);
  const engine = engineOn(store);
  for (const id of BATCH_IDS) for (const raw of events(id).setup) expect((await engine.dispatch(raw)).outcome).toBe('accepted');
  return { path, store };
}

const rowOf = (store: SqliteStore, machine: string, id: string): { machine_version: number; version: number; status: string; snapshot: string } =>
  store.db.prepare('SELECT machine_version, version, status, snapshot FROM entities WHERE machine = ? AND entity_id = ?').get(machine, id) as {
    machine_version: number;
    version: number;
    status: string;
    snapshot: string;
  };

/** The "version 0" storage format of the batch snapshot: { format: 'v0', state, data }. */
function toV0(snapshot: string): string {
  const { value, context } = JSON.parse(snapshot) as { value: Json; context: Json };
  return JSON.stringify({ format: 'v0', state: value, data: context });
}

/** Rewrites a stored row by raw SQL (a row written by another version of the code). */
function rewrite(store: SqliteStore, machine: string, id: string, changes: { machine_version?: number; snapshot?: string }): void {
  const row = rowOf(store, machine, id);
  store.db
    .prepare('UPDATE entities SET machine_version = ?, snapshot = ? WHERE machine = ? AND entity_id = ?')
    .run(changes.machine_version ?? row.machine_version, changes.snapshot ?? row.snapshot, machine, id);
}

/** A registry whose batch machine is `batch` with the given version and migrations. */
function registryWith(version: number, migrations: Record<number, SnapshotMigration>): MachineRegistry {
  const machines = defaultMachines();
  const batch: LifecycleMachine = { ...machines.batch!, version, migrations };
  return { ...machines, batch };
}

async function rejection(promise: Promise<unknown>): Promise<LifecycleError> {
  const error: unknown = await promise.then(
    () => new Error('resolved'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(LifecycleError);
  return error as LifecycleError;
}

describe('machine-version migration of stored snapshots', () => {
  it('a version-0 row is migrated by migrations[0] and takes the next event; the result equals a run that never had the old row', async () => {
    const control = await readyFile();
    expect((await engineOn(control.store).dispatch(events('mig-a').request)).outcome).toBe('accepted');

    const { store } = await readyFile();
    const original = rowOf(store, 'batch', 'mig-a');
    rewrite(store, 'batch', 'mig-a', { machine_version: 0, snapshot: toV0(original.snapshot) });
    const seen: Json[] = [];
    const fromV0: SnapshotMigration = (persisted) => {
      seen.push(persisted);
      const { state, data } = persisted as { state: Json; data: Json };
      return { status: 'active', value: state, context: data, children: {} };
    };
    const engine = engineOn(store, FIXED_NOW, registryWith(CURRENT, { ...batchLifecycle.migrations, 0: fromV0 }));
    const answer = await engine.dispatch(events('mig-a').request);
    expect(answer).toMatchObject({ outcome: 'accepted', from: 'ready_for_pipeline_execution', to: 'processing_pipelines' });
    expect(seen).toEqual([JSON.parse(toV0(original.snapshot))]);
    // The row is written back in the current format and version, equal to the control run.
    expect(rowOf(store, 'batch', 'mig-a').machine_version).toBe(CURRENT);
    expect(diffDumps(dumpStore(store), dumpStore(control.store), { versions: true })).toEqual([]);
    expect(rowOf(store, 'batch', 'mig-a')).toEqual(rowOf(control.store, 'batch', 'mig-a'));
    // A later event needs no migration any more.
    await engine.dispatch(envelope('huleedu.batch.cancel.requested.v1', { batch_id: 'mig-a', user_id: 'teacher-1' }));
    expect(seen).toHaveLength(1);
    await Promise.all([store.close(), control.store.close()]);
  });

  it('migrations chain: a version-0 row under a version-3 machine runs migrations 0, 1 and 2 in order', async () => {
    const { store } = await readyFile();
    rewrite(store, 'batch', 'mig-b', { machine_version: 0 });
    const order: number[] = [];
    const step = (n: number): SnapshotMigration => (persisted) => {
      order.push(n);
      return persisted;
    };
    const engine = engineOn(store, FIXED_NOW, registryWith(3, { 0: step(0), 1: step(1), 2: step(2) }));
    expect((await engine.dispatch(events('mig-b').request)).outcome).toBe('accepted');
    expect(order).toEqual([0, 1, 2]);
    expect(rowOf(store, 'batch', 'mig-b').machine_version).toBe(3);
    await store.close();
  });

  it('without a migration (or with a gap in the chain) the row is refused with SNAPSHOT_INCOMPATIBLE naming machine, entity and versions; nothing changes; other entities still work', async () => {
    const { path, store } = await readyFile();
    rewrite(store, 'batch', 'mig-a', { machine_version: 0 });
    const before = checkpointAndHash(store, path);
    const plain = engineOn(store);
    const error = await rejection(plain.dispatch(events('mig-a').request));
    expect(error.code).toBe('SNAPSHOT_INCOMPATIBLE');
    expect(error.message).toContain('batch "mig-a"');
    expect(error.message).toContain('machine version 0');
    expect(error.message).toContain('from version 0 to 1');
    expect(error.details).toEqual({ machine: 'batch', entity_id: 'mig-a', stored_version: 0, machine_version: CURRENT });
    // A gap: migrations for 0 and 2, none for 1.
    const gap = await rejection(engineOn(store, FIXED_NOW, registryWith(3, { 0: (p) => p, 2: (p) => p })).dispatch(events('mig-a').request));
    expect(gap.code).toBe('SNAPSHOT_INCOMPATIBLE');
    expect(gap.message).toContain('from version 1 to 2');
    expect(checkpointAndHash(store, path)).toBe(before);
    // Other entities work, alone and in a group with the refused one.
    expect((await plain.dispatch(events('mig-b').request)).outcome).toBe('accepted');
    const [refused, accepted] = await plain.dispatchMany([events('mig-a').request, events('mig-c').request]);
    expect(refused).toMatchObject({ outcome: 'deferred', index: 0, code: 'SNAPSHOT_INCOMPATIBLE' });
    expect(accepted).toMatchObject({ outcome: 'accepted', to: 'processing_pipelines' });
    expect(rowOf(store, 'batch', 'mig-a')).toMatchObject({ machine_version: 0, status: 'ready_for_pipeline_execution', version: 2 });
    await store.close();
  });

  it('a row written by a NEWER machine version is refused with SNAPSHOT_INCOMPATIBLE; nothing changes', async () => {
    const { path, store } = await readyFile();
    rewrite(store, 'batch', 'mig-c', { machine_version: CURRENT + 1 });
    const before = checkpointAndHash(store, path);
    const engine = engineOn(store);
    const error = await rejection(engine.dispatch(events('mig-c').request));
    expect(error.code).toBe('SNAPSHOT_INCOMPATIBLE');
    expect(error.message).toContain('batch "mig-c"');
    expect(error.message).toContain(`version ${CURRENT + 1}, newer than this code's ${CURRENT}`);
    expect(error.details).toMatchObject({ machine: 'batch', entity_id: 'mig-c', stored_version: CURRENT + 1, machine_version: CURRENT });
    expect(checkpointAndHash(store, path)).toBe(before);
    expect((await engine.dispatch(events('mig-a').request)).outcome).toBe('accepted');
    await store.close();
  });
});

describe('corrupt snapshot rows', () => {
  type Corruption = (snapshot: Record<string, unknown>) => string;
  const corruptions: Record<string, Corruption> = {
    'invalid JSON': () => '{"value": "ready_for_pipeline_execution", "context": ',
    'empty text': () => '',
    'unknown state value': (s) => JSON.stringify({ ...s, value: 'no_such_state' }),
    'unknown nested state': (s) => JSON.stringify({ ...s, value: { processing_pipelines: 'no_such_phase' } }),
    'child state under an atomic state': (s) => JSON.stringify({ ...s, value: { ready_for_pipeline_execution: 'x' } }),
    'empty state name': (s) => JSON.stringify({ ...s, value: '' }),
    'missing context': (s) => JSON.stringify(Object.fromEntries(Object.entries(s).filter(([k]) => k !== 'context'))),
    'null context': (s) => JSON.stringify({ ...s, context: null }),
    'missing value': (s) => JSON.stringify(Object.fromEntries(Object.entries(s).filter(([k]) => k !== 'value'))),
    'array snapshot': () => '[]',
    'null snapshot': () => 'null',
    'number snapshot': () => '42',
  };

  it.each(Object.keys(corruptions))('%s: SNAPSHOT_CORRUPT, nothing changes, the process and every other entity keep working', async (kind) => {
    const { path, store } = await readyFile();
    rewrite(store, 'batch', 'mig-a', { snapshot: corruptions[kind]!(JSON.parse(rowOf(store, 'batch', 'mig-a').snapshot) as Record<string, unknown>) });
    const before = checkpointAndHash(store, path);
    const engine: LifecycleEngine = engineOn(store);
    for (const raw of [events('mig-a').request, envelope('huleedu.batch.cancel.requested.v1', { batch_id: 'mig-a', user_id: 'teacher-1' })]) {
      const error = await rejection(engine.dispatch(raw));
      expect(error.code).toBe('SNAPSHOT_CORRUPT');
      expect(error.details).toMatchObject({ machine: 'batch', entity_id: 'mig-a' });
      expect(error.message).toMatch(/batch ['"]mig-a['"]/);
    }
    expect(checkpointAndHash(store, path)).toBe(before);
    // Other entities work, alone and in the same group as the corrupt one.
    expect((await engine.dispatch(events('mig-b').request)).outcome).toBe('accepted');
    const [corrupt, fine] = await engine.dispatchMany([events('mig-a').request, events('mig-c').request]);
    expect(corrupt).toMatchObject({ outcome: 'deferred', index: 0, code: 'SNAPSHOT_CORRUPT' });
    expect(fine).toMatchObject({ outcome: 'accepted', to: 'processing_pipelines' });
    await store.close();
  });

  // A stored value that is no state of the machine would be resolved by XState to the initial
  // state; the store refuses it instead (and any snapshot whose state disagrees with its row).
  it.each([{ value: 42 }, { value: true }, { value: [] }, { value: {} }])('a non-state value $value: SNAPSHOT_CORRUPT and nothing written', async ({ value }) => {
    const { path, store } = await readyFile();
    const snapshot = JSON.parse(rowOf(store, 'batch', 'mig-a').snapshot) as Record<string, unknown>;
    rewrite(store, 'batch', 'mig-a', { snapshot: JSON.stringify({ ...snapshot, value }) });
    const before = checkpointAndHash(store, path);
    const outcome: unknown = await engineOn(store)
      .dispatch(envelope('huleedu.batch.cancel.requested.v1', { batch_id: 'mig-a', user_id: 'teacher-1' }))
      .then(
        (answer) => answer,
        (e: unknown) => e,
      );
    const after = checkpointAndHash(store, path);
    const row = rowOf(store, 'batch', 'mig-a');
    await store.close();
    // Today: outcome is { outcome: 'accepted', from: 'awaiting_content_validation', to: 'cancelled' } and the row is overwritten.
    expect(outcome).toBeInstanceOf(LifecycleError);
    expect((outcome as LifecycleError).code).toBe('SNAPSHOT_CORRUPT');
    expect(after).toBe(before);
    expect(row).toMatchObject({ status: 'ready_for_pipeline_execution', version: 2 });
  });
});

describe('rebuildEntity re-derives the stored state from the history', () => {
  it('at the latest position it equals the stored snapshot of every entity; at each earlier audit position it has the status that row recorded', async () => {
    const path = join(tempDir('reliability-rebuild-'), 'db.sqlite');
    const store = openFileStore(path);
    const engine = engineOn(store);
    const scenario: Raw[] = [
      ...guestBatch('rebuild', 'rb-guest', 4, ['rb-guest-essay-2']),
      ...regularBatch('rebuild', 'rb-regular', 3),
      ...regularBatchUntilSuggestions('rebuild', 'rb-timeout', 3),
    ];
    for (const raw of scenario) expect((await engine.dispatch(raw)).outcome).toBe('accepted');
    // A refused event too (it is in the audit and must not change the rebuilt state).
    expect((await engine.dispatch(envelope('huleedu.commands.batch.pipeline.v1', { batch_id: 'rb-timeout', requested_pipeline: 'nlp', user_id: 'teacher-1' }))).outcome).toBe('refused');
    // The association timeout of rb-timeout fires 25 h later (a timer row in the history).
    const later = plusMs(FIXED_NOW, 25 * 3_600_000);
    expect((await engineOn(store, later).fireDueTimers()).map((a) => a.outcome)).toEqual(['accepted']);

    const machines = defaultMachines();
    const entities = store.db.prepare('SELECT machine, entity_id, status, snapshot FROM entities ORDER BY machine, entity_id').all() as Array<{
      machine: string;
      entity_id: string;
      status: string;
      snapshot: string;
    }>;
    expect(entities.length).toBeGreaterThan(15);
    const problems: string[] = [];
    let checkedPositions = 0;
    for (const entity of entities) {
      const latest = await rebuildEntity(store, machines, entity.machine, entity.entity_id);
      if (latest.status !== entity.status) problems.push(`${entity.machine} ${entity.entity_id}: rebuilt ${latest.status}, stored ${entity.status}`);
      // The whole stored snapshot (a tracker's context parts live in rows of their own).
      const stored = (await store.load(entity.machine, entity.entity_id))?.snapshot;
      if (JSON.stringify(latest.snapshot) !== JSON.stringify(stored)) {
        expect(latest.snapshot, `${entity.machine} ${entity.entity_id}`).toEqual(stored);
      }
      const history = await store.history(entity.machine, entity.entity_id, { limit: 1000 });
      expect(latest.events_applied).toBe(history.filter((row) => row.outcome === 'accepted').length);
      for (const row of history) {
        const then = await rebuildEntity(store, machines, entity.machine, entity.entity_id, { position: row.position });
        checkedPositions += 1;
        if (then.status !== row.to_status) problems.push(`${entity.machine} ${entity.entity_id} at ${row.position} (${row.event_type}, ${row.outcome}): rebuilt ${then.status}, audit ${row.to_status}`);
        if (then.position !== row.position) problems.push(`${entity.machine} ${entity.entity_id}: rebuilt up to ${then.position}, asked ${row.position}`);
      }
    }
    expect(problems.slice(0, 10)).toEqual([]);
    expect(checkedPositions).toBeGreaterThan(100);
    await store.close();
  });
});
