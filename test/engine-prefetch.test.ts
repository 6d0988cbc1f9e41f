/**
 * A fan-out reads its entities ahead: when one event queues many messages (the pipeline request,
 * a phase's conclusion, a batch-level result), the cascade reads the entities of the next window
 * of queued messages in one `loadMany` instead of one `load` each (on PostgreSQL, one round trip
 * instead of hundreds), entities still to be created included. What the cache and the unit already
 * hold is not read again, and the results are those of an engine whose cache holds every entity.
 */
import { describe, expect, it } from 'vitest';
import { LifecycleEngine } from '../adapters/engine/engine.js';
import { openSqliteStore, type SqliteStore } from '../adapters/sqlite/store.js';
import { dumpStore, guestBatch } from './support/reliability-kit.js';

const ESSAYS = 600;

/** A store whose entity reads are counted. */
function countingStore(): { store: SqliteStore; reads: { load: number; loadMany: number } } {
  const store = openSqliteStore({ path: ':memory:' });
  const reads = { load: 0, loadMany: 0 };
  const load = store.load.bind(store);
  const loadMany = store.loadMany.bind(store);
  store.load = (machine, entityId) => {
    reads.load += 1;
    return load(machine, entityId);
  };
  store.loadMany = (keys) => {
    reads.loadMany += 1;
    return loadMany(keys);
  };
  return { store, reads };
}

describe('fan-outs read their entities ahead', () => {
  it(`the registration, the pipeline request and the nlp result of a ${ESSAYS}-essay batch read its essays in windows (loadMany), not one by one, and end exactly where an engine that caches every essay ends`, async () => {
    const events = guestBatch('prefetch', 'prefetch-batch', ESSAYS);
    const request = events.findIndex((event) => event.event_type === 'huleedu.commands.batch.pipeline.v1');
    const small = countingStore();
    const smallEngine = new LifecycleEngine({ store: small.store, entityCacheSize: 50 });
    const big = countingStore();
    const bigEngine = new LifecycleEngine({ store: big.store, entityCacheSize: 10_000 });
    for (const [index, event] of events.entries()) {
      const before = { ...small.reads };
      const [a, b] = [await smallEngine.dispatch(event), await bigEngine.dispatch(event)];
      expect(a).toEqual(b);
      if (index === 0 || index === request || index === events.length - 1) {
        // 600 essays (to create, or past a 50-entity cache): ceil(600 / 256) windows, a few single reads at most.
        expect(small.reads.loadMany - before.loadMany, String(event.event_type)).toBeGreaterThanOrEqual(3);
        expect(small.reads.loadMany - before.loadMany, String(event.event_type)).toBeLessThanOrEqual(6);
        expect(small.reads.load - before.load, String(event.event_type)).toBeLessThan(10);
      }
    }
    const [smallDump, bigDump] = [dumpStore(small.store), dumpStore(big.store)];
    expect(smallDump.entities).toEqual(bigDump.entities);
    expect(smallDump.audit.map(({ position: _p, ...row }) => row)).toEqual(bigDump.audit.map(({ position: _p, ...row }) => row));
    expect(smallDump.outbox).toEqual(bigDump.outbox);
  });
});
