/**
 * Membership: an event for batch B never changes an entity of batch A, whatever essay ids it
 * names, on every input: the engine itself, HTTP, the embedded queue and NATS (with
 * TEST_NATS_URL). A delivery outside the event's batch refuses the whole event (OUTSIDE_BATCH),
 * audited on the entity it would have reached.
 */
import { fc } from '@fast-check/vitest';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { LifecycleEngine } from '../adapters/engine/engine.js';
import { isLifecycleError } from '../adapters/errors.js';
import { createMemoryStore } from '../adapters/memory/store.js';
import { drainOnce, EmbeddedQueue } from '../adapters/queue/embedded.js';
import type { SnapshotStore } from '../adapters/store.js';
import { TOPICS, type Topic } from '../machines/contracts/index.js';
import { content, pipelineRequest, registration } from './support/envelopes.js';
import { sampleOf } from './support/topic-samples.js';
import { bearer, makeHarness } from './http/support.js';
import { sqliteEngine, waitFor } from './queue/support.js';
import { natsTestBed } from './queue/nats-bed.js';
import { publishEnvelope, type SettledMessage } from '../adapters/queue/nats.js';
import { senderClassOf } from '../machines/routing.js';
import { propertyRuns } from './property/runs.js';

const A = 'batch-A';
const B = 'batch-B';
const A_ESSAYS = ['essay-of-A-1', 'essay-of-A-2'] as const;
const B_ESSAYS = ['essay-of-B-1', 'essay-of-B-2'] as const;

/** A in spellcheck (its essays awaiting results), B ready: both able to move. */
function setupEvents(): Array<Record<string, unknown>> {
  return [
    registration(A, A_ESSAYS, { student_prompt_ref: 'prompt-1' }),
    content(A, 'text-a-1'),
    content(A, 'text-a-2'),
    pipelineRequest(A, 'nlp'),
    registration(B, B_ESSAYS, { student_prompt_ref: 'prompt-1' }),
    content(B, 'text-b-1'),
    content(B, 'text-b-2'),
  ];
}

/** Everything the store holds about batch A (its batch, tracker, associations and essays). */
async function batchA(store: SnapshotStore): Promise<string> {
  const rows = await Promise.all([
    store.load('batch', A),
    store.load('batch_tracker', A),
    store.load('associations', A),
    ...A_ESSAYS.map((essay) => store.load('essay', essay)),
  ]);
  return JSON.stringify(rows.map((row) => (row === undefined ? null : { status: row.status, version: row.version, snapshot: row.snapshot })));
}

async function engineWithBatches(): Promise<{ engine: LifecycleEngine; store: SnapshotStore }> {
  const store = createMemoryStore();
  // Internal events too: membership must hold even for what the engine's own machines would send.
  const engine = new LifecycleEngine({ store, acceptInternalEvents: true });
  for (const event of setupEvents()) await engine.dispatch(event);
  expect((await store.load('essay', A_ESSAYS[0]))?.status).toBe('spellchecking_in_progress');
  return { engine, store };
}

/** Dispatches, treating an input refusal (e.g. ENTITY_NOT_FOUND) as an answer. */
async function tryDispatch(engine: LifecycleEngine, raw: unknown): Promise<string> {
  try {
    const result = await engine.dispatch(raw);
    return result.code ?? result.outcome;
  } catch (error) {
    if (isLifecycleError(error)) return error.code;
    throw error;
  }
}

/** Topics whose sample payload names essays (the ones an attacker can point at another batch). */
const TOPICS_NAMING_ESSAYS: Topic[] = TOPICS.filter((topic) => JSON.stringify(sampleOf(topic, B, A_ESSAYS).data).includes(A_ESSAYS[0]));

