import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { LifecycleEngine } from '../../adapters/engine/engine.js';
import type { BatchItemResult, DispatchResult } from '../../adapters/engine/results.js';
import { isLifecycleError, type LifecycleError } from '../../adapters/errors.js';
import { DispatchCoalescer } from '../../adapters/http/coalesce.js';
import { DEFAULT_LIMITS } from '../../adapters/http/limits.js';
import { createMemoryStore } from '../../adapters/memory/store.js';
import { envelope, pipelineRequest, registration } from '../support/envelopes.js';
import { bearer, makeHarness, rawRegistration, type Who } from './support.js';

/** A real engine on a memory store, counting the calls the coalescer makes. */
function countingEngine(options: { failSize?: number } = {}) {
  const engine = new LifecycleEngine({ store: createMemoryStore() });
  const calls = { dispatch: 0, dispatchMany: [] as number[] };
  const port = {
    dispatch: (raw: unknown): Promise<DispatchResult> => {
      calls.dispatch += 1;
      return engine.dispatch(raw);
    },
    dispatchMany: (raws: readonly unknown[]): Promise<BatchItemResult[]> => {
      calls.dispatchMany.push(raws.length);
      if (raws.length === options.failSize) return Promise.reject(new Error('one poisoned item fails the whole commit'));
      return engine.dispatchMany(raws);
    },
  };
  return { engine, calls, port };
}

async function settle<T>(promise: Promise<T>): Promise<{ value?: T; error?: unknown }> {
  try {
    return { value: await promise };
  } catch (error) {
    return { error };
  }
}

describe('DispatchCoalescer', () => {
  it('commits dispatches of one event-loop turn together and answers each as dispatch would', async () => {
    const { engine, calls, port } = countingEngine();
    await engine.dispatch(registration('b-1', ['e-1']));
    const coalescer = new DispatchCoalescer(port, 100);
    const prompt = envelope('huleedu.batch.prompt.attached.v1', { batch_id: 'b-1', user_id: 'teacher-1', student_prompt_ref: 'p-1' });
    const answers = await Promise.all([
      settle(coalescer.dispatch(prompt)),
      settle(coalescer.dispatch(pipelineRequest('b-1', 'nlp'))),
      settle(coalescer.dispatch(pipelineRequest('no-such-batch', 'nlp'))),
      settle(coalescer.dispatch(prompt)),
    ]);
    expect(calls).toEqual({ dispatch: 0, dispatchMany: [4] });
    expect(answers[0]?.value).toMatchObject({ outcome: 'accepted', entity: { entity_id: 'b-1' } });
    expect(answers[1]?.value).toMatchObject({ outcome: 'refused', from: 'awaiting_content_validation' });
    const missing = answers[2]?.error;
    expect(isLifecycleError(missing, 'ENTITY_NOT_FOUND')).toBe(true);
    expect((missing as LifecycleError).details).toMatchObject({ machine: 'batch', entity_id: 'no-such-batch' });
    expect(answers[3]?.value).toMatchObject({ outcome: 'duplicate', first_outcome: 'accepted' });
  });

  it('sends a lone dispatch straight to engine.dispatch', async () => {
    const { calls, port } = countingEngine();
    const coalescer = new DispatchCoalescer(port, 100);
    await expect(coalescer.dispatch(registration('b-2', ['e-2']))).resolves.toMatchObject({ outcome: 'accepted' });
    await expect(coalescer.dispatch(pipelineRequest('nowhere', 'nlp'))).rejects.toMatchObject({ code: 'ENTITY_NOT_FOUND' });
    expect(calls).toEqual({ dispatch: 2, dispatchMany: [] });
  });

  it('never splits a group, merges up to maxEvents, and gives each group its own indexes', async () => {
    const { calls, port } = countingEngine();
    const coalescer = new DispatchCoalescer(port, 3);
    const [first, second, big] = await Promise.all([
      coalescer.dispatchMany([registration('b-3', ['e-3']), { not: 'an envelope' }]),
      coalescer.dispatchMany([{ also: 'bad' }]),
      coalescer.dispatchMany([registration('b-4', ['e-4']), registration('b-5', ['e-5']), registration('b-6', ['e-6']), registration('b-7', ['e-7'])]),
    ]);
    expect(calls.dispatchMany).toEqual([3, 4]);
    expect(first?.map((r) => r.outcome)).toEqual(['accepted', 'invalid']);
    expect(first?.[1]).toMatchObject({ outcome: 'invalid', index: 1, code: 'INVALID_ENVELOPE' });
    expect(second).toEqual([expect.objectContaining({ outcome: 'invalid', index: 0 })]);
    expect(big?.map((r) => r.outcome)).toEqual(['accepted', 'accepted', 'accepted', 'accepted']);
  });

  it('retries each request on its own when the merged commit fails, so a failure stays with its request', async () => {
    const { engine, calls, port } = countingEngine({ failSize: 3 });
    const coalescer = new DispatchCoalescer(port, 100);
    const lone = registration('b-8', ['e-8']);
    const [one, group] = await Promise.all([
      coalescer.dispatch(lone),
      coalescer.dispatchMany([registration('b-9', ['e-9']), registration('b-10', ['e-10'])]),
    ]);
    expect(one).toMatchObject({ outcome: 'accepted' });
    expect(group?.map((r) => r.outcome)).toEqual(['accepted', 'accepted']);
    expect(calls).toEqual({ dispatch: 1, dispatchMany: [3, 2] });
    expect((await engine.dispatch(lone)).outcome).toBe('duplicate');
  });

  it('commits every request on its own when maxEvents is 1', async () => {
    const { calls, port } = countingEngine();
    const coalescer = new DispatchCoalescer(port, 1);
    await Promise.all([coalescer.dispatch(registration('b-11', ['e-11'])), coalescer.dispatch(registration('b-12', ['e-12']))]);
    expect(calls).toEqual({ dispatch: 2, dispatchMany: [] });
  });
});

describe('POST /events under concurrency', () => {
  it('answers concurrent requests each with its own status, however they were grouped', async () => {
    expect(DEFAULT_LIMITS.groupCommitEvents).toBeGreaterThan(1);
    const h = makeHarness({ store: 'sqlite' });
    const server = h.app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    const { port } = server.address() as AddressInfo;
    const post = (body: unknown, who: Who = 'owner') =>
      fetch(`http://127.0.0.1:${port}/events`, { method: 'POST', headers: { 'content-type': 'application/json', ...bearer(who) }, body: JSON.stringify(body) });
    try {
      const registrations = Array.from({ length: 8 }, (_, i) => rawRegistration(`b-c${i}`, [`e-c${i}`], { user_id: 'teacher-1', org_id: 'school-a' }));
      const answers = await Promise.all([...registrations.map((body) => post(body)), post(pipelineRequest('b-missing', 'nlp'), 'service'), post(registrations[0])]);
      expect(answers.map((res) => res.status), h.logs.filter((l) => l.includes('failed')).join('\n').slice(0, 2000)).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 404, 200]);
      const bodies = (await Promise.all(answers.map((res) => res.json()))) as Array<Record<string, unknown>>;
      expect(bodies.slice(0, 8).every((body) => body.outcome === 'accepted' || body.outcome === 'duplicate')).toBe(true);
      expect(bodies[8]).toMatchObject({ code: 'ENTITY_NOT_FOUND' });
      expect(answers[0]?.headers.get('etag')).toBeNull();
      for (let i = 0; i < 8; i += 1) expect((await h.queries.entity('batch', `b-c${i}`))?.status).toBe('awaiting_content_validation');
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
