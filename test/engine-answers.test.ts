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

describe('audit versions', () => {
  it('an accepted row carries the version its commit gave the entity; a refusal carries none', async () => {
    const store = createMemoryStore();
    const engine = new LifecycleEngine({ store });
    await engine.dispatch(registration('batch-v', ['essay-1', 'essay-2']));
    await engine.dispatch(close('batch-v'));
    const prompt = await engine.dispatch(envelope('huleedu.batch.prompt.attached.v1', { batch_id: 'batch-v', user_id: 'teacher-1', student_prompt_ref: 'p-2' }));
    expect(prompt.outcome).toBe('accepted');
    expect((await store.load('batch', 'batch-v'))?.version).toBe(2);
    const rows = await store.auditSince(0, 1000);
    const accepted = rows.filter((row) => row.outcome === 'accepted');
    expect(accepted.length).toBeGreaterThan(2);
    // The registration created every entity (version 1, whatever the cascade did to them); the prompt made the batch 2.
    expect(accepted.filter((row) => row.event_type !== prompt.event_type).map((row) => row.entity_version)).toEqual(accepted.slice(0, -1).map(() => 1));
    expect(accepted.at(-1)).toMatchObject({ event_type: prompt.event_type, machine: 'batch', entity_version: 2 });
    const refused = rows.filter((row) => row.outcome === 'refused');
    expect(refused.map((row) => [row.event_type, row.entity_version])).toEqual([['huleedu.batch.close.requested.v1', null]]);
  });
});
