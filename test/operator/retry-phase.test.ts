/**
 * Retry-phase (issue #15): an operator (or the batch's owner) re-runs a failed phase for the
 * essays that failed it, over HTTP and through the library; the retry run has its own run id,
 * takes the essays through the phases they missed and ends with a completion that counts them.
 */
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { envelope as typedEnvelope } from '../../machines/contracts/index.js';
import { bearer, fingerprint, makeHarness, provisionContent, registerBatch, type Harness } from '../http/support.js';
import { batchResult, spellchecked } from '../support/envelopes.js';

const SERVICE = bearer('service');

async function completions(h: Harness, batchId: string): Promise<Array<Record<string, unknown>>> {
  const rows = await h.store.pendingOutbox(1000);
  return rows
    .filter((row) => row.event_type === 'huleedu.batch.pipeline.completed.v1')
    .map((row) => (row.envelope as { data: Record<string, unknown> }).data)
    .filter((data) => data.batch_id === batchId);
}

async function post(h: Harness, body: Record<string, unknown>): Promise<void> {
  const res = await request(h.app).post('/events').set(SERVICE).send(body);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

async function status(h: Harness, machine: string, id: string): Promise<string | undefined> {
  return (await h.queries.entity(machine, id))?.status;
}

/**
 * A GUEST batch of three essays that ran `nlp`: e1 and e2 reached nlp_success, e3 failed
 * spellcheck (so it missed nlp).
 */
async function batchWithFailedSpellcheck(h: Harness): Promise<{ batch_id: string; essays: string[] }> {
  const { batch_id, essay_ids } = await registerBatch(h, 'owner', { expected_essay_count: 3 });
  await provisionContent(h, batch_id, 3);
  const [e1, e2, e3] = essay_ids as [string, string, string];
  const started = await request(h.app).post(`/batches/${batch_id}/pipelines`).set(bearer('owner')).send({ requested_pipeline: 'nlp' });
  expect(started.status, JSON.stringify(started.body)).toBe(200);
  await post(h, spellchecked(batch_id, e1, true));
  await post(h, spellchecked(batch_id, e2, true));
  await post(h, spellchecked(batch_id, e3, false));
  await post(h, batchResult('nlp', batch_id, [e1, e2]));
  expect(await status(h, 'batch', batch_id)).toBe('ready_for_pipeline_execution');
  expect(await status(h, 'essay', e3)).toBe('spellcheck_failed');
  return { batch_id, essays: essay_ids };
}

describe('POST /batches/:id/retry-phase', () => {
  it.each(['memory', 'sqlite'] as const)('retries the essays that failed spellcheck through the phases they missed, to nlp_success, with a second run and real counts (%s store)', async (store) => {
    const h = makeHarness({ store });
    const { batch_id, essays } = await batchWithFailedSpellcheck(h);
    const [e1, , e3] = essays as [string, string, string];

    const res = await request(h.app).post(`/batches/${batch_id}/retry-phase`).set(bearer('owner')).send({ phase_name: 'spellcheck', reason: 'spellchecker outage 10:00-10:40' });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ batch_id, status: 'processing_pipelines' });
    expect(await status(h, 'essay', e3)).toBe('spellchecking_in_progress');
    expect(await status(h, 'essay', e1)).toBe('nlp_success');

    await post(h, spellchecked(batch_id, e3, true));
    expect(await status(h, 'essay', e3)).toBe('nlp_processing_in_progress');
    await post(h, batchResult('nlp', batch_id, [e3]));

    expect(await status(h, 'essay', e3)).toBe('nlp_success');
    expect(await status(h, 'batch', batch_id)).toBe('ready_for_pipeline_execution');
    const [first, retry] = await completions(h, batch_id);
    expect(first).toMatchObject({ run_id: 1, requested_pipeline: 'nlp', final_status: 'completed_with_failures', successful_essay_count: 2, failed_essay_count: 1 });
    expect(retry).toMatchObject({
      run_id: 2,
      requested_pipeline: 'retry-phase:spellcheck',
      completed_phases: ['spellcheck', 'nlp'],
      final_status: 'completed_successfully',
      successful_essay_count: 1,
      failed_essay_count: 0,
      metadata: { is_retry: true, retried_phase: 'spellcheck', retry_reason: 'spellchecker outage 10:00-10:40' },
    });

    const history = await h.queries.history('essay', e3);
    expect(history.map((row) => `${row.from_status}->${row.to_status}`)).toContain('spellcheck_failed->awaiting_spellcheck');
    const retryRow = history.find((row) => row.from_status === 'spellcheck_failed' && row.to_status === 'awaiting_spellcheck');
    expect(retryRow?.envelope).toMatchObject({ data: { trigger: 'CMD_RETRY_SPELLCHECK', run_id: 2 } });
    const batchRow = (await h.queries.history('batch', batch_id)).find((row) => row.event_type === 'huleedu.commands.batch.phase.retry.v1');
    expect(batchRow).toMatchObject({ outcome: 'accepted', from_status: 'ready_for_pipeline_execution', to_status: 'processing_pipelines' });
    expect(batchRow?.envelope).toMatchObject({ data: { phase_name: 'spellcheck', reason: 'spellchecker outage 10:00-10:40', user_id: 'teacher-1' } });

    // Nothing failed any more: the batch closes as a success.
    const closed = await request(h.app).post(`/batches/${batch_id}/close`).set(bearer('owner')).send({});
    expect(closed.body).toMatchObject({ status: 'completed_successfully' });
  });

  it('an essay that fails its retry again is failed again, and the retry run counts it as failed', async () => {
    const h = makeHarness();
    const { batch_id, essays } = await batchWithFailedSpellcheck(h);
    const e3 = essays[2]!;
    await request(h.app).post(`/batches/${batch_id}/retry-phase`).set(bearer('admin')).send({ phase_name: 'spellcheck', essay_ids: [e3], reason: 'second try' }).expect(200);
    await post(h, spellchecked(batch_id, e3, false));
    expect(await status(h, 'essay', e3)).toBe('spellcheck_failed');
    expect((await completions(h, batch_id))[1]).toMatchObject({ run_id: 2, final_status: 'failed_critically', successful_essay_count: 0, failed_essay_count: 1 });
    // It can be retried again.
    await request(h.app).post(`/batches/${batch_id}/retry-phase`).set(bearer('owner')).send({ phase_name: 'spellcheck', reason: 'third try' }).expect(200);
  });

  it('answers 409 naming the reason when nothing failed the phase, and changes no entity and sends nothing', async () => {
    const h = makeHarness();
    const { batch_id } = await batchWithFailedSpellcheck(h);
    const outbox = await h.store.outboxCount();
    const before = await h.queries.entity('batch', batch_id);
    const res = await request(h.app).post(`/batches/${batch_id}/retry-phase`).set(bearer('owner')).send({ phase_name: 'nlp', reason: 'nothing to do' });
    expect(res.status).toBe(409);
    expect(JSON.stringify(res.body)).toContain('nothing to retry: no essay of this batch failed nlp');
    expect(await h.queries.entity('batch', batch_id)).toEqual(before);
    expect(await h.store.outboxCount()).toBe(outbox);
  });

  it('answers 409 naming an essay of the subset that did not fail the phase', async () => {
    const h = makeHarness();
    const { batch_id, essays } = await batchWithFailedSpellcheck(h);
    const res = await request(h.app).post(`/batches/${batch_id}/retry-phase`).set(bearer('owner')).send({ phase_name: 'spellcheck', essay_ids: [essays[2], essays[0]], reason: 'x' });
    expect(res.status).toBe(409);
    expect(JSON.stringify(res.body)).toContain(`\\"${essays[0]}\\" did not`);
    expect(await status(h, 'essay', essays[2]!)).toBe('spellcheck_failed');
  });

  it('answers 409 while the batch is busy with a run, naming the state that accepts a retry', async () => {
    const h = makeHarness();
    const { batch_id, essay_ids } = await registerBatch(h, 'owner', { expected_essay_count: 2 });
    await provisionContent(h, batch_id, 2);
    await request(h.app).post(`/batches/${batch_id}/pipelines`).set(bearer('owner')).send({ requested_pipeline: 'nlp' }).expect(200);
    await post(h, spellchecked(batch_id, essay_ids[0]!, false));
    const res = await request(h.app).post(`/batches/${batch_id}/retry-phase`).set(bearer('owner')).send({ phase_name: 'spellcheck', reason: 'too early' });
    expect(res.status).toBe(409);
    expect(JSON.stringify(res.body)).toContain('is not accepted in state \\"processing_pipelines\\" (accepted in: ready_for_pipeline_execution)');
  });

  it.each([
    ['an essay subset for cj_assessment', { phase_name: 'cj_assessment', essay_ids: ['e1'], reason: 'x' }, 'CJ compares essays with each other'],
    ['an unknown phase', { phase_name: 'grammar', reason: 'x' }, 'phase_name'],
    ['no reason', { phase_name: 'spellcheck' }, 'reason'],
    ['a blank reason', { phase_name: 'spellcheck', reason: '   ' }, 'reason'],
    ['an essay named twice', { phase_name: 'spellcheck', essay_ids: ['e1', 'e1'], reason: 'x' }, 'names an essay twice'],
    ['an unknown field', { phase_name: 'spellcheck', reason: 'x', user_id: 'someone-else' }, 'user_id'],
  ])('answers 400 for %s, naming the field, and writes nothing', async (_name, body, named) => {
    const h = makeHarness();
    const { batch_id } = await batchWithFailedSpellcheck(h);
    const before = await fingerprint(h.store);
    const res = await request(h.app).post(`/batches/${batch_id}/retry-phase`).set(bearer('owner')).send(body);
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(JSON.stringify(res.body)).toContain(named);
    expect(await fingerprint(h.store)).toEqual(before);
  });

  it('answers 404 for an unknown batch and 403 for a teacher who does not own the batch, writing nothing', async () => {
    const h = makeHarness();
    const { batch_id } = await batchWithFailedSpellcheck(h);
    const before = await fingerprint(h.store);
    const body = { phase_name: 'spellcheck', reason: 'x' };
    expect((await request(h.app).post('/batches/no-such-batch/retry-phase').set(bearer('owner')).send(body)).status).toBe(404);
    expect((await request(h.app).post(`/batches/${batch_id}/retry-phase`).set(bearer('other')).send(body)).status).toBe(403);
    expect((await request(h.app).post(`/batches/${batch_id}/retry-phase`).send(body)).status).toBe(401);
    expect(await fingerprint(h.store)).toEqual(before);
  });
});

