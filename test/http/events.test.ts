import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { batchResult, envelope, pipelineRequest, spellchecked } from '../support/envelopes.js';
import { bearer, fingerprint, makeHarness, pluck, rawRegistration, readyBatch } from './support.js';

describe('POST /events (one envelope)', () => {
  it('answers 200 with the dispatch result when the machine takes the event', async () => {
    const h = makeHarness();
    const res = await request(h.app).post('/events').set(bearer('owner')).send(rawRegistration('b-one', ['e-1'], { user_id: 'teacher-1', org_id: 'school-a' }));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ outcome: 'accepted', entity: { machine: 'batch', entity_id: 'b-one' }, from: null, to: 'awaiting_content_validation' });
    expect((await h.queries.entity('batch', 'b-one'))?.status).toBe('awaiting_content_validation');
  });

  it('answers 400 INVALID_ENVELOPE naming every bad field in details.issues, and writes nothing', async () => {
    const h = makeHarness();
    const before = await fingerprint(h.store);
    const bad: Record<string, unknown> = { ...rawRegistration('b-x', ['e-1'], { user_id: 'teacher-1' }), event_id: 'not-a-uuid' };
    (bad.data as Record<string, unknown>).expected_essay_count = 'three';
    const res = await request(h.app).post('/events').set(bearer('owner')).send(bad);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('INVALID_ENVELOPE');
    const paths = pluck(res.body.details.issues, 'path');
    expect(paths).toContain('event_id');
    expect(await fingerprint(h.store)).toEqual(before);
  });

  it('answers 400 naming data fields when only the payload is wrong', async () => {
    const h = makeHarness();
    const bad = rawRegistration('b-x', ['e-1'], { user_id: 'teacher-1' });
    (bad.data as Record<string, unknown>).course_code = 'LATIN9';
    const res = await request(h.app).post('/events').set(bearer('owner')).send(bad);
    expect(res.status).toBe(400);
    expect(pluck(res.body.details.issues, 'path')).toContain('data.course_code');
  });

  it('answers 422 UNKNOWN_EVENT_TYPE for an event type no contract defines', async () => {
    const h = makeHarness();
    const res = await request(h.app).post('/events').set(bearer('service')).send(envelope('huleedu.nothing.v9', {}));
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({ code: 'UNKNOWN_EVENT_TYPE', details: { issues: [{ path: 'event_type' }] } });
  });

  it('answers 404 ENTITY_NOT_FOUND for an event addressed to a batch that does not exist', async () => {
    const h = makeHarness();
    const before = await fingerprint(h.store);
    const res = await request(h.app).post('/events').set(bearer('service')).send(pipelineRequest('no-such-batch', 'nlp', { user_id: 'svc-pipeline' }));
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ code: 'ENTITY_NOT_FOUND', details: { machine: 'batch', entity_id: 'no-such-batch' } });
    expect(await fingerprint(h.store)).toEqual(before);
  });

  it('answers 409 EVENT_REJECTED with the state and the accepting states when the machine refuses', async () => {
    const h = makeHarness();
    await request(h.app).post('/events').set(bearer('owner')).send(rawRegistration('b-409', ['e-1'], { user_id: 'teacher-1', org_id: 'school-a' }));
    const res = await request(h.app).post('/events').set(bearer('owner')).send(pipelineRequest('b-409', 'nlp'));
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ code: 'EVENT_REJECTED', state: 'awaiting_content_validation', accepting_states: ['ready_for_pipeline_execution'] });
    expect(res.body.accepting_states).toEqual(res.body.details.accepting_states);
    expect(res.body.result).toMatchObject({ outcome: 'refused', from: 'awaiting_content_validation' });
  });

  it('answers a redelivered event with its first outcome and status, marked duplicate, and writes nothing more', async () => {
    const h = makeHarness();
    const first = rawRegistration('b-dup', ['e-1'], { user_id: 'teacher-1', org_id: 'school-a' });
    expect((await request(h.app).post('/events').set(bearer('owner')).send(first)).status).toBe(200);
    const after = await fingerprint(h.store);
    const again = await request(h.app).post('/events').set(bearer('owner')).send(first);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ outcome: 'duplicate', first_outcome: 'accepted', entity: { entity_id: 'b-dup' } });
    expect(await fingerprint(h.store)).toEqual(after);

    const refused = pipelineRequest('b-dup', 'nlp');
    expect((await request(h.app).post('/events').set(bearer('owner')).send(refused)).status).toBe(409);
    const twice = await request(h.app).post('/events').set(bearer('owner')).send(refused);
    expect(twice.status).toBe(409);
    expect(twice.body.result).toMatchObject({ outcome: 'duplicate', first_outcome: 'refused' });
    expect(twice.body.state).toBe('awaiting_content_validation');
  });

  it('refuses a top-level JSON array with 400 (one envelope or { events } only)', async () => {
    const h = makeHarness();
    const res = await request(h.app).post('/events').set(bearer('service')).send([rawRegistration('b', ['e'], { user_id: 'u' })]);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('INVALID_ENVELOPE');
  });
});

