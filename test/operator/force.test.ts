import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { forceTargets } from '../../adapters/engine/force-rules.js';
import { FORCE_EVENT_TYPE } from '../../adapters/engine/force.js';
import { isLifecycleError } from '../../adapters/errors.js';
import { associationsLifecycle } from '../../machines/associations.js';
import { batchTrackerLifecycle } from '../../machines/batch-tracker.js';
import { essayLifecycle } from '../../machines/essay.js';
import { bearer, fingerprint, makeHarness, PRINCIPALS, readyBatch, type Harness } from '../http/support.js';
import { envelope } from '../support/envelopes.js';

const ADMIN = { user_id: PRINCIPALS.admin.user_id, roles: ['admin'], kind: 'user' } as const;

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to be refused');
}

/** A pending association record of `batchId` (its 24 h timer armed). */
async function pendingAssociations(h: Harness, batchId: string): Promise<void> {
  const suggested = await h.engine.dispatch(
    envelope('huleedu.batch.author.matches.suggested.v1', {
      batch_id: batchId,
      class_id: 'class-1',
      course_code: 'ENG5',
      match_results: [{ essay_id: 'e1', text_storage_id: 'text-e1', suggestions: [{ student_id: 's1', student_name: 'S', confidence_score: 0.9, match_reasons: [] }] }],
    }),
  );
  expect(suggested).toMatchObject({ outcome: 'accepted', to: 'pending_validation' });
}

describe('LifecycleEngine.force', () => {
  it('moves an essay to the named state, records reason and principal in the audit row, and emits nothing', async () => {
    const h = makeHarness();
    const { essay_ids } = await readyBatch(h);
    const essayId = essay_ids[0]!;
    const outboxBefore = await h.store.outboxCount();
    const before = await h.queries.entity('essay', essayId);

    const result = await h.engine.force({ machine: 'essay', entity_id: essayId, to: 'spellchecked_success', reason: 'spellchecker outage; checked by hand', by: ADMIN });

    expect(result).toMatchObject({ outcome: 'accepted', event_type: FORCE_EVENT_TYPE, from: 'ready_for_processing', to: 'spellchecked_success', emitted: [] });
    const after = await h.queries.entity('essay', essayId);
    expect(after).toMatchObject({ status: 'spellchecked_success', version: (before?.version ?? 0) + 1, context: before?.context });
    expect(await h.store.outboxCount()).toBe(outboxBefore);
    const last = (await h.queries.history('essay', essayId)).at(-1);
    expect(last).toMatchObject({
      event_id: result.event_id,
      event_type: FORCE_EVENT_TYPE,
      from_status: 'ready_for_processing',
      to_status: 'spellchecked_success',
      outcome: 'accepted',
      reason: 'spellchecker outage; checked by hand',
      envelope: { data: { principal: ADMIN, reason: 'spellchecker outage; checked by hand', from: 'ready_for_processing', to: 'spellchecked_success' } },
    });
  });

  it('answers duplicate for the same event_id and applies the move once', async () => {
    const h = makeHarness();
    const { essay_ids } = await readyBatch(h);
    const call = { machine: 'essay', entity_id: essay_ids[0]!, to: 'spellcheck_failed', reason: 'poison text', by: ADMIN, event_id: 'force-once' };
    expect(await h.engine.force(call)).toMatchObject({ outcome: 'accepted' });
    expect(await h.engine.force(call)).toMatchObject({ outcome: 'duplicate', first_outcome: 'accepted', to: 'spellcheck_failed' });
    const forced = (await h.queries.history('essay', essay_ids[0]!)).filter((row) => row.event_type === FORCE_EVENT_TYPE);
    expect(forced).toHaveLength(1);
  });

  it('refuses a state the machine does not have, naming its states, and writes nothing', async () => {
    const h = makeHarness();
    const { essay_ids } = await readyBatch(h);
    const before = await fingerprint(h.store);
    const error = await rejection(h.engine.force({ machine: 'essay', entity_id: essay_ids[0]!, to: 'spellchecked', reason: 'typo', by: ADMIN }));
    expect(isLifecycleError(error, 'UNKNOWN_STATE')).toBe(true);
    expect((error as Error).message).toContain('spellchecked_success');
    expect(await fingerprint(h.store)).toEqual(before);
  });

  it('refuses to leave a final state and to enter a state whose way in it would skip', async () => {
    const h = makeHarness();
    const { batch_id } = await readyBatch(h);
    const entry = await rejection(h.engine.force({ machine: 'batch_tracker', entity_id: batch_id, to: 'awaiting_content', reason: 'recount', by: ADMIN }));
    expect(isLifecycleError(entry, 'FORCE_REFUSED') && entry.message).toContain('always');
    await h.engine.force({ machine: 'batch', entity_id: batch_id, to: 'cancelled', reason: 'stuck batch', by: ADMIN });
    const reopen = await rejection(h.engine.force({ machine: 'batch', entity_id: batch_id, to: 'ready_for_pipeline_execution', reason: 'undo', by: ADMIN }));
    expect(isLifecycleError(reopen, 'FORCE_REFUSED') && reopen.message).toContain('final');
    const same = await rejection(h.engine.force({ machine: 'essay', entity_id: 'missing', to: 'uploaded', reason: 'x', by: ADMIN }));
    expect(isLifecycleError(same, 'ENTITY_NOT_FOUND')).toBe(true);
  });

  it('cancels the timers of the delayed transitions of the state it leaves', async () => {
    const h = makeHarness();
    await pendingAssociations(h, 'batch-timer');
    expect(await h.store.nextTimerDue()).toBeDefined();
    await h.engine.force({ machine: 'associations', entity_id: 'batch-timer', to: 'timeout_confirmed', reason: 'timeout lost', by: ADMIN });
    expect(await h.store.nextTimerDue()).toBeUndefined();
  });

  it('rejects a malformed request with INVALID_ARGUMENT naming the fields', async () => {
    const h = makeHarness();
    const error = await rejection(h.engine.force({ machine: 'essay', entity_id: 'e', to: 'uploaded', reason: '  ', by: ADMIN }));
    expect(isLifecycleError(error, 'INVALID_ARGUMENT') && error.message).toContain('reason');
  });
});

