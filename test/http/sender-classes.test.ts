/**
 * Route x principal x sender class: every topic, posted to /events by each kind of principal,
 * is answered as its declaration's sender class says. Refusals change nothing in the store
 * (fingerprint before and after). The engine applies the same classes on every other input:
 * internal events are refused everywhere; outbound ones (the engine's messages for outside
 * services) drive nothing and, read back from a queue, are recorded.
 */
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineEvent, Id, LifecycleEvents, SenderClass, type Topic } from '../../machines/contracts/index.js';
import { openAuthenticator } from '../../adapters/http/auth.js';
import { drainOnce, EmbeddedQueue } from '../../adapters/queue/embedded.js';
import { embeddedDeadLetters } from '../../adapters/queue/embedded/dead-letters.js';
import type { SqliteStore } from '../../adapters/sqlite/store.js';
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
    for (const sender of Object.values(SenderClass)) expect(TOPICS_BY_CLASS(sender).length, sender).toBeGreaterThan(0);
  });

  for (const sender of ['internal', 'outbound'] as const) {
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

describe('sender classes on every input, not only HTTP', () => {
  it('an outbound event drives no machine of the engine, and an internal one drives at least one (else it would be outbound)', () => {
    for (const definition of Object.values(LifecycleEvents)) {
      if (definition.sender === 'outbound') expect(definition.targets, definition.topic).toEqual([]);
      if (definition.sender === 'internal') expect(definition.targets.length, definition.topic).toBeGreaterThan(0);
    }
  });

  it('an outbound declaration with targets does not compile (checked by npm run typecheck)', () => {
    const data = z.object({ batch_id: Id });
    // @ts-expect-error an outbound event drives no machine of the engine: it takes no targets
    const wrong = defineEvent('Wrong', 'test.wrong.v1', data, { sender: 'outbound', batch: 'batch_id', targets: [{ machine: 'batch', types: ['CLOSE_REQUESTED'], entity: 'batch_id' }] });
    const right = defineEvent('Right', 'test.right.v1', data, { sender: 'outbound', batch: 'batch_id' });
    expect([wrong.sender, right.targets]).toEqual(['outbound', []]);
  });

  it('the engine records an outbound event read back from a queue: accepted, no entity reached, and no entity, audit row or outbox row changes', async () => {
    const { h, batch, essays } = await setup();
    for (const topic of TOPICS_BY_CLASS('outbound')) {
      const before = await fingerprint(h.store);
      const answer = await h.engine.dispatch(sampleOf(topic, batch, essays));
      expect(answer, topic).toMatchObject({ outcome: 'accepted', entity: null, deliveries: [], emitted: [] });
      expect(await fingerprint(h.store), topic).toEqual(before);
    }
  });

  it('the engine refuses every internal event with SENDER_NOT_ALLOWED through dispatch and dispatchMany, and nothing changes', async () => {
    const { h, batch, essays } = await setup();
    const before = await fingerprint(h.store);
    const internal = TOPICS_BY_CLASS('internal').map((topic) => sampleOf(topic, batch, essays));
    for (const event of internal) await expect(h.engine.dispatch(event), event.event_type).rejects.toMatchObject({ code: 'SENDER_NOT_ALLOWED' });
    const answers = await h.engine.dispatchMany(internal);
    expect(answers.map((answer) => (answer.outcome === 'invalid' ? answer.code : answer.outcome))).toEqual(internal.map(() => 'SENDER_NOT_ALLOWED'));
    expect(await fingerprint(h.store)).toEqual(before);
  });

  it("a copy of one of the engine's own alsoOutside messages read back from a queue answers duplicate (dispatch and dispatchMany) and changes nothing; over HTTP it stays 403", async () => {
    const { h } = await setup();
    const rows = await h.store.pendingOutbox(1000);
    const own = rows.find((row) => row.event_type === 'huleedu.els.essay.slot.assigned.v1' && row.internal);
    if (own === undefined) throw new Error('readyBatch emitted no slot assignment');
    const before = await fingerprint(h.store);
    expect(await h.engine.dispatch(own.envelope)).toMatchObject({ event_id: own.event_id, outcome: 'duplicate', first_outcome: 'accepted' });
    const [item] = await h.engine.dispatchMany([own.envelope]);
    expect(item).toMatchObject({ event_id: own.event_id, outcome: 'duplicate' });
    expect(await fingerprint(h.store)).toEqual(before);
    const overHttp = await request(h.app).post('/events').set(bearer('service')).send(own.envelope as object);
    expect([overHttp.status, overHttp.body.code]).toEqual([403, 'SENDER_NOT_ALLOWED']);
    // The same topic with an id the engine never took is still refused.
    const forged = { ...(own.envelope as Record<string, unknown>), event_id: '00000000-0000-4000-8000-000000000001' };
    await expect(h.engine.dispatch(forged)).rejects.toMatchObject({ code: 'SENDER_NOT_ALLOWED' });
    expect(await fingerprint(h.store)).toEqual(before);
  });

  it('the embedded queue sets every internal event aside as invalid (a dead letter) and takes the outbound ones, with no entity changed', async () => {
    const h = makeHarness({ store: 'sqlite' });
    const { batch_id, essay_ids } = await readyBatch(h, 'owner');
    const essays = [essay_ids[0] as string, essay_ids[1] as string] as const;
    const before = await fingerprint(h.store);
    const queue = new EmbeddedQueue(h.store as SqliteStore);
    const internal = TOPICS_BY_CLASS('internal');
    const outbound = TOPICS_BY_CLASS('outbound');
    await queue.enqueue([...internal, ...outbound].map((topic) => sampleOf(topic, batch_id, essays)));
    expect(await drainOnce(h.engine, queue, 1000)).toMatchObject({ invalid: internal.length, accepted: outbound.length });
    const letters = await embeddedDeadLetters(queue, h.engine).list({ limit: 1000 });
    expect(letters.map((letter) => [letter.event_type, letter.code])).toEqual(internal.map((topic) => [topic, 'SENDER_NOT_ALLOWED']));
    expect(await fingerprint(h.store)).toEqual(before);
  });
});
