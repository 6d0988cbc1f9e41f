/**
 * A rolling upgrade on one NATS stream: a worker running the newer machine version and one running
 * the older version share a partition. What the older worker cannot read (a batch snapshot the
 * newer one wrote: SNAPSHOT_INCOMPATIBLE) it hands back with a delay, together with the newer
 * messages of that batch; nothing is dead-lettered for it, and each event is applied exactly once,
 * by a worker that can read it, in publish order per batch. Runs only with TEST_NATS_URL.
 */
import { describe, expect, it } from 'vitest';
import { LifecycleEngine } from '../../adapters/engine/engine.js';
import type { MachineRegistry } from '../../adapters/engine/registry.js';
import { deadLetterStreamOf, ensureStream, publishEnvelope } from '../../adapters/queue/nats.js';
import { openSqliteStore } from '../../adapters/sqlite/store.js';
import { content, pipelineRequest, registration } from '../support/envelopes.js';
import { cancel, newerRegistry, olderRegistry } from '../support/upgrade.js';
import { natsTestBed } from './nats-bed.js';
import { fixedClock, memoryLogger, tempDir, waitFor } from './support.js';

const NATS_URL = process.env.TEST_NATS_URL;
const SKIP_TITLE = 'skipped: set TEST_NATS_URL to run the NATS rolling-upgrade test';
if (NATS_URL === undefined || NATS_URL === '') console.warn(`test/queue/nats-upgrade.test.ts ${SKIP_TITLE}`);
const suite = NATS_URL === undefined || NATS_URL === '' ? describe.skip : describe;
const url = NATS_URL ?? 'nats://127.0.0.1:4222';

const FAST = { backoff: { initialMs: 100, maxMs: 400 }, pullExpiresMs: 1000 } as const;

const ready = (batchId: string): Array<Record<string, unknown>> => [
  registration(batchId, [`${batchId}-e0`, `${batchId}-e1`]),
  content(batchId, `${batchId}-t0`),
  content(batchId, `${batchId}-t1`),
];

suite(NATS_URL === undefined || NATS_URL === '' ? SKIP_TITLE : 'NATS rolling upgrade: two machine versions on one stream', () => {
  const bed = natsTestBed(url, 'lcupg', FAST);

  function engineOn(path: string, machines: MachineRegistry): LifecycleEngine {
    const store = openSqliteStore({ path, now: fixedClock });
    bed.stops.push(() => store.close());
    return new LifecycleEngine({ store, clock: fixedClock, machines });
  }

  it('the older worker defers what it cannot read (nothing dead-lettered); the newer one applies it; every event applied once, in order per batch', async () => {
    const { stream, subjectPrefix, durable } = bed.names();
    await ensureStream(bed.jsm, { name: stream, subjectPrefix });
    const { dir, cleanup } = tempDir();
    bed.stops.push(cleanup);
    const path = `${dir}/upgrade.db`;
    const settings = { stream: { name: stream }, subjectPrefix, durable, relay: false, ackWaitMs: 2000, leaseMs: 1000 } as const;
    const publish = (events: ReadonlyArray<Record<string, unknown>>): Promise<unknown> => Promise.all(events.map((event) => publishEnvelope(bed.js, event, { subjectPrefix })));

    // The newer worker writes batch new-a, then goes away for its restart.
    const first = bed.worker({ engine: engineOn(path, newerRegistry()), ...settings, owned: [0], clientName: 'newer' });
    await publish(ready('new-a'));
    await waitFor(() => first.stats().applied === 3, 10_000, 'the newer worker to apply new-a');
    await first.stop();

    // The older worker (standby) takes the partition over: old-b it applies, new-a it defers.
    const logger = memoryLogger();
    const older = bed.worker({ engine: engineOn(path, olderRegistry()), ...settings, owned: [], standby: [0], logger, clientName: 'older' });
    const later = [...ready('old-b'), pipelineRequest('new-a', 'nlp'), pipelineRequest('old-b', 'nlp'), cancel('new-a')];
    await publish(later);
    await waitFor(() => older.stats().applied === 4 && older.stats().deferred >= 4, 15_000, 'the older worker to apply old-b and defer new-a');
    expect(logger.lines).toContainEqual(expect.stringMatching(/^warn: partition 0: message \d+ .* cannot be applied by this worker now; handed back .*SNAPSHOT_INCOMPATIBLE/));

    // The newer worker returns: the older one hands the partition back and the newer applies the rest.
    const second = bed.worker({ engine: engineOn(path, newerRegistry()), ...settings, owned: [0], clientName: 'newer-again' });
    await waitFor(() => second.stats().applied === 2, 15_000, 'the returned newer worker to apply the deferred new-a events');

    const stats = [first.stats(), older.stats(), second.stats()];
    expect(stats.map((s) => s.deadLettered)).toEqual([0, 0, 0]);
    expect(stats.map((s) => s.duplicates)).toEqual([0, 0, 0]);
    expect(stats.reduce((sum, s) => sum + s.applied, 0)).toBe(3 + later.length);
    const dead = await bed.jsm.streams.info(deadLetterStreamOf(stream)).catch(() => undefined);
    expect(dead?.state.messages ?? 0).toBe(0);

    const reader = openSqliteStore({ path });
    bed.stops.push(() => reader.close());
    const rows = reader.db.prepare<[], { event_id: string; entity_id: string; event_type: string; outcome: string }>(
      "SELECT event_id, entity_id, event_type, outcome FROM audit WHERE machine = 'batch' AND causation_id IS NULL ORDER BY position",
    ).all();
    const ids = rows.map((row) => row.event_id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(rows.filter((row) => row.entity_id === 'new-a').map((row) => [row.event_type, row.outcome])).toEqual([
      ['huleedu.batch.essays.registered.v1', 'accepted'],
      ['huleedu.commands.batch.pipeline.v1', 'accepted'],
      ['huleedu.batch.cancel.requested.v1', 'accepted'],
    ]);
    const entity = reader.db.prepare<[], { status: string; machine_version: number }>("SELECT status, machine_version FROM entities WHERE machine = 'batch' AND entity_id = 'new-a'").get();
    expect(entity).toEqual({ status: 'cancelled', machine_version: newerRegistry().batch!.version });
  });
});
