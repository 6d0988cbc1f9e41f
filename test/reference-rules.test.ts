/**
 * Behaviour found by testing against the reference's rules (issue #14): an empty ready list is
 * invalid input, and a partial refusal (the event taken, one of its deliveries refused) is
 * visible to HTTP clients and queue workers. The association rules are in associations-machine.test.ts.
 */
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { LifecycleEngine } from '../adapters/engine/index.js';
import { createMemoryStore } from '../adapters/memory/index.js';
import { EmbeddedQueue } from '../adapters/queue/embedded.js';
import { content, envelope, registration } from './support/envelopes.js';
import { bearer, fingerprint, makeHarness, pluck } from './http/support.js';
import { fixedClock, memoryLogger, sqliteEngine } from './queue/support.js';

const B = 'b-partial';

/** A REGULAR batch with two essay slots, one of them still waiting for content. */
const halfProvisioned = (): Record<string, unknown>[] => [registration(B, ['p1', 'p2'], { class_id: 'class-p' }), content(B, 'text-p1')];

/** StudentAssociationsConfirmedV1 (by a person) for the batch. */
const confirmation = (): Record<string, unknown> =>
  envelope('huleedu.class.student.associations.confirmed.v1', {
    batch_id: B,
    class_id: 'class-p',
    course_code: 'ENG5',
    associations: [],
    timeout_triggered: false,
    validation_summary: { total_associations: 0, confirmed: 0, rejected: 0 },
  });

describe('BatchEssaysReady with an empty ready_essays list', () => {
  it('is invalid input: 400 INVALID_ENVELOPE naming data.ready_essays, and nothing is written', async () => {
    const h = makeHarness();
    for (const raw of halfProvisioned()) await h.engine.dispatch(raw);
    const before = await fingerprint(h.store);
    const empty = envelope('huleedu.els.batch.essays.ready.v1', {
      batch_id: B, ready_essays: [], course_code: 'ENG5', course_language: 'en', class_type: 'REGULAR',
    });
    const res = await request(h.app).post('/events').set(bearer('service')).send(empty);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('INVALID_ENVELOPE');
    expect(pluck(res.body.details.issues, 'path')).toContain('data.ready_essays');
    expect(await fingerprint(h.store)).toEqual(before);
  });
});

// StudentAssociationsConfirmedV1 is internal (the associations machine emits it): these tests play that
// machine's role, so their engines accept internal events.
describe('a partial refusal: StudentAssociationsConfirmedV1 before the content is complete', () => {
  it('the engine answers accepted (the batch took it) with the tracker refusal in refused_deliveries, also for a duplicate', async () => {
    const engine = new LifecycleEngine({ store: createMemoryStore(), acceptInternalEvents: true });
    for (const raw of halfProvisioned()) await engine.dispatch(raw);
    const raw = confirmation();
    const answer = await engine.dispatch(raw);
    expect(answer.outcome).toBe('accepted');
    expect(answer.deliveries.map((d) => [d.machine, d.outcome])).toEqual([['batch', 'accepted'], ['batch_tracker', 'refused']]);
    expect(answer.refused_deliveries).toEqual([
      expect.objectContaining({ event_id: raw.event_id, machine: 'batch_tracker', entity_id: B, state: 'awaiting_content', code: 'EVENT_REJECTED' }),
    ]);
    const again = await engine.dispatch(raw);
    expect(again.outcome).toBe('duplicate');
    expect(again.refused_deliveries).toEqual(answer.refused_deliveries);
  });

  it('a fully accepted event carries no refused_deliveries', async () => {
    const engine = new LifecycleEngine({ store: createMemoryStore(), acceptInternalEvents: true });
    const registered = await engine.dispatch(halfProvisioned()[0]);
    expect(registered.outcome).toBe('accepted');
    expect(registered).not.toHaveProperty('refused_deliveries');
  });

  it('HTTP answers 200 with the header Lifecycle-Refused-Deliveries and the per-delivery outcomes', async () => {
    const h = makeHarness({ acceptInternalEvents: true });
    for (const raw of halfProvisioned()) await h.engine.dispatch(raw);
    const res = await request(h.app).post('/events').set(bearer('service')).send(confirmation());
    expect(res.status).toBe(200);
    expect(res.headers['lifecycle-refused-deliveries']).toBe('1');
    expect(pluck(res.body.deliveries, 'outcome')).toEqual(['accepted', 'refused']);
    expect(res.body.refused_deliveries).toHaveLength(1);
    const group = await request(h.app).post('/events').set(bearer('service')).send({ events: [confirmation()] });
    expect(group.status).toBe(200);
    expect(group.headers['lifecycle-refused-deliveries']).toBe('1');
    expect(group.body.results[0].refused_deliveries).toHaveLength(1);
  });

  it('the embedded queue worker logs a warning naming the refused delivery', async () => {
    const { store } = sqliteEngine();
    const engine = new LifecycleEngine({ store, clock: fixedClock, acceptInternalEvents: true });
    const logger = memoryLogger();
    const queue = new EmbeddedQueue(store, { now: fixedClock, logger });
    await queue.enqueue([...halfProvisioned(), confirmation()]);
    await queue.drain(engine, 10);
    expect(logger.lines).toEqual([expect.stringMatching(/^warn: embedded queue: row \d+: .*associations\.confirmed.* 1 of its deliveries were refused \(first: batch_tracker "b-partial"/)]);
  });
});
