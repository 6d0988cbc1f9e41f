import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { batchResult, envelope, spellchecked } from '../support/envelopes.js';
import { bearer, fingerprint, makeHarness, provisionContent, readyBatch, registerBatch } from './support.js';

describe('POST /batches', () => {
  it('registers a batch owned by the principal, with server-generated batch and essay ids, and answers 201', async () => {
    const h = makeHarness();
    const res = await request(h.app).post('/batches').set(bearer('owner')).send({ essay_ids: ['mine-1', 'mine-2', 'mine-3'], course_code: 'SV1' });
    expect(res.status).toBe(201);
    expect(res.body.essay_ids).toHaveLength(3);
    expect(res.body.essay_ids).not.toContain('mine-1');
    expect(res.headers.location).toBe(`/batches/${res.body.batch_id}`);
    expect(res.body).toMatchObject({ status: 'awaiting_content_validation', result: { outcome: 'accepted' } });
    const batch = await h.queries.entity('batch', res.body.batch_id as string);
    expect(batch?.context).toMatchObject({ user_id: 'teacher-1', org_id: 'school-a', class_type: 'GUEST', expected_essay_count: 3 });
    expect((await h.queries.essaysOf(res.body.batch_id as string)).map((essay) => essay.entity_id).sort()).toEqual([...(res.body.essay_ids as string[])].sort());
  });

  it('refuses identity fields in the body with 400 naming them (user_id and org_id come from the principal)', async () => {
    const h = makeHarness();
    const res = await request(h.app).post('/batches').set(bearer('owner')).send({ expected_essay_count: 1, course_code: 'ENG5', user_id: 'someone-else' });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('INVALID_REQUEST');
    expect(JSON.stringify(res.body.details.issues)).toContain('user_id');
  });

  it('answers 400 naming the missing or wrong fields', async () => {
    const h = makeHarness();
    const missing = await request(h.app).post('/batches').set(bearer('owner')).send({ expected_essay_count: 1 });
    expect(missing.status).toBe(400);
    expect(missing.body.message).toContain('course_code');
    const mismatch = await request(h.app).post('/batches').set(bearer('owner')).send({ expected_essay_count: 2, essay_ids: ['a'], course_code: 'ENG5' });
    expect(mismatch.status).toBe(400);
    expect(mismatch.body.details.issues[0].path).toBe('essay_ids');
    const neither = await request(h.app).post('/batches').set(bearer('owner')).send({ course_code: 'ENG5' });
    expect(neither.status).toBe(400);
    expect(neither.body.details.issues[0].path).toBe('expected_essay_count');
  });

  it('uses a valid X-Correlation-ID for the envelope and replaces an invalid one', async () => {
    const h = makeHarness();
    const correlation = '6f1c2b9e-4d7a-4c3e-9b8a-1234567890ab';
    const kept = await request(h.app).post('/batches').set(bearer('owner')).set('X-Correlation-ID', correlation).send({ expected_essay_count: 1, course_code: 'ENG5' });
    expect(kept.body.correlation_id).toBe(correlation);
    const [row] = await h.queries.history('batch', kept.body.batch_id as string);
    expect(row).toMatchObject({ correlation_id: correlation, event_type: 'huleedu.batch.essays.registered.v1' });
    expect((row?.envelope as { source_service: string }).source_service).toBe('lifecycle_http');
    const replaced = await request(h.app).post('/batches').set(bearer('owner')).set('X-Correlation-ID', 'not-a-uuid').send({ expected_essay_count: 1, course_code: 'ENG5' });
    expect(replaced.body.correlation_id).not.toBe('not-a-uuid');
    expect(replaced.body.correlation_id).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('batch command routes', () => {
  it('answers 404 for a batch that does not exist, before dispatching anything', async () => {
    const h = makeHarness();
    const before = await fingerprint(h.store);
    for (const [method, path, body] of [
      ['post', '/batches/nope/pipelines', { requested_pipeline: 'nlp' }],
      ['post', '/batches/nope/student-associations/confirm', { associations: [] }],
      ['patch', '/batches/nope/prompt', { student_prompt_ref: 'p' }],
      ['post', '/batches/nope/close', {}],
      ['post', '/batches/nope/cancel', {}],
    ] as const) {
      const res = await request(h.app)[method](path).set(bearer('owner')).send(body);
      expect(res.status, path).toBe(404);
      expect(res.body.code).toBe('ENTITY_NOT_FOUND');
    }
    expect(await fingerprint(h.store)).toEqual(before);
  });

  it('answers 409 with state and accepting states when a pipeline is requested before the content is in', async () => {
    const h = makeHarness();
    const { batch_id } = await registerBatch(h);
    const res = await request(h.app).post(`/batches/${batch_id}/pipelines`).set(bearer('owner')).send({ requested_pipeline: 'nlp' });
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ code: 'EVENT_REJECTED', state: 'awaiting_content_validation', accepting_states: ['ready_for_pipeline_execution'] });
  });

  it('PATCH /prompt takes exactly one of student_prompt_ref and assignment_id', async () => {
    const h = makeHarness();
    const { batch_id } = await registerBatch(h);
    const both = await request(h.app).patch(`/batches/${batch_id}/prompt`).set(bearer('owner')).send({ student_prompt_ref: 'p', assignment_id: 'a' });
    expect(both.status).toBe(400);
    const one = await request(h.app).patch(`/batches/${batch_id}/prompt`).set(bearer('owner')).send({ assignment_id: 'assignment-7' });
    expect(one.status).toBe(200);
    expect((await h.queries.entity('batch', batch_id))?.context).toMatchObject({ assignment_id: 'assignment-7' });
  });

  it('cancel records the reason and ends the batch; close without a body ends a ready batch', async () => {
    const h = makeHarness();
    const cancelled = await registerBatch(h);
    const res = await request(h.app).post(`/batches/${cancelled.batch_id}/cancel`).set(bearer('owner')).send({ reason: 'wrong class' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ batch_id: cancelled.batch_id, status: 'cancelled' });
    const ready = await readyBatch(h);
    const closed = await request(h.app).post(`/batches/${ready.batch_id}/close`).set(bearer('owner'));
    expect(closed.status).toBe(200);
    expect(closed.body.status).toBe('completed_successfully');
  });
});

describe.each(['memory', 'sqlite'] as const)('full flows over HTTP (%s store)', (store) => {
  it('GUEST: register, content from a service, pipeline, results, and GET shows the completed run', async () => {
    const h = makeHarness({ store });
    const { batch_id, essay_ids } = await registerBatch(h, 'owner', { expected_essay_count: 2, student_prompt_ref: 'prompt-1' });
    await provisionContent(h, batch_id, 2);
    const ready = await request(h.app).get(`/batches/${batch_id}`).set(bearer('owner'));
    expect(ready.body).toMatchObject({ status: 'ready_for_pipeline_execution', client_status: 'ready', class_type: 'GUEST' });

    const started = await request(h.app).post(`/batches/${batch_id}/pipelines`).set(bearer('owner')).send({ requested_pipeline: 'nlp' });
    expect(started.status).toBe(200);
    expect(started.body.status).toBe('processing_pipelines');
    const running = await request(h.app).get(`/batches/${batch_id}`).set(bearer('owner'));
    expect(running.body).toMatchObject({ client_status: 'processing', pipeline: { requested_pipeline: 'nlp', phases: ['spellcheck', 'nlp'], current_phase: 'spellcheck' } });

    const results = [...essay_ids.map((id) => spellchecked(batch_id, id, true)), batchResult('nlp', batch_id, essay_ids)];
    for (const result of results) {
      const res = await request(h.app).post('/events').set(bearer('service')).send(result);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    }
    const done = await request(h.app).get(`/batches/${batch_id}`).set(bearer('owner'));
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({
      batch_id,
      status: 'ready_for_pipeline_execution',
      client_status: 'ready',
      course_code: 'ENG5',
      pipeline: null,
      essay_counts: { total: 2, by_status: { nlp_success: 2 } },
      phase_history: { spellcheck: 'completed_successfully', nlp: 'completed_successfully' },
      last_run: { run_id: 1, requested_pipeline: 'nlp', final_status: 'completed_successfully', successful_essay_count: 2, failed_essay_count: 0 },
    });
    expect(done.body.version).toBeGreaterThan(1);
  });

  it('REGULAR: matching suggestions from a service, then the confirm route makes the batch ready', async () => {
    const h = makeHarness({ store });
    const { batch_id, essay_ids } = await registerBatch(h, 'owner', { class_id: 'class-1' });
    await provisionContent(h, batch_id, 2);
    expect((await h.queries.entity('batch', batch_id))?.status).toBe('awaiting_student_validation');
    const suggested = envelope('huleedu.batch.author.matches.suggested.v1', {
      batch_id,
      class_id: 'class-1',
      course_code: 'ENG5',
      match_results: essay_ids.map((essay_id, index) => ({ essay_id, suggestions: [{ student_id: `student-${index}`, student_name: `Student ${index}`, confidence_score: 0.9 }] })),
    });
    expect((await request(h.app).post('/events').set(bearer('service')).send(suggested)).status).toBe(200);
    const confirm = await request(h.app)
      .post(`/batches/${batch_id}/student-associations/confirm`)
      .set(bearer('owner'))
      .send({ associations: essay_ids.map((essay_id, index) => ({ essay_id, student_id: `student-${index}`, confirmed: true })) });
    expect(confirm.status, JSON.stringify(confirm.body)).toBe(200);
    expect(confirm.body.result.entity).toEqual({ machine: 'associations', entity_id: batch_id });
    const batch = await request(h.app).get(`/batches/${batch_id}`).set(bearer('owner'));
    expect(batch.body).toMatchObject({ status: 'ready_for_pipeline_execution', class_type: 'REGULAR', class_id: 'class-1', associations: { method: 'human' } });
  });
});
