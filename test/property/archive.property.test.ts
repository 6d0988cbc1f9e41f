/**
 * Batch archives, property: random closed and open batches, then archive, restore and late
 * events in random order. Whatever the order, every read of every entity (record, whole and paged
 * history, kept answers) is what it was on a twin store that never archived, and after a final
 * restore of everything the stored rows are byte-identical to the twin's.
 * Runs: PROPERTY_RUNS (default 12 here: each run builds two stores).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { archiveClosedBatches, restoreBatch } from '../../adapters/engine/archive.js';
import { batchEvents, clockedStore, closeRequest, dispatchAll, eventIdsOf, membersOf, readsOf, rowsOf } from '../support/archive-kit.js';
import { spellchecked } from '../support/envelopes.js';
import type { Raw } from '../support/reliability-kit.js';
import { propertyRuns } from './runs.js';

const T0 = '2026-03-01T12:00:00.000Z';

const batchArbitrary = fc.record({ kind: fc.constantFrom('guest' as const, 'regular' as const), essays: fc.integer({ min: 1, max: 3 }), open: fc.boolean() });

/** One step on the archived store: archive every closed batch, restore one, send a late event to one, or read. */
const stepArbitrary = fc.oneof(
  fc.record({ op: fc.constant('archive' as const), batch: fc.integer({ min: 1, max: 4 }), rows: fc.integer({ min: 1, max: 12 }) }),
  fc.record({ op: fc.constant('restore' as const), batch: fc.nat(3) }),
  fc.record({ op: fc.constant('late' as const), batch: fc.nat(3) }),
  fc.constant({ op: 'read' as const, batch: 0 }),
);

/** A late event for a batch: a close request (refused when closed) or an essay result (refused or ignored). */
function lateEvent(batchId: string, step: number): Raw {
  return step % 2 === 0 ? closeRequest(batchId) : spellchecked(batchId, `${batchId}-essay-0`, true);
}

async function check(batches: ReadonlyArray<{ kind: 'guest' | 'regular'; essays: number; open: boolean }>, steps: ReadonlyArray<{ op: string; batch: number; rows?: number }>) {
  const ids = batches.map((_, i) => `prop-${i}`);
  const events = batches.map((b, i) => batchEvents(b.kind, ids[i] as string, b.essays, { open: b.open }));
  const archived = clockedStore(':memory:', T0);
  const twin = clockedStore(':memory:', T0);
  for (const world of [archived, twin]) await dispatchAll(world.engine, events.flat());
  const members = ids.flatMap((id) => membersOf(twin.store, id));
  const eventIds = events.flatMap(eventIdsOf);
  try {
    for (const [index, step] of steps.entries()) {
      const batchId = ids[step.batch % ids.length] as string;
      // For an archive step, `batch` is the chunk size (entities per chunk) and `rows` the audit rows per chunk.
      if (step.op === 'archive') await archiveClosedBatches(archived.store, { archiveDays: 0, now: new Date(T0), chunkEntities: step.batch, ...(step.rows === undefined ? {} : { chunkAuditRows: step.rows }) });
      if (step.op === 'restore') await restoreBatch(archived.store, batchId).catch((error: unknown) => expect(error).toMatchObject({ code: 'ENTITY_NOT_FOUND' }));
      if (step.op === 'late') {
        const raw = lateEvent(batchId, index);
        expect(JSON.stringify(await archived.engine.dispatch(raw))).toBe(JSON.stringify(await twin.engine.dispatch(raw)));
      }
      const all = [...members, ...ids.flatMap((id) => membersOf(twin.store, id)).filter((m) => !members.some((k) => k.machine === m.machine && k.entity_id === m.entity_id))];
      expect(await readsOf(archived.store, all, eventIds)).toBe(await readsOf(twin.store, all, eventIds));
    }
    for (const id of ids) await restoreBatch(archived.store, id).catch(() => undefined);
    expect(rowsOf(archived.store, members)).toEqual(rowsOf(twin.store, members));
  } finally {
    await Promise.all([archived.store.close(), twin.store.close()]);
  }
}

describe('batch archive properties', () => {
  it('archive, restore and late events in any order never change a read, and a full restore gives back the twin store rows', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(batchArbitrary, { minLength: 1, maxLength: 3 }), fc.array(stepArbitrary, { minLength: 1, maxLength: 8 }), check),
      { numRuns: propertyRuns(12) },
    );
  }, 300_000);
});
