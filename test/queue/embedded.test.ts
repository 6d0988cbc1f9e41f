/**
 * The embedded SQLite queue: draining equals direct dispatch, dequeue and commit are one
 * transaction, invalid and poison rows are set aside (never lost, never retried forever), the
 * fallback mode is exactly-once by idempotency, and a worker killed mid-drain loses nothing and
 * applies nothing twice.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LifecycleEngine } from '../../adapters/engine/engine.js';
import type { BatchItemResult } from '../../adapters/engine/results.js';
import { LifecycleError } from '../../adapters/errors.js';
import { createMemoryStore } from '../../adapters/memory/store.js';
import { drainOnce, EmbeddedQueue, enqueueJsonl, queueProducer, startEmbeddedWorker, type DrainEngine, type DrainReport } from '../../adapters/queue/embedded.js';
import { openSqliteStore } from '../../adapters/sqlite/store.js';
import { envelope, registration, spellchecked } from '../support/envelopes.js';
import { directRun, dump, fixedClock, guestBatch, interleave, memoryLogger, spawnWorker, sqliteEngine, tempDir, waitFor, workload, type Raw } from './support.js';

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Drains until a round takes nothing; returns the reports. */
async function drainAll(engine: DrainEngine, queue: EmbeddedQueue, limit: number): Promise<DrainReport[]> {
  const reports: DrainReport[] = [];
  for (;;) {
    const report = await drainOnce(engine, queue, limit);
    if (report.taken === 0) return reports;
    reports.push(report);
  }
}

function guestScenario(): Raw[] {
  return interleave([guestBatch('embedded', 'guest-a', 4, [2]), guestBatch('embedded', 'guest-b', 3)]);
}

describe('embedded queue: draining', () => {
  it('a GUEST scenario drained in groups ends in the same states as direct dispatch; every row is done once', async () => {
    const events = guestScenario();
    const reference = await directRun(events);
    const { store, engine } = sqliteEngine();
    const logger = memoryLogger();
    const queue = new EmbeddedQueue(store, { now: fixedClock, logger });
    const ids = await queue.enqueue(events);
    expect(ids).toHaveLength(events.length);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));

    const reports = await drainAll(engine, queue, 7);
    expect(reports.every((r) => r.atomic)).toBe(true);
    expect(reports.reduce((n, r) => n + r.taken, 0)).toBe(events.length);
    expect(dump(store)).toEqual(dump(reference.store));

    const rows = await queue.rows();
    expect(rows.map((r) => r.outcome)).toEqual(reference.outcomes);
    expect(rows.every((r) => r.done_at === '2026-01-01T12:00:00.000Z' && r.attempts === 1 && r.last_error === null)).toBe(true);
    expect(rows.map((r) => r.partition_key)).toEqual(events.map((e) => String((e.data as Raw).batch_id ?? (e.data as Raw).entity_id)));
    expect(await queue.counts()).toEqual({ pending: 0, done: events.length, invalid: 0, dead: 0 });
    expect((await drainOnce(engine, queue)).taken).toBe(0);
    // The engine on the SQLite store never yields to the event loop inside a drain transaction.
    expect(logger.lines).toEqual([]);
  });

  it('dequeue and commit are one transaction: a failure after the engine committed undoes the commit too', async () => {
    const { store, engine } = sqliteEngine();
    const queue = new EmbeddedQueue(store);
    await queue.enqueue([registration('atomic-1', ['atomic-1-e0'])]);
    const failing: DrainEngine = {
      store,
      async dispatchMany(raws) {
        await engine.dispatchMany(raws);
        expect(store.db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM entities').get()!.n).toBeGreaterThan(0);
        throw new LifecycleError('STORE_FAILURE', 'disk vanished right after the commit');
      },
    };
    await expect(drainOnce(failing, queue)).rejects.toThrow(/disk vanished/);
    expect(store.db.prepare('SELECT COUNT(*) AS n FROM entities').get()).toEqual({ n: 0 });
    expect(store.db.prepare('SELECT COUNT(*) AS n FROM inbox').get()).toEqual({ n: 0 });
    expect(await store.outboxCount()).toBe(0);
    const [row] = await queue.rows();
    expect(row).toMatchObject({ done_at: null, attempts: 1, last_error: 'STORE_FAILURE: disk vanished right after the commit' });

    const report = await drainOnce(engine, queue);
    expect(report).toMatchObject({ taken: 1, accepted: 1, atomic: true });
    expect((await store.load('batch', 'atomic-1'))?.status).toBeDefined();
  });

  it('startEmbeddedWorker drains in the background, reports rounds and stops cleanly', async () => {
    const events = workload('bg', 100);
    const reference = await directRun(events);
    const { store, engine } = sqliteEngine();
    const queue = new EmbeddedQueue(store, { now: fixedClock });
    await queue.enqueue(events);
    const rounds: DrainReport[] = [];
    const started = performance.now();
    const worker = startEmbeddedWorker(engine, queue, { intervalMs: 20, batchSize: 100, onDrained: (r) => rounds.push(r), onError: (e) => { throw e; } });
    await worker.idle();
    const seconds = (performance.now() - started) / 1000;
    await worker.stop();
    console.info(`embedded queue drain: ${events.length} events in ${seconds.toFixed(2)} s = ${Math.round(events.length / seconds)} events/s (batch 100, in-memory SQLite)`);
    expect(rounds.reduce((n, r) => n + r.taken, 0)).toBe(events.length);
    expect(dump(store)).toEqual(dump(reference.store));
    await worker.stop();
  });

  it('producer helpers: one envelope for HTTP, JSONL for replay (lines that are not JSON are reported, not queued)', async () => {
    const { store } = sqliteEngine();
    const queue = new EmbeddedQueue(store);
    const produce = queueProducer(queue);
    expect(await produce(registration('p-1', ['p-1-e0']))).toEqual({ queued: true, queue_id: 1 });
    const jsonl = [JSON.stringify(registration('p-2', ['p-2-e0'])), '', '{not json', JSON.stringify({ any: 'json' })].join('\n');
    const { ids, rejected } = await enqueueJsonl(queue, jsonl);
    expect(ids).toEqual([2, 3]);
    expect(rejected).toEqual([{ line: 3, error: expect.stringMatching(/JSON/) as unknown }]);
    await expect(queue.enqueue(['{"ok": true}', 'not json'])).rejects.toMatchObject({ code: 'INVALID_ENVELOPE' });
    await expect(queue.enqueue([undefined])).rejects.toMatchObject({ code: 'INVALID_ENVELOPE' });
    expect((await queue.counts()).pending).toBe(3);
  });
});