describe('forceTargets', () => {
  it('refuses exactly the states whose way in runs something, derived from each definition', () => {
    const refusedOf = (targets: ReturnType<typeof forceTargets>) => targets.filter((target) => target.refused !== null).map((target) => target.state);
    expect(refusedOf(forceTargets(essayLifecycle))).toEqual([]);
    expect(refusedOf(forceTargets(associationsLifecycle))).toEqual(['pending_validation']);
    expect(refusedOf(forceTargets(batchTrackerLifecycle))).toEqual(['awaiting_content']);
  });
});

describe('POST /entities/:machine/:id/force', () => {
  it('lets an admin force a transition and shows it in the history with reason and principal', async () => {
    const h = makeHarness();
    const { essay_ids } = await readyBatch(h);
    const res = await request(h.app).post(`/entities/essay/${essay_ids[0]}/force`).set(bearer('admin')).send({ to: 'spellcheck_failed', reason: 'poison text' });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ outcome: 'accepted', to: 'spellcheck_failed' });
    const history = await request(h.app).get(`/entities/essay/${essay_ids[0]}/history`).set(bearer('admin'));
    const rows = (history.body as { rows: unknown[] }).rows;
    expect(rows.at(-1)).toMatchObject({ reason: 'poison text', envelope: { data: { principal: { user_id: PRINCIPALS.admin.user_id, roles: ['admin'] } } } });
  });

  it('answers 403 to the batch owner who is not an admin, and changes nothing', async () => {
    const h = makeHarness();
    const { essay_ids } = await readyBatch(h);
    const before = await fingerprint(h.store);
    const res = await request(h.app).post(`/entities/essay/${essay_ids[0]}/force`).set(bearer('owner')).send({ to: 'spellcheck_failed', reason: 'mine' });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ code: 'FORBIDDEN' });
    expect(await fingerprint(h.store)).toEqual(before);
  });

  it('answers 400 UNKNOWN_STATE, 409 FORCE_REFUSED and 400 for a body without a reason', async () => {
    const h = makeHarness();
    const { batch_id, essay_ids } = await readyBatch(h);
    const unknown = await request(h.app).post(`/entities/essay/${essay_ids[0]}/force`).set(bearer('admin')).send({ to: 'nowhere', reason: 'x' });
    expect([unknown.status, unknown.body.code]).toEqual([400, 'UNKNOWN_STATE']);
    const refused = await request(h.app).post(`/entities/batch_tracker/${batch_id}/force`).set(bearer('admin')).send({ to: 'awaiting_content', reason: 'x' });
    expect([refused.status, refused.body.code]).toEqual([409, 'FORCE_REFUSED']);
    const noReason = await request(h.app).post(`/entities/essay/${essay_ids[0]}/force`).set(bearer('admin')).send({ to: 'spellcheck_failed' });
    expect([noReason.status, noReason.body.code]).toEqual([400, 'INVALID_REQUEST']);
  });
});
