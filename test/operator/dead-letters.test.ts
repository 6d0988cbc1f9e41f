/**
 * Dead letters on both queues: listed with their error, redriven through the engine once their
 * cause is fixed, and a second redrive answers duplicate (the event took effect once). The NATS
 * part runs only with TEST_NATS_URL; the worker CLI's `dead` command is run as a child process.
 */
import { join } from 'node:path';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import type { LifecycleEngine } from '../../adapters/engine/engine.js';
import { EmbeddedQueue, drainOnce } from '../../adapters/queue/embedded.js';
import { embeddedDeadLetters } from '../../adapters/queue/embedded/dead-letters.js';
import { publishEnvelope } from '../../adapters/queue/nats.js';
import { natsDeadLetters } from '../../adapters/queue/nats/dead-letters.js';
import type { SqliteStore } from '../../adapters/sqlite/store.js';
import type { SnapshotStore } from '../../adapters/store.js';
import { bearer, makeHarness } from '../http/support.js';
import { envelope, registration } from '../support/envelopes.js';
import { natsTestBed } from '../queue/nats-bed.js';
import { spawnWorker, sqliteEngine, tempDir, waitFor } from '../queue/support.js';

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A prompt for `batchId`: invalid (ENTITY_NOT_FOUND) until the batch is registered, accepted after. */
function promptFor(batchId: string): Record<string, unknown> {
  return envelope('huleedu.batch.prompt.attached.v1', { batch_id: batchId, user_id: 'teacher-1', student_prompt_ref: `prompt-${batchId}` });
}

/** How many times the batch took the event with this id. */
async function timesTaken(store: SnapshotStore, batchId: string, eventId: unknown): Promise<number> {
  return (await store.history('batch', batchId)).filter((row) => row.event_id === eventId && row.outcome === 'accepted').length;
}

async function registerBatch(engine: LifecycleEngine, batchId: string): Promise<void> {
  expect(await engine.dispatch(registration(batchId, [`${batchId}-e1`]))).toMatchObject({ outcome: 'accepted' });
}

describe('embedded queue dead letters', () => {
  it('an invalid row is listed pending, redriven once its batch exists, and redriving again answers duplicate', async () => {
    const { store, engine } = sqliteEngine();
    const queue = new EmbeddedQueue(store);
    const prompt = promptFor('dl-embedded');
    await queue.enqueue([prompt]);
    expect(await drainOnce(engine, queue)).toMatchObject({ invalid: 1 });
    const dead = embeddedDeadLetters(queue, engine);
    const [letter] = await dead.list();
    expect(letter).toMatchObject({ queue: 'embedded', event_id: prompt.event_id, code: 'ENTITY_NOT_FOUND', applied: false, partition_key: 'dl-embedded' });
    expect(await dead.counts()).toEqual({ queue: 'embedded', total: 1, pending: 1 });

    await registerBatch(engine, 'dl-embedded');
    expect((await dead.redrive(letter!.id)).result).toMatchObject({ outcome: 'accepted', to: 'awaiting_content_validation' });
    expect((await dead.redrive(letter!.id)).result).toMatchObject({ outcome: 'duplicate', first_outcome: 'accepted' });
    expect(await timesTaken(store, 'dl-embedded', prompt.event_id)).toBe(1);
    expect(await dead.show(letter!.id)).toMatchObject({ applied: true, envelope: prompt });
    expect(await dead.counts()).toEqual({ queue: 'embedded', total: 1, pending: 0 });
  });

  it('a row given up as dead is redriven by redriveAll once the engine works again; a second redriveAll takes nothing', async () => {
    const { store, engine } = sqliteEngine();
    const queue = new EmbeddedQueue(store, { maxAttempts: 1 });
    await registerBatch(engine, 'dl-dead');
    const prompt = promptFor('dl-dead');
    await queue.enqueue([prompt]);
    const broken = { store, dispatchMany: (): Promise<never> => Promise.reject(new Error('the prompt service client is misconfigured')) };
    await expect(drainOnce(broken, queue)).rejects.toThrow('misconfigured');
    expect(await queue.counts()).toMatchObject({ dead: 1, pending: 0 });
    const dead = embeddedDeadLetters(queue, engine);
    expect(await dead.list()).toEqual([expect.objectContaining({ error: 'the prompt service client is misconfigured', attempts: 1, applied: false })]);

    expect((await dead.redriveAll()).map(({ result }) => result.outcome)).toEqual(['accepted']);
    expect(await dead.redriveAll()).toEqual([]);
    expect(await timesTaken(store, 'dl-dead', prompt.event_id)).toBe(1);
  });

  it('an unknown id is ENTITY_NOT_FOUND', async () => {
    const { store, engine } = sqliteEngine();
    const dead = embeddedDeadLetters(new EmbeddedQueue(store), engine);
    await expect(dead.show('42')).rejects.toMatchObject({ code: 'ENTITY_NOT_FOUND' });
    await expect(dead.redrive('x')).rejects.toMatchObject({ code: 'ENTITY_NOT_FOUND' });
  });
});

