import { describe, expect, it } from 'vitest';
import { LifecycleEngine } from '../adapters/engine/engine.js';
import { isLifecycleError } from '../adapters/errors.js';
import { createMemoryStore } from '../adapters/memory/store.js';
import type { CommitBatch, EntityWrite, Json } from '../adapters/store.js';
import { describeSnapshotStore } from './contract/snapshot-store-contract.js';
import * as E from './support/envelopes.js';

const FIXED = new Date('2031-05-06T07:08:09.010Z');

const batch = (parts: Partial<CommitBatch> = {}): CommitBatch => ({
  entities: [], audit: [], outbox: [], inbox: [], timersSet: [], timersCancelled: [], timersFired: [], ...parts,
});
const entity = (entity_id: string, over: Partial<EntityWrite> = {}): EntityWrite => ({
  machine: 'essay', entity_id, parent_id: 'b1', expected_version: 0, machine_version: 1, status: 'pending', snapshot: { n: 1 }, ...over,
});

describeSnapshotStore('memory with a fixed clock', () => {
  const store = createMemoryStore({ now: () => FIXED });
  return Promise.resolve({ store, close: () => store.close() });
});

describeSnapshotStore('memory with the real clock', () => {
  const store = createMemoryStore();
  return Promise.resolve({ store, close: () => store.close() });
});

describe('MemoryStore specifics', () => {
  it('reports kind memory and stamps every row with the injected clock', async () => {
    const store = createMemoryStore({ now: () => FIXED });
    expect(store.kind).toBe('memory');
    const { committedAt } = await store.commit(batch({ entities: [entity('e1')] }));
    expect(committedAt).toBe(FIXED.toISOString());
    expect(await store.load('essay', 'e1')).toMatchObject({ created_at: FIXED.toISOString(), updated_at: FIXED.toISOString() });
  });

  it('isolates stored JSON: mutating what was written or what was read never changes the stored row', async () => {
    const store = createMemoryStore();
    const snapshot = { value: 'pending', context: { list: [1, 2] } };
    const envelope = { event_id: 'o1', data: { n: 1 } };
    await store.commit(batch({
      entities: [entity('e1', { snapshot })],
      outbox: [{ event_id: 'o1', event_type: 't', aggregate_id: 'b1', envelope, internal: false }],
      inbox: [{ event_id: 'i1', event_type: 't', result: { ok: true } }],
    }));
    snapshot.context.list.push(3);
    envelope.data.n = 2;
    const read = await store.load('essay', 'e1');
    (read!.snapshot as { context: { list: number[] } }).context.list.push(4);
    const [row] = await store.pendingOutbox(10);
    (row!.envelope as { data: { n: number } }).data.n = 3;
    (await store.findInbox(['i1'])).set('i1', 'changed');
    expect((await store.load('essay', 'e1'))?.snapshot).toEqual({ value: 'pending', context: { list: [1, 2] } });
    expect((await store.pendingOutbox(10))[0]?.envelope).toEqual({ event_id: 'o1', data: { n: 1 } });
    expect((await store.findInbox(['i1'])).get('i1')).toEqual({ ok: true });
  });

  it('normalizes written values the way a SQL store does (JSON round trip): undefined keys vanish, Dates become strings', async () => {
    const store = createMemoryStore();
    const snapshot = { a: undefined, d: new Date(FIXED), n: Number.NaN } as unknown as Json;
    await store.commit(batch({ entities: [entity('e1', { snapshot })] }));
    expect((await store.load('essay', 'e1'))?.snapshot).toStrictEqual({ d: FIXED.toISOString(), n: null });
  });

  it('a value that is not JSON fails the commit with STORE_FAILURE and writes nothing', async () => {
    const store = createMemoryStore();
    const bad = batch({ entities: [entity('e1')], inbox: [{ event_id: 'i1', event_type: 't', result: { big: 1n } as unknown as Json }] });
    await expect(store.commit(bad)).rejects.toMatchObject({ code: 'STORE_FAILURE' });
    expect(await store.load('essay', 'e1')).toBeUndefined();
    expect((await store.findInbox(['i1'])).size).toBe(0);
  });

  it('orders text by code point like SQLite BINARY collation (an astral character sorts after U+FFFD)', async () => {
    const store = createMemoryStore({ now: () => FIXED });
    await store.commit(batch({ entities: [entity('\u{1F600}'), entity('\uFFFD'), entity('z')] }));
    expect((await store.list({ machine: 'essay' })).map((r) => r.entity_id)).toEqual(['z', '\uFFFD', '\u{1F600}']);
  });

  it('two engines sharing one store: concurrent dispatches to one batch lose a compare-and-set, retry, and both land', async () => {
    const store = createMemoryStore();
    const commit = store.commit.bind(store);
    let conflicts = 0;
    store.commit = async (b) => {
      try {
        return await commit(b);
      } catch (error) {
        if (isLifecycleError(error, 'VERSION_CONFLICT')) conflicts += 1;
        throw error;
      }
    };
    const first = new LifecycleEngine({ store });
    const second = new LifecycleEngine({ store });
    await first.dispatch(E.registration('b1', ['e1', 'e2']));
    const answers = await Promise.all([first.dispatch(E.content('b1', 't1')), second.dispatch(E.content('b1', 't2'))]);
    expect(answers.map((a) => a.outcome)).toEqual(['accepted', 'accepted']);
    expect(conflicts).toBeGreaterThanOrEqual(1);
    expect(await store.countByStatus()).toEqual([
      { machine: 'batch', status: 'ready_for_pipeline_execution', count: 1 },
      { machine: 'batch_tracker', status: 'content_provisioned', count: 1 },
      { machine: 'essay', status: 'ready_for_processing', count: 2 },
    ]);
  });
});