describe('embedded queue: invalid and poison rows', () => {
  it('invalid rows are marked done with their error, the others apply, and nothing is retried', async () => {
    const { store, engine } = sqliteEngine();
    const logger = memoryLogger();
    const queue = new EmbeddedQueue(store, { logger });
    await queue.enqueue([
      { foo: 1 },
      envelope('huleedu.no.such.event.v1', {}),
      spellchecked('ghost-batch', 'ghost-essay', true),
      registration('valid-1', ['valid-1-e0']),
    ]);
    store.db.prepare("INSERT INTO queue (partition_key, envelope, enqueued_at) VALUES (NULL, '{broken', 'x')").run();

    const report = await drainOnce(engine, queue, 100);
    expect(report).toMatchObject({ taken: 5, accepted: 1, invalid: 4 });
    const rows = await queue.rows();
    expect(rows.map((r) => [r.outcome, r.last_error?.split(':')[0] ?? null])).toEqual([
      ['invalid', 'INVALID_ENVELOPE'],
      ['invalid', 'UNKNOWN_EVENT_TYPE'],
      ['invalid', 'ENTITY_NOT_FOUND'],
      ['accepted', null],
      ['invalid', 'INVALID_ENVELOPE'],
    ]);
    expect(rows.every((r) => r.done_at !== null && r.attempts === 1)).toBe(true);
    expect(logger.lines.filter((l) => /set aside/.test(l))).toHaveLength(4);
    expect((await drainOnce(engine, queue, 100)).taken).toBe(0);
    expect(await queue.counts()).toEqual({ pending: 0, done: 5, invalid: 4, dead: 0 });
  });

  it('a poison row is isolated: rows before it commit, rows after it wait, and after maxAttempts it is set aside as dead', async () => {
    const { store, engine } = sqliteEngine();
    const queue = new EmbeddedQueue(store, { maxAttempts: 3 });
    const events = guestBatch('poison', 'poison-1', 2);
    const poisonId = events[2]!.event_id;
    await queue.enqueue(events);
    const poisoned: DrainEngine = {
      store,
      dispatchMany: (raws) => {
        if (raws.some((raw) => (raw as Raw).event_id === poisonId)) return Promise.reject(new TypeError('a bug in a machine'));
        return engine.dispatchMany(raws);
      },
    };
    await expect(drainOnce(poisoned, queue, 100)).rejects.toThrow(/a bug in a machine/);
    let rows = await queue.rows();
    expect(rows.map((r) => r.done_at !== null)).toEqual(events.map((_, i) => i < 2));
    expect(rows[2]).toMatchObject({ attempts: 1, last_error: 'a bug in a machine', done_at: null });

    await expect(drainOnce(poisoned, queue, 100)).rejects.toThrow(/a bug/);
    await expect(drainOnce(poisoned, queue, 100)).rejects.toThrow(/a bug/);
    rows = await queue.rows();
    expect(rows[2]).toMatchObject({ attempts: 3, outcome: 'dead' });
    expect(rows.slice(3).every((r) => r.done_at === null)).toBe(true);

    const rest = await drainOnce(poisoned, queue, 100);
    expect(rest.taken).toBe(events.length - 3);
    expect(await queue.counts()).toMatchObject({ pending: 0, dead: 1 });
  });

  it('a transient store failure is retried without limit: never set aside', async () => {
    const { store, engine } = sqliteEngine();
    const queue = new EmbeddedQueue(store, { maxAttempts: 2 });
    await queue.enqueue([registration('transient-1', ['transient-1-e0'])]);
    let failures = 5;
    const flaky: DrainEngine = {
      store,
      dispatchMany: (raws): Promise<BatchItemResult[]> => {
        if (failures > 0) {
          failures -= 1;
          return Promise.reject(new LifecycleError('STORE_FAILURE', 'database is locked'));
        }
        return engine.dispatchMany(raws);
      },
    };
    for (let i = 0; i < 5; i += 1) await expect(drainOnce(flaky, queue)).rejects.toMatchObject({ code: 'STORE_FAILURE' });
    expect((await queue.rows())[0]).toMatchObject({ attempts: 5, done_at: null });
    expect(await drainOnce(flaky, queue)).toMatchObject({ taken: 1, accepted: 1 });
    expect((await queue.rows())[0]).toMatchObject({ attempts: 6, outcome: 'accepted' });
  });
});