describe('POST /events (a group)', () => {
  it('commits the valid items together and answers per item, invalid ones carrying their error at their index', async () => {
    const h = makeHarness();
    const { batch_id, essay_ids } = await readyBatch(h);
    const request1 = pipelineRequest(batch_id, 'nlp', { user_id: 'svc-pipeline' });
    const unknown = envelope('huleedu.unknown.v1', {});
    const broken = { ...spellchecked(batch_id, essay_ids[0]!, true), correlation_id: 42 };
    const missing = batchResult('nlp', 'no-such-batch', []);
    const res = await request(h.app).post('/events').set(bearer('service')).send({ events: [request1, unknown, broken, missing] });
    expect(res.status).toBe(200);
    expect(res.body.summary).toEqual({ accepted: 1, refused: 0, duplicate: 0, invalid: 3, deferred: 0 });
    expect(res.body.results[0]).toMatchObject({ outcome: 'accepted', to: 'processing_pipelines' });
    expect(res.body.results[1]).toMatchObject({ outcome: 'invalid', index: 1, code: 'UNKNOWN_EVENT_TYPE' });
    expect(res.body.results[2]).toMatchObject({ outcome: 'invalid', index: 2, code: 'INVALID_ENVELOPE' });
    expect(pluck(res.body.results[2].details.issues, 'path')).toContain('correlation_id');
    expect(res.body.results[3]).toMatchObject({ outcome: 'invalid', index: 3 });
  });

  it('lets later items of a group address a batch registered by an earlier item', async () => {
    const h = makeHarness();
    const events = [rawRegistration('b-group', ['e-g1'], { user_id: 'teacher-1', org_id: 'school-a' }), envelope('huleedu.batch.cancel.requested.v1', { batch_id: 'b-group', user_id: 'teacher-1' })];
    const res = await request(h.app).post('/events').set(bearer('owner')).send({ events });
    expect(res.status).toBe(200);
    expect(pluck(res.body.results, 'outcome')).toEqual(['accepted', 'accepted']);
    expect((await h.queries.entity('batch', 'b-group'))?.status).toBe('cancelled');
  });

  it('answers 400 INVALID_REQUEST when the wrapper itself is malformed', async () => {
    const h = makeHarness();
    for (const body of [{ events: 'nope' }, { events: [] }, { events: [{}], extra: 1 }]) {
      const res = await request(h.app).post('/events').set(bearer('service')).send(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.code).toBe('INVALID_REQUEST');
    }
  });

  it('answers 413 LIMIT_EXCEEDED when the group has more events than allowed, and dispatches none', async () => {
    const h = makeHarness({ limits: { eventsPerRequest: 3 } });
    const before = await fingerprint(h.store);
    const events = Array.from({ length: 4 }, (_, index) => rawRegistration(`b-many-${index}`, ['e'], { user_id: 'svc-pipeline' }));
    const res = await request(h.app).post('/events').set(bearer('service')).send({ events });
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ code: 'LIMIT_EXCEEDED', details: { limit: 'events_per_request', max_events: 3, events: 4 } });
    expect(res.body.message).toContain('at most 3 events');
    expect(await fingerprint(h.store)).toEqual(before);
  });
});
