/**
 * Route x principal x sender class: every topic, posted to /events by each kind of principal,
 * is answered as its declaration's sender class says. Refusals change nothing in the store
 * (fingerprint before and after).
 */
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { LifecycleEvents, type SenderClass, type Topic } from '../../machines/contracts/index.js';
import { openAuthenticator } from '../../adapters/http/auth.js';
import { DEMO_PRINCIPAL } from '../../server/main.js';
import { sampleOf } from '../support/topic-samples.js';
import { bearer, fingerprint, makeHarness, readyBatch, type Harness, type Who } from './support.js';

const TOPICS_BY_CLASS = (sender: SenderClass): Topic[] =>
  Object.values(LifecycleEvents)
    .filter((definition) => definition.sender === sender)
    .map((definition) => definition.topic);

async function post(h: Harness, who: Who, topic: Topic, batchId: string, essays: readonly [string, string]) {
  return request(h.app).post('/events').set(bearer(who)).send(sampleOf(topic, batchId, essays));
}

async function setup(): Promise<{ h: Harness; batch: string; essays: readonly [string, string] }> {
  const h = makeHarness();
  const { batch_id, essay_ids } = await readyBatch(h, 'owner');
  return { h, batch: batch_id, essays: [essay_ids[0] as string, essay_ids[1] as string] };
}

describe('sender classes over HTTP', () => {
  it('every sender class has topics (the table below is not empty by accident)', () => {
    for (const sender of ['client_command', 'service_result', 'internal', 'system_timer'] as const) expect(TOPICS_BY_CLASS(sender).length).toBeGreaterThan(0);
  });

  for (const sender of ['internal', 'system_timer'] as const) {
    for (const topic of TOPICS_BY_CLASS(sender)) {
      it(`${topic} (${sender}) is refused 403 SENDER_NOT_ALLOWED for the owner, an admin and a service, and nothing changes`, async () => {
        const { h, batch, essays } = await setup();
        const before = await fingerprint(h.store);
        for (const who of ['owner', 'admin', 'service'] as const) {
          const res = await post(h, who, topic, batch, essays);
          expect(res.status, `${who}: ${JSON.stringify(res.body)}`).toBe(403);
          expect(res.body.code).toBe('SENDER_NOT_ALLOWED');
        }
        expect(await fingerprint(h.store)).toEqual(before);
      });
    }
  }

  for (const topic of TOPICS_BY_CLASS('service_result')) {
    it(`${topic} (service result) is 403 for the batch's owner and an admin with the store unchanged, and taken from a service`, async () => {
      const { h, batch, essays } = await setup();
      const before = await fingerprint(h.store);
      for (const who of ['owner', 'admin'] as const) {
        const res = await post(h, who, topic, batch, essays);
        expect(res.status, `${who}: ${JSON.stringify(res.body)}`).toBe(403);
        expect(res.body.code).toBe('FORBIDDEN');
        expect(res.body.message).toContain('service result');
      }
      expect(await fingerprint(h.store)).toEqual(before);
      const bySevice = await post(h, 'service', topic, batch, essays);
      // Taken: applied (200) or refused by the machine in its current state (409), never a 403.
      expect([200, 409], JSON.stringify(bySevice.body)).toContain(bySevice.status);
    });
  }

  for (const topic of TOPICS_BY_CLASS('client_command')) {
    it(`${topic} (client command) is taken from the owner and from a service relaying it, and 403 for another user`, async () => {
      const { h, batch, essays } = await setup();
      const before = await fingerprint(h.store);
      const stranger = await post(h, 'other', topic, batch, essays);
      expect(stranger.status, JSON.stringify(stranger.body)).toBe(403);
      expect(await fingerprint(h.store)).toEqual(before);
      for (const who of ['owner', 'service'] as const) {
        const res = await post(h, who, topic, batch, essays);
        // Answered per policy: applied, refused by the machine, or no such entity (associations of a GUEST batch); never 403.
        expect([200, 404, 409], `${who}: ${JSON.stringify(res.body)}`).toContain(res.status);
      }
    });
  }

  it('a group with one internal event among valid ones is refused whole (403) and dispatches nothing', async () => {
    const { h, batch, essays } = await setup();
    const before = await fingerprint(h.store);
    const events = [sampleOf('huleedu.batch.nlp.analysis.completed.v1', batch, essays), sampleOf('huleedu.batch.closed.v1', batch, essays)];
    const res = await request(h.app).post('/events').set(bearer('service')).send({ events });
    expect(res.status).toBe(403);
    expect(res.body.details.forbidden_indexes).toEqual([1]);
    expect(await fingerprint(h.store)).toEqual(before);
  });
});

describe('open mode on loopback (no tokens): the local principal', () => {
  it('sends reference envelopes unchanged: a registration naming another user, a service result; internal events stay 403', async () => {
    const h = makeHarness({ authenticate: openAuthenticator(DEMO_PRINCIPAL) });
    const essays = ['open-e-1', 'open-e-2'] as const;
    const registered = await request(h.app).post('/events').send(sampleOf('huleedu.batch.essays.registered.v1', 'open-batch', essays));
    expect(registered.status, JSON.stringify(registered.body)).toBe(200);
    expect(sampleOf('huleedu.batch.essays.registered.v1', 'x', essays).data.user_id).not.toBe(DEMO_PRINCIPAL.user_id);
    const content = await request(h.app).post('/events').send(sampleOf('huleedu.file.essay.content.provisioned.v1', 'open-batch', essays));
    expect(content.status, JSON.stringify(content.body)).toBe(200);
    const internal = await request(h.app).post('/events').send(sampleOf('huleedu.batch.closed.v1', 'open-batch', essays));
    expect(internal.status).toBe(403);
  });
});
