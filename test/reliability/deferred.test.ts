/**
 * Events this process cannot apply NOW are deferred, never buried: during a rolling upgrade an
 * older engine meets a snapshot a newer machine version wrote (SNAPSHOT_INCOMPATIBLE). dispatchMany
 * answers such an item `deferred` (and every later item of its batch in the call), writes nothing
 * of them and commits the rest; the embedded queue leaves the row pending with its error until a
 * drainer that can read it applies it; HTTP answers 503 with the code and Retry-After. Poison
 * input (invalid envelope, unknown event type) stays `invalid`.
 */
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { LifecycleEngine } from '../../adapters/engine/engine.js';
import type { SnapshotStore } from '../../adapters/store.js';
import { drainOnce, EmbeddedQueue } from '../../adapters/queue/embedded.js';
import { openSqliteStore } from '../../adapters/sqlite/store.js';
import { bearer, makeHarness } from '../http/support.js';
import { content, envelope, pipelineRequest, registration } from '../support/envelopes.js';
import { cancel, newerRegistry, olderRegistry } from '../support/upgrade.js';

/** Registers `batchId` with two essays and provisions them: ready for a pipeline. */
async function readyWith(engine: LifecycleEngine, batchId: string): Promise<void> {
  const events = [registration(batchId, [`${batchId}-e0`, `${batchId}-e1`]), content(batchId, `${batchId}-t0`), content(batchId, `${batchId}-t1`)];
  for (const result of await engine.dispatchMany(events)) expect(result.outcome).toBe('accepted');
}

async function auditCount(store: SnapshotStore, entityId: string): Promise<number> {
  return (await store.history('batch', entityId, { limit: 1000 })).length;
}

/** A store with batch "new-a" written by the newer machine and "old-b" by the older one, and an engine of each. */
async function mixedStore(store: SnapshotStore): Promise<{ older: LifecycleEngine; newer: LifecycleEngine }> {
  const older = new LifecycleEngine({ store, machines: olderRegistry() });
  const newer = new LifecycleEngine({ store, machines: newerRegistry() });
  await readyWith(newer, 'new-a');
  await readyWith(older, 'old-b');
  return { older, newer };
}

describe('deferred: what an older engine cannot read is kept for a newer one', () => {
  it('dispatchMany answers deferred for a newer snapshot and for the later items of its batch, commits the rest, and keeps poison invalid', async () => {
    const store = openSqliteStore({ path: ':memory:' });
    const { older, newer } = await mixedStore(store);
    const before = await auditCount(store, 'new-a');
    const [first, other, behind, poison] = await older.dispatchMany([pipelineRequest('new-a', 'nlp'), pipelineRequest('old-b', 'nlp'), cancel('new-a'), envelope('huleedu.no.such.event.v1', {})]);
    expect(first).toMatchObject({ outcome: 'deferred', index: 0, code: 'SNAPSHOT_INCOMPATIBLE', details: { machine: 'batch', entity_id: 'new-a' } });
    expect(first?.outcome === 'deferred' && first.message).toMatch(/newer than this code's/);
    expect(other).toMatchObject({ outcome: 'accepted', entity: { machine: 'batch', entity_id: 'old-b' } });
    expect(behind).toMatchObject({ outcome: 'deferred', index: 2, code: 'SNAPSHOT_INCOMPATIBLE', details: { held_back_by: first?.outcome === 'deferred' ? first.event_id : '', batch_id: 'new-a' } });
    expect(poison).toMatchObject({ outcome: 'invalid', index: 3, code: 'UNKNOWN_EVENT_TYPE' });
    expect(await auditCount(store, 'new-a')).toBe(before);
    // The newer engine applies both, in order.
    const again = await newer.dispatchMany([pipelineRequest('new-a', 'nlp'), cancel('new-a')]);
    expect(again.map((r) => r.outcome)).toEqual(['accepted', 'accepted']);
    expect(again[1]).toMatchObject({ to: 'cancelled' });
    await store.close();
  });

  it('embedded queue: a deferred row stays pending with its error (never dead), rows of other batches go on, and a drainer that can read it applies it once', async () => {
    const store = openSqliteStore({ path: ':memory:' });
    const { older, newer } = await mixedStore(store);
    const queue = new EmbeddedQueue(store, { maxAttempts: 1 });
    await queue.enqueue([pipelineRequest('new-a', 'nlp'), pipelineRequest('old-b', 'nlp'), cancel('new-a'), envelope('huleedu.no.such.event.v1', {})]);
    for (let round = 0; round < 3; round += 1) {
      const report = await drainOnce(older, queue);
      expect(report).toMatchObject(round === 0 ? { taken: 2, accepted: 1, invalid: 1, deferred: 2, dead: 0 } : { taken: 0, deferred: 2, dead: 0 });
    }
    const rows = await queue.rows();
    expect(rows.map((row) => [row.outcome, row.last_error?.split(':')[0] ?? null])).toEqual([
      [null, 'SNAPSHOT_INCOMPATIBLE'],
      ['accepted', null],
      [null, 'SNAPSHOT_INCOMPATIBLE'],
      ['invalid', 'UNKNOWN_EVENT_TYPE'],
    ]);
    expect(rows[0]?.attempts).toBe(3);
    expect(await queue.counts()).toEqual({ pending: 2, done: 2, invalid: 1, dead: 0 });
    expect(await drainOnce(newer, queue)).toMatchObject({ taken: 2, accepted: 2, deferred: 0 });
    expect(await queue.counts()).toEqual({ pending: 0, done: 4, invalid: 1, dead: 0 });
    const history = await store.history('batch', 'new-a', { limit: 1000 });
    expect(history.slice(-2).map((row) => [row.event_type, row.outcome])).toEqual([
      ['huleedu.commands.batch.pipeline.v1', 'accepted'],
      ['huleedu.batch.cancel.requested.v1', 'accepted'],
    ]);
    await store.close();
  });

  it('HTTP: one event answers 503 with the code, retryable and Retry-After, writing nothing; a group answers the item deferred and commits the others', async () => {
    const h = makeHarness();
    await mixedStore(h.store);
    const before = await auditCount(h.store, 'new-a');
    const one = await request(h.app).post('/events').set(bearer('owner')).send(pipelineRequest('new-a', 'nlp'));
    expect(one.status).toBe(503);
    expect(one.headers['retry-after']).toBe('5');
    expect(one.body).toMatchObject({ code: 'SNAPSHOT_INCOMPATIBLE', details: { retryable: true } });
    expect(one.body.message).toMatch(/^the event could not be applied now: batch "new-a" was written by machine version \d+, newer than this code's \d+; upgrade the code; nothing was written, retry later$/);
    const group = await request(h.app).post('/events').set(bearer('owner')).send({ events: [pipelineRequest('new-a', 'nlp'), pipelineRequest('old-b', 'nlp')] });
    expect(group.status).toBe(200);
    expect(group.body.summary).toEqual({ accepted: 1, refused: 0, duplicate: 0, invalid: 0, deferred: 1 });
    expect(group.body.results[0]).toMatchObject({ outcome: 'deferred', index: 0, code: 'SNAPSHOT_INCOMPATIBLE' });
    expect(await auditCount(h.store, 'new-a')).toBe(before);
  });
});