describe('lifecycle-worker dead', () => {
  it('lists, redrives --all, answers duplicate to a second redrive, and exits 2 without an id, on a SQLite file', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const path = join(dir, 'dead.db');
    const { store, engine } = sqliteEngine(path);
    const queue = new EmbeddedQueue(store);
    await queue.enqueue([promptFor('dl-cli')]);
    await drainOnce(engine, queue);
    await registerBatch(engine, 'dl-cli');
    await store.close();

    const run = async (...args: string[]) => {
      const child = spawnWorker(['dead', ...args, '--store', `sqlite:${path}`]);
      return { ...(await child.exited), lines: child.lines };
    };
    const [listed, usage] = await Promise.all([run('list'), run('redrive')]);
    expect(listed.code).toBe(0);
    expect(listed.lines).toContain('embedded: 1 dead letters, 1 pending');
    expect(usage.code).toBe(2);
    const redriven = await run('redrive', '--all');
    expect(redriven.code, redriven.lines.join('\n')).toBe(0);
    expect(redriven.lines.some((line) => /^1: accepted/.test(line))).toBe(true);
    const again = await run('redrive', '1');
    expect(again.lines.some((line) => /^1: duplicate/.test(line))).toBe(true);
  });
});

const NATS_URL = process.env.TEST_NATS_URL;
const SKIP_TITLE = 'skipped: set TEST_NATS_URL to run the NATS dead-letter test';
if (NATS_URL === undefined || NATS_URL === '') console.warn(`test/operator/dead-letters.test.ts ${SKIP_TITLE}`);
const natsSuite = NATS_URL === undefined || NATS_URL === '' ? describe.skip : describe;

natsSuite(NATS_URL === undefined || NATS_URL === '' ? SKIP_TITLE : 'NATS dead letters', () => {
  const bed = natsTestBed(NATS_URL ?? 'nats://127.0.0.1:4222', 'lcdead', { backoff: { initialMs: 100, maxMs: 400 }, pullExpiresMs: 1000, ackWaitMs: 3000 });

  it('a dead-lettered message is listed, redriven after its batch exists, and redriving again answers duplicate', async () => {
    const { stream, subjectPrefix, durable } = bed.names();
    const { store, engine } = sqliteEngine();
    const w = bed.worker({ engine, stream: { name: stream }, subjectPrefix, durable, relay: false });
    await w.ready;
    const prompt = promptFor('dl-nats');
    await publishEnvelope(bed.js, prompt, { subjectPrefix });
    await waitFor(() => w.stats().deadLettered === 1, 15_000, 'the prompt dead-lettered');

    const dead = await natsDeadLetters(bed.nc, engine, { stream });
    const [letter] = await dead.list();
    expect(letter).toMatchObject({ queue: 'nats', event_id: prompt.event_id, code: 'ENTITY_NOT_FOUND', applied: false, partition_key: 'dl-nats' });
    expect(letter?.source).toMatchObject({ stream, subject: `${subjectPrefix}huleedu.batch.prompt.attached.v1` });
    await registerBatch(engine, 'dl-nats');
    expect((await dead.redrive(letter!.id)).result).toMatchObject({ outcome: 'accepted' });
    expect((await dead.redrive(letter!.id)).result).toMatchObject({ outcome: 'duplicate' });
    expect(await dead.redriveAll()).toEqual([]);
    expect(await timesTaken(store, 'dl-nats', prompt.event_id)).toBe(1);
    expect(await dead.counts()).toEqual({ queue: 'nats', total: 1, pending: 0 });
  });
});

describe('dead-letter routes', () => {
  const harness = () =>
    makeHarness({ store: 'sqlite', deadLetters: (store, engine) => [embeddedDeadLetters(new EmbeddedQueue(store as SqliteStore), engine)] });

  it('let an admin count, show and redrive the embedded dead letters; redriving again answers duplicate', async () => {
    const h = harness();
    const queue = new EmbeddedQueue(h.store as SqliteStore);
    await queue.enqueue([promptFor('dl-http')]);
    await drainOnce(h.engine, queue);
    const listed = await request(h.app).get('/dead-letters').set(bearer('admin'));
    expect(listed.status).toBe(200);
    expect(listed.body).toMatchObject({ counts: [{ queue: 'embedded', total: 1, pending: 1 }], dead_letters: [{ id: '1', code: 'ENTITY_NOT_FOUND' }] });
    expect((await request(h.app).get('/dead-letters/embedded/1').set(bearer('admin'))).body).toMatchObject({ applied: false });

    await registerBatch(h.engine, 'dl-http');
    const first = await request(h.app).post('/dead-letters/embedded/1/redrive').set(bearer('admin'));
    expect([first.status, first.body.result?.outcome]).toEqual([200, 'accepted']);
    const second = await request(h.app).post('/dead-letters/embedded/redrive').set(bearer('admin'));
    expect(second.body).toEqual({ results: [], summary: {} });
    const again = await request(h.app).post('/dead-letters/embedded/1/redrive').set(bearer('admin'));
    expect(again.body.result).toMatchObject({ outcome: 'duplicate' });
  });

  it('answer 403 to a non-admin and 404 for a queue the server was not given', async () => {
    const h = harness();
    expect((await request(h.app).get('/dead-letters').set(bearer('owner'))).status).toBe(403);
    expect((await request(h.app).post('/dead-letters/embedded/1/redrive').set(bearer('service'))).status).toBe(403);
    const missing = await request(h.app).get('/dead-letters/nats/1').set(bearer('admin'));
    expect([missing.status, missing.body.code]).toEqual([404, 'ENTITY_NOT_FOUND']);
  });
});
