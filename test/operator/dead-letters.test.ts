/**
 * Dead letters on both queues: listed with their error, redriven through the engine once their
 * cause is fixed, and a second redrive answers duplicate (the event took effect once). A forged
 * internal envelope that reached a queue is refused again on redrive and changes nothing. The NATS
 * part runs only with TEST_NATS_URL (including the server's NATS_URL routes); the worker CLI's
 * `dead` command is run as a child process.
 */
import { join } from 'node:path';
import { pino } from 'pino';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import type { LifecycleEngine } from '../../adapters/engine/engine.js';
import { EmbeddedQueue, drainOnce } from '../../adapters/queue/embedded.js';
import { embeddedDeadLetters } from '../../adapters/queue/embedded/dead-letters.js';
import { publishEnvelope } from '../../adapters/queue/nats.js';
import { natsDeadLetters } from '../../adapters/queue/nats/dead-letters.js';
import type { SqliteStore } from '../../adapters/sqlite/store.js';
import type { SnapshotStore } from '../../adapters/store.js';
import { parseConfig } from '../../server/config.js';
import { startServer } from '../../server/main.js';
import { bearer, fingerprint, makeHarness, readyBatch } from '../http/support.js';
import { envelope, registration } from '../support/envelopes.js';
import { sampleOf } from '../support/topic-samples.js';
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

  it('a dead-letter stream no worker has created yet holds no dead letters (not an error)', async () => {
    const { stream } = bed.names();
    const { engine } = sqliteEngine();
    const dead = await natsDeadLetters(bed.nc, engine, { stream });
    expect(await dead.list()).toEqual([]);
    expect(await dead.counts()).toEqual({ queue: 'nats', total: 0, pending: 0 });
    await expect(dead.redrive('1')).rejects.toMatchObject({ code: 'ENTITY_NOT_FOUND' });
  });

  it('the server started with NATS_URL serves the NATS dead letters to an admin: a forged internal envelope is refused on redrive with nothing changed, a fixed one is applied', async () => {
    const { stream, subjectPrefix, durable } = bed.names();
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const path = join(dir, 'nats-http.db');
    const { store, engine } = sqliteEngine(path);
    cleanups.push(() => store.close());
    await registerBatch(engine, 'dl-nats-http');
    const w = bed.worker({ engine, stream: { name: stream }, subjectPrefix, durable, relay: false });
    await w.ready;
    const forged = sampleOf('huleedu.batch.closed.v1', 'dl-nats-http', ['dl-nats-http-e1', 'dl-nats-http-e1']);
    const prompt = promptFor('dl-nats-http-later');
    await publishEnvelope(bed.js, forged, { subjectPrefix });
    await publishEnvelope(bed.js, prompt, { subjectPrefix });
    await waitFor(() => w.stats().deadLettered === 2, 15_000, 'both dead-lettered');

    const admin = 'admin-token-0123456789abcdef';
    const server = await startServer(
      parseConfig({ PORT: '0', LIFECYCLE_STORE: `sqlite:${path}`, SIMULATE: 'off', NATS_URL, NATS_STREAM: stream, AUTH_TOKENS: `${admin}=ops-1::admin,owner-token-0123456789abcdef=teacher-1` }),
      pino({ level: 'silent' }),
    );
    cleanups.push(() => server.close());
    const call = async (method: 'GET' | 'POST', path: string, token = admin) => {
      const res = await fetch(`${server.url}${path}`, { method, headers: { Authorization: `Bearer ${token}` } });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> & { result?: { outcome?: string; code?: string } } };
    };
    const listed = await call('GET', '/dead-letters?queue=nats');
    expect(listed.body).toMatchObject({ counts: [{ queue: 'nats', total: 2, pending: 2 }] });
    const letters = listed.body.dead_letters as Array<{ id: string; event_type: string; code: string }>;
    const letterOf = (type: string) => letters.find((letter) => letter.event_type === type);
    expect(letterOf(forged.event_type)?.code).toBe('SENDER_NOT_ALLOWED');
    expect(letterOf(prompt.event_type as string)?.code).toBe('ENTITY_NOT_FOUND');
    const forgedId = letterOf(forged.event_type)?.id ?? '';
    const promptId = letterOf(prompt.event_type as string)?.id ?? '';
    expect((await call('POST', `/dead-letters/nats/${forgedId}/redrive`, 'owner-token-0123456789abcdef')).status).toBe(403);

    const before = await fingerprint(server.engine.store);
    const refused = await call('POST', `/dead-letters/nats/${forgedId}/redrive`);
    expect([refused.status, refused.body.result?.outcome, refused.body.result?.code]).toEqual([200, 'invalid', 'SENDER_NOT_ALLOWED']);
    expect(await fingerprint(server.engine.store)).toEqual(before);
    expect((await server.engine.store.history('batch', 'dl-nats-http')).map((row) => row.event_id)).not.toContain(forged.event_id);

    await registerBatch(server.engine, 'dl-nats-http-later');
    expect((await call('POST', `/dead-letters/nats/${promptId}/redrive`)).body.result).toMatchObject({ outcome: 'accepted' });
    expect((await call('POST', `/dead-letters/nats/${promptId}/redrive`)).body.result).toMatchObject({ outcome: 'duplicate' });
    expect((await call('GET', '/dead-letters?queue=nats')).body).toMatchObject({ counts: [{ queue: 'nats', total: 2, pending: 1 }] });
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

  it('refuse a forged internal envelope again when an admin redrives it (SENDER_NOT_ALLOWED): it stays pending and nothing changes', async () => {
    const h = harness();
    const { batch_id, essay_ids } = await readyBatch(h, 'owner');
    // Somebody with access to the queue enqueued what only the engine may send: the batch closed, every essay done.
    const forged = sampleOf('huleedu.batch.closed.v1', batch_id, [essay_ids[0] as string, essay_ids[1] as string]);
    const queue = new EmbeddedQueue(h.store as SqliteStore);
    await queue.enqueue([forged]);
    expect(await drainOnce(h.engine, queue)).toMatchObject({ invalid: 1 });
    const before = await fingerprint(h.store);

    const one = await request(h.app).post('/dead-letters/embedded/1/redrive').set(bearer('admin'));
    expect([one.status, one.body.result?.outcome, one.body.result?.code]).toEqual([200, 'invalid', 'SENDER_NOT_ALLOWED']);
    const all = await request(h.app).post('/dead-letters/embedded/redrive').set(bearer('admin'));
    expect(all.body.summary).toEqual({ invalid: 1 });
    expect(await fingerprint(h.store)).toEqual(before);
    expect((await request(h.app).get('/dead-letters/embedded/1').set(bearer('admin'))).body).toMatchObject({ applied: false, event_type: 'huleedu.batch.closed.v1' });
    expect((await h.queries.entity('batch', batch_id))?.status).toBe('ready_for_pipeline_execution');
  });

  it('answer 403 to a non-admin and 404 for a queue the server was not given', async () => {
    const h = harness();
    expect((await request(h.app).get('/dead-letters').set(bearer('owner'))).status).toBe(403);
    expect((await request(h.app).post('/dead-letters/embedded/1/redrive').set(bearer('service'))).status).toBe(403);
    const missing = await request(h.app).get('/dead-letters/nats/1').set(bearer('admin'));
    expect([missing.status, missing.body.code]).toEqual([404, 'ENTITY_NOT_FOUND']);
  });
});