describe('membership in the engine', () => {
  it('reproduction: huleedu.batch.closed.v1 for B naming A\'s essays is refused OUTSIDE_BATCH, audited with a reason, and A is untouched', async () => {
    const { engine, store } = await engineWithBatches();
    const before = await batchA(store);
    const closed = sampleOf('huleedu.batch.closed.v1', B, A_ESSAYS);
    const result = await engine.dispatch(closed);
    expect(result).toMatchObject({ outcome: 'refused', code: 'OUTSIDE_BATCH', entity: { machine: 'essay', entity_id: A_ESSAYS[0] } });
    expect(result.reason).toContain(`of batch "${A}"`);
    expect(await batchA(store)).toBe(before);
    // Nothing else of the event was applied: B's tracker did not close either.
    expect((await store.load('batch_tracker', B))?.status).toBe('content_provisioned');
    const history = await store.history('essay', A_ESSAYS[0]);
    expect(history.at(-1)).toMatchObject({ event_id: closed.event_id, outcome: 'refused', reason: expect.stringContaining('nothing of the event was applied') });
    // A redelivery answers the first refusal.
    expect(await engine.dispatch(closed)).toMatchObject({ outcome: 'duplicate', first_outcome: 'refused' });
  });

  it('the declarations name essays in several topics (this table is not empty by accident)', () => {
    expect(TOPICS_NAMING_ESSAYS).toEqual(expect.arrayContaining(['huleedu.batch.spellcheck.phase.completed.v1', 'huleedu.batch.closed.v1', 'huleedu.batch.essays.registered.v1']));
  });

  for (const topic of TOPICS_NAMING_ESSAYS) {
    it(`${topic} for batch B naming batch A's essays changes nothing of batch A`, async () => {
      const { engine, store } = await engineWithBatches();
      const before = await batchA(store);
      await tryDispatch(engine, sampleOf(topic, B, A_ESSAYS));
      expect(await batchA(store)).toBe(before);
    });
  }

  it('a forged spellcheck result for B naming an essay of A (in spellcheck) is refused, not applied', async () => {
    const { engine, store } = await engineWithBatches();
    expect(await tryDispatch(engine, sampleOf('huleedu.batch.spellcheck.phase.completed.v1', B, A_ESSAYS))).toBe('OUTSIDE_BATCH');
    expect((await store.load('essay', A_ESSAYS[0]))?.status).toBe('spellchecking_in_progress');
    // The same result naming A itself is applied: the refusal was about membership, not the state.
    expect(await tryDispatch(engine, sampleOf('huleedu.batch.spellcheck.phase.completed.v1', A, A_ESSAYS))).toBe('accepted');
  });

  it('property: random events for batch B (naming B\'s or A\'s essays) never change any entity of batch A', async () => {
    const topic = fc.constantFrom(...TOPICS);
    const event = fc.record({ topic, namesA: fc.boolean() });
    await fc.assert(
      fc.asyncProperty(fc.array(event, { minLength: 1, maxLength: 8 }), async (events) => {
        const { engine, store } = await engineWithBatches();
        const before = await batchA(store);
        for (const { topic: t, namesA } of events) await tryDispatch(engine, sampleOf(t, B, namesA ? A_ESSAYS : B_ESSAYS));
        expect(await batchA(store)).toBe(before);
      }),
      { numRuns: propertyRuns(100) },
    );
  });
});

describe('membership on every input', () => {
  it('HTTP: a service posting a spellcheck result for B naming A\'s essay gets 403 OUTSIDE_BATCH and A is unchanged', async () => {
    const h = makeHarness();
    for (const event of setupEvents()) await h.engine.dispatch(event);
    const before = await batchA(h.store);
    const res = await request(h.app).post('/events').set(bearer('service')).send(sampleOf('huleedu.batch.spellcheck.phase.completed.v1', B, A_ESSAYS));
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('OUTSIDE_BATCH');
    expect(await batchA(h.store)).toBe(before);
  });

  it('embedded queue: events for B naming A\'s essays are drained, refused, and A is unchanged', async () => {
    const { store, engine } = sqliteEngine();
    for (const event of setupEvents()) await engine.dispatch(event);
    const before = await batchA(store);
    const queue = new EmbeddedQueue(store);
    await queue.enqueue(TOPICS_NAMING_ESSAYS.map((topic) => sampleOf(topic, B, A_ESSAYS)));
    const report = await drainOnce(engine, queue);
    expect(report.taken).toBe(TOPICS_NAMING_ESSAYS.length);
    expect(await batchA(store)).toBe(before);
    const outcomes = (await queue.rows()).map((row) => row.outcome);
    expect(outcomes).toContain('refused');
  });
});

const NATS_URL = process.env.TEST_NATS_URL;
const natsSuite = NATS_URL === undefined || NATS_URL === '' ? describe.skip : describe;

natsSuite(NATS_URL === undefined || NATS_URL === '' ? 'skipped: set TEST_NATS_URL to run membership over NATS' : 'membership over NATS JetStream', () => {
  const bed = natsTestBed(NATS_URL ?? 'nats://127.0.0.1:4222', 'lcmember', { backoff: { initialMs: 100, maxMs: 400 }, pullExpiresMs: 1000, ackWaitMs: 3000 });

  it('events for B naming A\'s essays, published on their topics, are consumed and refused; A is unchanged', async () => {
    const { stream, subjectPrefix, durable } = bed.names();
    const { store, engine } = sqliteEngine();
    for (const event of setupEvents()) await engine.dispatch(event);
    const before = await batchA(store);
    const settled: SettledMessage[] = [];
    const w = bed.worker({ engine, stream: { name: stream }, subjectPrefix, durable, relay: false, onSettled: (s) => settled.push(s) });
    await w.ready;
    const attacks = TOPICS_NAMING_ESSAYS.filter((topic) => senderClassOf(topic) === 'service_result' || senderClassOf(topic) === 'client_command');
    for (const topic of attacks) await publishEnvelope(bed.js, sampleOf(topic, B, A_ESSAYS), { subjectPrefix });
    await waitFor(() => settled.length === attacks.length, 15_000, 'every message settled');
    expect(await batchA(store)).toBe(before);
  });
});