describe('embedded queue: fallback mode (engine on another store)', () => {
  it('dispatch, then mark done: a lost mark redelivers and the inbox answers duplicate', async () => {
    const queueStore = openSqliteStore({ path: ':memory:', now: fixedClock });
    const engineStore = createMemoryStore({ now: fixedClock });
    const engine = new LifecycleEngine({ store: engineStore, clock: fixedClock });
    const queue = new EmbeddedQueue(queueStore);
    const events = guestBatch('fallback', 'fallback-1', 2);
    await queue.enqueue(events);
    expect(queue.isAtomicWith(engine)).toBe(false);
    const first = await drainAll(engine, queue, 4);
    expect(first.every((r) => !r.atomic)).toBe(true);
    const before = await engineStore.list({ machine: 'essay' });

    // As if the process died after the engine's commit and before the mark.
    queueStore.db.prepare('UPDATE queue SET done_at = NULL, outcome = NULL').run();
    const again = await drainAll(engine, queue, 100);
    expect(again.reduce((n, r) => n + r.duplicate, 0)).toBe(events.length);
    expect(await engineStore.list({ machine: 'essay' })).toEqual(before);
  });
});

describe('embedded queue: crash of the worker process', () => {
  it('SIGKILL mid-drain, restart: final states equal direct dispatch, no outbox duplicates, every row done exactly once', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const path = join(dir, 'crash.db');
    const events = workload('crash', 120);
    const seed = openSqliteStore({ path });
    await new EmbeddedQueue(seed).enqueue(events);
    await seed.close();
    const reference = await directRun(events);

    const watcher = openSqliteStore({ path });
    cleanups.push(() => watcher.close());
    const done = (): number => watcher.db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM queue WHERE done_at IS NOT NULL').get()?.n ?? 0;

    const args = ['--store', `sqlite:${path}`, '--queue', 'embedded', '--batch-size', '5', '--interval-ms', '20', '--no-timers'];
    const first = spawnWorker(args);
    await waitFor(() => done() >= 150, 30_000, 'the first worker to be under way');
    first.process.kill('SIGKILL');
    expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });
    const atKill = done();
    expect(atKill).toBeLessThan(events.length);

    const second = spawnWorker(args);
    await second.waitForLine(/queue empty/, 60_000);
    second.process.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);

    const store = openSqliteStore({ path });
    cleanups.push(() => store.close());
    const actual = dump(store, { snapshots: false });
    const expected = dump(reference.store, { snapshots: false });
    expect(actual.entities).toEqual(expected.entities);
    expect(actual.audit).toEqual(expected.audit);
    expect(actual.outbox).toEqual(expected.outbox);
    expect(new Set(actual.outbox.map((o) => o.event_id)).size).toBe(actual.outbox.length);
    expect(actual.inbox).toBe(expected.inbox);
    const rows = await new EmbeddedQueue(store).rows({ limit: 10_000 });
    expect(rows).toHaveLength(events.length);
    expect(rows.every((r) => r.done_at !== null && r.attempts === 1)).toBe(true);
    expect(rows.map((r) => r.outcome)).toEqual(reference.outcomes);
    console.info(`crash test: killed after ${atKill} of ${events.length} rows; the restart finished the rest`);
  });
});