describe('retry-phase through the library', () => {
  it('engine.dispatch of a typed huleedu.commands.batch.phase.retry.v1 envelope retries to nlp_success; a redelivery answers duplicate', async () => {
    const h = makeHarness();
    const { batch_id, essays } = await batchWithFailedSpellcheck(h);
    const retry = typedEnvelope('huleedu.commands.batch.phase.retry.v1', { batch_id, phase_name: 'spellcheck', essay_ids: [essays[2]!], reason: 'library retry', user_id: 'ops-1' });
    expect(await h.engine.dispatch(retry)).toMatchObject({ outcome: 'accepted', from: 'ready_for_pipeline_execution', to: 'processing_pipelines' });
    expect(await h.engine.dispatch(retry)).toMatchObject({ outcome: 'duplicate', first_outcome: 'accepted' });
    expect(await status(h, 'essay', essays[2]!)).toBe('spellchecking_in_progress');
    expect(await h.engine.dispatch(spellchecked(batch_id, essays[2]!, true))).toMatchObject({ outcome: 'accepted' });
    expect(await h.engine.dispatch(batchResult('nlp', batch_id, [essays[2]!]))).toMatchObject({ outcome: 'accepted' });
    expect(await status(h, 'essay', essays[2]!)).toBe('nlp_success');
    expect((await completions(h, batch_id)).map((done) => [done.run_id, done.successful_essay_count, done.failed_essay_count])).toEqual([
      [1, 2, 1],
      [2, 1, 0],
    ]);
  });
});
