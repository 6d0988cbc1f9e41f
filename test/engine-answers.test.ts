import { describe, expect, it } from 'vitest';
import { LifecycleEngine } from '../adapters/engine/engine.js';
import { duplicateAnswer, type DispatchResult } from '../adapters/engine/results.js';
import { createMemoryStore } from '../adapters/memory/index.js';
import { envelope, registration } from './support/envelopes.js';

const close = (batchId: string) => envelope('huleedu.batch.close.requested.v1', { batch_id: batchId, user_id: 'teacher-1' });

describe('stored first answers', () => {
  it('the inbox keeps only what the duplicate answer cannot derive, and a duplicate answers the first outcome in full', async () => {
    const store = createMemoryStore();
    const engine = new LifecycleEngine({ store });
    const first = await engine.dispatch(registration('batch-1', ['essay-1', 'essay-2']));
    const refusal = close('batch-1');
    const refused = await engine.dispatch(refusal);
    const kept = await store.findInbox([first.event_id, refusal.event_id as string]);
    expect(Object.keys(kept.get(first.event_id) as object).sort()).toEqual(['deliveries', 'emitted', 'steps']);
    const again = await engine.dispatch(refusal);
    const { outcome: _o, steps: _s, ...rest } = refused;
    expect(again).toEqual({ ...rest, outcome: 'duplicate', first_outcome: 'refused', steps: 0 });
    const { outcome: _o2, steps: _s2, ...firstRest } = first;
    expect(duplicateAnswer(first, kept.get(first.event_id))).toEqual({ ...firstRest, outcome: 'duplicate', first_outcome: 'accepted', steps: 0 });
    expect(firstRest.emitted.length).toBeGreaterThan(0);
  });

  it('a whole answer stored by an earlier release and an internal message marker answer duplicates the same way', async () => {
    const engine = new LifecycleEngine({ store: createMemoryStore() });
    const first: DispatchResult = await engine.dispatch(registration('batch-2', ['essay-1']));
    const legacy = JSON.parse(JSON.stringify(first)) as unknown;
    const { outcome: _o, steps: _s, ...rest } = first;
    expect(duplicateAnswer(first, legacy)).toEqual({ ...rest, outcome: 'duplicate', first_outcome: 'accepted', steps: 0 });
    expect(duplicateAnswer({ event_id: 'e', event_type: 't' }, { outcome: 'refused', internal: true })).toMatchObject({
      outcome: 'duplicate', first_outcome: 'refused', entity: null, deliveries: [], emitted: [], steps: 0,
    });
  });
});
