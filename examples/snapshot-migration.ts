/**
 * Guide docs/snapshot-migration.md: a new version of the batch machine, the migration that
 * upgrades snapshots stored by the old one, and what SNAPSHOT_INCOMPATIBLE means.
 * Run it with `npx tsx examples/snapshot-migration.ts`; test/examples-guides.test.ts runs it too.
 */
import { randomUUID } from 'node:crypto';
import {
  BATCH_MACHINE_VERSION,
  batchLifecycle,
  courseLanguage,
  defaultMachines,
  isLifecycleError,
  LifecycleEngine,
  type CourseCode,
  type Json,
  type LifecycleMachine,
  type MachineRegistry,
  type SnapshotMigration,
  type SnapshotStore,
} from 'essay-lifecycle-statecharts';
import { openSqliteStore } from 'essay-lifecycle-statecharts/sqlite';

/** The version this release's batch machine has (one more than the library's). */
export const NEXT_VERSION = BATCH_MACHINE_VERSION + 1;

/**
 * migrations[n] turns a persisted snapshot written by version n into one of version n + 1. It
 * is pure JSON -> JSON and must produce a snapshot the NEW logic understands (a state value of
 * the new machine and a context of its shape). Here the new version keeps the course language in
 * the batch context; the library's snapshots do not have it, so the migration derives it.
 */
export const addCourseLanguage: SnapshotMigration = (persisted) => {
  const snapshot = persisted as { context: { course_code: CourseCode } & Record<string, Json> } & Record<string, Json>;
  return { ...snapshot, context: { ...snapshot.context, course_language: courseLanguage(snapshot.context.course_code) } };
};

/** The batch machine of this release: same logic here, a new version and its migration. */
export const batchV2: LifecycleMachine = {
  ...batchLifecycle,
  version: NEXT_VERSION,
  // The library's own migrations stay: a row written by any older version is migrated step by step.
  migrations: { ...batchLifecycle.migrations, [BATCH_MACHINE_VERSION]: addCourseLanguage },
};

/** A custom registry: the library's machines, our batch machine in place of its own. */
export function registryV2(): MachineRegistry {
  return { ...defaultMachines(), batch: batchV2 };
}

const envelope = (event_type: string, data: Record<string, unknown>) => ({
  event_id: randomUUID(),
  event_type,
  event_timestamp: new Date().toISOString(),
  source_service: 'my-app',
  correlation_id: randomUUID(),
  data,
});

async function stored(store: SnapshotStore, id: string): Promise<{ machine_version: number; course_language: unknown }> {
  const row = await store.load('batch', id);
  const context = (row?.snapshot as { context?: Record<string, unknown> } | undefined)?.context;
  return { machine_version: row?.machine_version ?? -1, course_language: context?.course_language };
}

/** Old code writes, new code migrates on the next event, old code then refuses the new row. */
export async function main(): Promise<Record<string, unknown>> {
  const store = openSqliteStore({ path: ':memory:' });
  const register = (id: string) => envelope('huleedu.batch.essays.registered.v1', {
    entity_id: id, expected_essay_count: 1, essay_ids: [`${id}-e1`], course_code: 'SV1', user_id: 'teacher-1',
  });
  const cancel = (id: string) => envelope('huleedu.batch.cancel.requested.v1', { batch_id: id, user_id: 'teacher-1' });

  // 1. The previous release (the library's machines) writes two batches.
  const v1 = new LifecycleEngine({ store });
  await v1.dispatch(register('batch-1'));
  await v1.dispatch(register('batch-2'));
  const before = await stored(store, 'batch-1');

  // 2. This release: rows are migrated lazily, when an event next loads them, and written back
  //    at the new version in the same transaction. Untouched rows stay at the old version.
  const v2 = new LifecycleEngine({ store, machines: registryV2() });
  const answer = await v2.dispatch(cancel('batch-1'));
  const after = await stored(store, 'batch-1');
  const untouched = await stored(store, 'batch-2');

  // 3. The previous release meets a row written by this one: SNAPSHOT_INCOMPATIBLE, nothing written.
  let olderCode = '';
  try {
    await v1.dispatch(envelope('huleedu.batch.close.requested.v1', { batch_id: 'batch-1', user_id: 'teacher-1' }));
  } catch (error) {
    if (isLifecycleError(error, 'SNAPSHOT_INCOMPATIBLE')) olderCode = error.message;
    else throw error;
  }

  // 4. A version with a gap in its chain (no migrations[2]) refuses older rows the same way;
  //    in dispatchMany the item is answered `deferred` (kept for a retry, never dead-lettered) and
  //    the rest of the group still commits.
  const gap: MachineRegistry = { ...registryV2(), batch: { ...batchV2, version: NEXT_VERSION + 1 } };
  const [refused] = await new LifecycleEngine({ store, machines: gap }).dispatchMany([cancel('batch-2')]);
  await store.close();
  return {
    before,
    answer: `${answer.outcome} ${answer.from ?? ''} -> ${answer.to ?? ''}`,
    after,
    untouched,
    olderCode,
    gap: refused?.outcome === 'deferred' ? `${refused.code}: ${refused.message}` : refused?.outcome,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await main());
