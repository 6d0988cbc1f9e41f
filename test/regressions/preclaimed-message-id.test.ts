/**
 * Review (pre-existing): the ids of the engine's own messages are derived from public inputs
 * (ids.ts). A message that also leaves the engine (`alsoOutside`, e.g. EssaySlotAssignedV1) keeps an
 * inbox key, so an outside event sent first under its future id made every commit of its cause fail
 * on that key: the cause could never be applied. Now the engine's own message goes on without its
 * key when another event holds it.
 */
import { describe, expect, it } from 'vitest';
import { LifecycleEngine } from '../../adapters/engine/engine.js';
import { LifecycleQueries } from '../../adapters/engine/queries.js';
import { openSqliteStore, type SqliteStore } from '../../adapters/sqlite/store.js';
import { content, envelope, registration } from '../support/envelopes.js';

const SLOT_ASSIGNED = 'huleedu.els.essay.slot.assigned.v1';

async function registered() {
  const store = openSqliteStore({ path: ':memory:' });
  const engine = new LifecycleEngine({ store });
  await engine.dispatch(registration('claim-1', ['claim-1-e1', 'claim-1-e2']));
  return { store, engine, queries: new LifecycleQueries(store) };
}

describe('regression: ids of published messages claimed in advance', () => {
  it('a content event whose slot assignment id another event took first is still applied, and its slot assignment still published', async () => {
    const contentEvent = content('claim-1', 'text-claim-1');
    // The id the slot assignment will have, seen on a twin store.
    const twin = await registered();
    expect((await twin.engine.dispatch(contentEvent)).outcome).toBe('accepted');
    const published = twin.store.db.prepare<[string], { event_id: string }>('SELECT event_id FROM outbox WHERE event_type = ?').all(SLOT_ASSIGNED);
    expect(published).toHaveLength(1);

    const { store, engine, queries } = await registered();
    const claim = envelope('huleedu.batch.prompt.attached.v1', { batch_id: 'claim-1', user_id: 'teacher-1', student_prompt_ref: 'p' }, { event_id: String(published[0]?.event_id) });
    await engine.dispatch(claim).catch(() => undefined);
    expect((await engine.dispatch(contentEvent)).outcome).toBe('accepted');
    expect(store.db.prepare<[string], { event_id: string }>('SELECT event_id FROM outbox WHERE event_type = ?').all(SLOT_ASSIGNED)).toEqual(published);
    const essays = async (of: SqliteStore) => (await of.list({ machine: 'essay', parent_id: 'claim-1' })).map((essay) => [essay.entity_id, essay.status]);
    expect(await essays(store)).toEqual(await essays(twin.store));
    expect((await queries.entity('batch', 'claim-1'))?.status).toBe((await twin.queries.entity('batch', 'claim-1'))?.status);
    await store.close();
    await twin.store.close();
  });
});
