/**
 * The authorization table: every route x every kind of caller answers exactly the expected
 * status, and no refusal (401/403/404) changes anything in the store. The operator routes
 * (forced transitions, dead letters) are admin only.
 */
import { get, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { drainOnce, EmbeddedQueue } from '../../adapters/queue/embedded.js';
import { embeddedDeadLetters } from '../../adapters/queue/embedded/dead-letters.js';
import type { SqliteStore } from '../../adapters/sqlite/store.js';
import { envelope } from '../support/envelopes.js';
import { bearer, fingerprint, makeHarness, PRINCIPALS, provisionContent, readyBatch, registerBatch, WRONG_TOKEN, type Harness, type Who } from './support.js';

type Column = 'none' | 'wrong' | Who;
const COLUMNS: readonly Column[] = ['none', 'wrong', 'other', 'owner', 'service', 'colleague', 'admin'];

interface Fixture {
  readonly batch_id: string;
  readonly essay_ids: readonly string[];
}

interface Row {
  readonly route: string;
  /** The harness (default: memory store, no dead-letter queues). */
  readonly harness?: () => Harness;
  readonly setup?: (h: Harness) => Promise<Fixture>;
  readonly call: (h: Harness, fixture: Fixture, headers: Record<string, string>, userId: string) => Promise<number>;
  readonly expected: Readonly<Record<Column, number>>;
}

function headersOf(column: Column): Record<string, string> {
  if (column === 'none') return {};
  if (column === 'wrong') return { Authorization: `Bearer ${WRONG_TOKEN}` };
  return bearer(column);
}

const userIdOf = (column: Column): string => (column === 'none' || column === 'wrong' ? 'teacher-1' : PRINCIPALS[column].user_id);

async function regularWithSuggestions(h: Harness): Promise<Fixture> {
  const batch = await registerBatch(h, 'owner', { class_id: 'class-1' });
  await provisionContent(h, batch.batch_id, 2);
  const suggested = envelope('huleedu.batch.author.matches.suggested.v1', {
    batch_id: batch.batch_id,
    class_id: 'class-1',
    course_code: 'ENG5',
    match_results: batch.essay_ids.map((essay_id) => ({ essay_id, suggestions: [{ student_id: `s-${essay_id}`, student_name: 'S', confidence_score: 0.9 }] })),
  });
  expect((await request(h.app).post('/events').set(bearer('service')).send(suggested)).status).toBe(200);
  return batch;
}

/** Opens the event stream on a real socket and answers the status of its response. */
async function streamStatus(h: Harness, headers: Record<string, string>): Promise<number> {
  const server: Server = h.app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const { port } = server.address() as AddressInfo;
  try {
    return await new Promise<number>((resolve, reject) => {
      const req = get({ host: '127.0.0.1', port, path: '/stream', headers }, (res) => {
        resolve(res.statusCode ?? 0);
        req.destroy();
      });
      req.on('error', (error) => (error.message.includes('socket hang up') ? undefined : reject(error)));
    });
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** A harness on SQLite whose app serves the embedded queue's dead letters. */
const withDeadLetters = (): Harness => makeHarness({ store: 'sqlite', deadLetters: (store, engine) => [embeddedDeadLetters(new EmbeddedQueue(store as SqliteStore), engine)] });

/** A ready batch and one dead letter (id 1): a prompt for a batch nobody registered, drained as invalid. */
async function batchAndDeadLetter(h: Harness): Promise<Fixture> {
  const batch = await readyBatch(h, 'owner');
  const queue = new EmbeddedQueue(h.store as SqliteStore);
  await queue.enqueue([envelope('huleedu.batch.prompt.attached.v1', { batch_id: `${batch.batch_id}-unregistered`, user_id: 'teacher-1', student_prompt_ref: 'prompt-x' })]);
  expect(await drainOnce(h.engine, queue)).toMatchObject({ invalid: 1 });
  return batch;
}

const OWNER_ONLY = { none: 401, wrong: 401, other: 403, owner: 200, service: 403, colleague: 200, admin: 200 } as const;
const ANY_PRINCIPAL = { none: 401, wrong: 401, other: 200, owner: 200, service: 200, colleague: 200, admin: 200 } as const;
const PUBLIC = { none: 200, wrong: 200, other: 200, owner: 200, service: 200, colleague: 200, admin: 200 } as const;
const ADMIN_ONLY = { none: 401, wrong: 401, other: 403, owner: 403, service: 403, colleague: 403, admin: 200 } as const;

const TABLE: readonly Row[] = [
  {
    route: 'POST /events (pipeline request for the batch)',
    call: async (h, f, headers, userId) =>
      (await request(h.app).post('/events').set(headers).send(envelope('huleedu.commands.batch.pipeline.v1', { batch_id: f.batch_id, requested_pipeline: 'nlp', user_id: userId }))).status,
    expected: { ...OWNER_ONLY, service: 200 },
  },
  {
    route: 'POST /batches',
    call: async (h, _f, headers) => (await request(h.app).post('/batches').set(headers).send({ expected_essay_count: 1, course_code: 'ENG5' })).status,
    expected: { none: 401, wrong: 401, other: 201, owner: 201, service: 201, colleague: 201, admin: 201 },
  },
  {
    route: 'POST /batches/:id/pipelines',
    call: async (h, f, headers) => (await request(h.app).post(`/batches/${f.batch_id}/pipelines`).set(headers).send({ requested_pipeline: 'nlp' })).status,
    expected: OWNER_ONLY,
  },
  {
    route: 'POST /batches/:id/student-associations/confirm',
    setup: regularWithSuggestions,
    call: async (h, f, headers) =>
      (await request(h.app).post(`/batches/${f.batch_id}/student-associations/confirm`).set(headers).send({ associations: f.essay_ids.map((essay_id) => ({ essay_id, student_id: `s-${essay_id}`, confirmed: true })) })).status,
    expected: OWNER_ONLY,
  },
  {
    route: 'PATCH /batches/:id/prompt',
    call: async (h, f, headers) => (await request(h.app).patch(`/batches/${f.batch_id}/prompt`).set(headers).send({ student_prompt_ref: 'prompt-2' })).status,
    expected: OWNER_ONLY,
  },
  { route: 'POST /batches/:id/close', call: async (h, f, headers) => (await request(h.app).post(`/batches/${f.batch_id}/close`).set(headers).send({})).status, expected: OWNER_ONLY },
  { route: 'POST /batches/:id/cancel', call: async (h, f, headers) => (await request(h.app).post(`/batches/${f.batch_id}/cancel`).set(headers).send({ reason: 'x' })).status, expected: OWNER_ONLY },
  { route: 'GET /batches/:id', call: async (h, f, headers) => (await request(h.app).get(`/batches/${f.batch_id}`).set(headers)).status, expected: OWNER_ONLY },
  { route: 'GET /batches/:id/essays', call: async (h, f, headers) => (await request(h.app).get(`/batches/${f.batch_id}/essays`).set(headers)).status, expected: OWNER_ONLY },
  { route: 'GET /essays/:id', call: async (h, f, headers) => (await request(h.app).get(`/essays/${f.essay_ids[0]}`).set(headers)).status, expected: OWNER_ONLY },
  {
    route: 'GET /entities/:machine/:id/history',
    call: async (h, f, headers) => (await request(h.app).get(`/entities/essay/${f.essay_ids[0]}/history`).set(headers)).status,
    expected: OWNER_ONLY,
  },
  { route: 'GET /batches', call: async (h, _f, headers) => (await request(h.app).get('/batches').set(headers)).status, expected: ANY_PRINCIPAL },
  { route: 'GET /counts', call: async (h, _f, headers) => (await request(h.app).get('/counts').set(headers)).status, expected: ANY_PRINCIPAL },
  { route: 'GET /stream', call: (h, _f, headers) => streamStatus(h, headers), expected: ANY_PRINCIPAL },
  {
    route: 'POST /entities/:machine/:id/force',
    call: async (h, f, headers) =>
      (await request(h.app).post(`/entities/essay/${f.essay_ids[0]}/force`).set(headers).send({ to: 'spellchecked_success', reason: 'checked by hand' })).status,
    expected: ADMIN_ONLY,
  },
  { route: 'GET /dead-letters', harness: withDeadLetters, setup: batchAndDeadLetter, call: async (h, _f, headers) => (await request(h.app).get('/dead-letters').set(headers)).status, expected: ADMIN_ONLY },
  {
    route: 'GET /dead-letters/:queue/:id',
    harness: withDeadLetters,
    setup: batchAndDeadLetter,
    call: async (h, _f, headers) => (await request(h.app).get('/dead-letters/embedded/1').set(headers)).status,
    expected: ADMIN_ONLY,
  },
  {
    route: 'POST /dead-letters/:queue/:id/redrive',
    harness: withDeadLetters,
    setup: batchAndDeadLetter,
    call: async (h, _f, headers) => (await request(h.app).post('/dead-letters/embedded/1/redrive').set(headers)).status,
    expected: ADMIN_ONLY,
  },
  {
    route: 'POST /dead-letters/:queue/redrive',
    harness: withDeadLetters,
    setup: batchAndDeadLetter,
    call: async (h, _f, headers) => (await request(h.app).post('/dead-letters/embedded/redrive').set(headers)).status,
    expected: ADMIN_ONLY,
  },
  { route: 'GET /machines', call: async (h, _f, headers) => (await request(h.app).get('/machines').set(headers)).status, expected: PUBLIC },
  { route: 'GET /machines/:name', call: async (h, _f, headers) => (await request(h.app).get('/machines/essay').set(headers)).status, expected: PUBLIC },
  { route: 'GET /openapi.json', call: async (h, _f, headers) => (await request(h.app).get('/openapi.json').set(headers)).status, expected: PUBLIC },
  { route: 'GET /docs', call: async (h, _f, headers) => (await request(h.app).get('/docs').set(headers)).status, expected: PUBLIC },
];

describe('route x principal authorization table', () => {
  for (const row of TABLE) {
    for (const column of COLUMNS) {
      const expected = row.expected[column];
      it(`${row.route} as ${column} -> ${expected}${expected >= 400 ? ', store unchanged' : ''}`, async () => {
        const h = (row.harness ?? makeHarness)();
        const fixture = await (row.setup ?? ((harness: Harness) => readyBatch(harness, 'owner')))(h);
        const before = await fingerprint(h.store);
        const status = await row.call(h, fixture, headersOf(column), userIdOf(column));
        expect(status).toBe(expected);
        if (expected >= 400) expect(await fingerprint(h.store)).toEqual(before);
      });
    }
  }
});

describe('refusal answers', () => {
  it('401 carries WWW-Authenticate: Bearer and never echoes the token; 403 names the action and batch', async () => {
    const h = makeHarness();
    const { batch_id } = await readyBatch(h);
    const wrong = await request(h.app).get(`/batches/${batch_id}`).set('Authorization', `Bearer ${WRONG_TOKEN}`);
    expect(wrong.status).toBe(401);
    expect(wrong.headers['www-authenticate']).toBe('Bearer');
    expect(wrong.text).not.toContain(WRONG_TOKEN);
    const malformed = await request(h.app).get(`/batches/${batch_id}`).set('Authorization', 'Basic dXNlcjpwYXNz');
    expect(malformed.status).toBe(401);
    expect(malformed.text).not.toContain('dXNlcjpwYXNz');
    const forbidden = await request(h.app).get(`/batches/${batch_id}`).set(bearer('other'));
    expect(forbidden.body).toMatchObject({ code: 'FORBIDDEN', details: { action: 'batch.read', batch_id } });
    expect(h.logs.join('\n')).not.toContain(WRONG_TOKEN);
    expect(h.logs.join('\n')).not.toContain('dXNlcjpwYXNz');
  });

  it('a user may not send raw events in somebody else\'s name, even for a batch it owns', async () => {
    const h = makeHarness();
    const { batch_id } = await readyBatch(h);
    const before = await fingerprint(h.store);
    const spoofed = envelope('huleedu.commands.batch.pipeline.v1', { batch_id, requested_pipeline: 'nlp', user_id: 'teacher-2' });
    const res = await request(h.app).post('/events').set(bearer('owner')).send(spoofed);
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ code: 'FORBIDDEN', details: { field: 'data.user_id' } });
    const registration = envelope('huleedu.batch.essays.registered.v1', { entity_id: 'b-new', expected_essay_count: 1, essay_ids: ['e'], course_code: 'ENG5', user_id: 'teacher-1', org_id: 'school-b' });
    expect((await request(h.app).post('/events').set(bearer('owner')).send(registration)).status).toBe(403);
    expect(await fingerprint(h.store)).toEqual(before);
  });

  it('a group with one forbidden item is refused whole with 403 naming its index, and nothing is dispatched', async () => {
    const h = makeHarness();
    const mine = await readyBatch(h, 'owner');
    const theirs = await readyBatch(h, 'other');
    const before = await fingerprint(h.store);
    const events = [
      envelope('huleedu.batch.cancel.requested.v1', { batch_id: mine.batch_id, user_id: 'teacher-1' }),
      envelope('huleedu.batch.cancel.requested.v1', { batch_id: theirs.batch_id, user_id: 'teacher-1' }),
    ];
    const res = await request(h.app).post('/events').set(bearer('owner')).send({ events });
    expect(res.status).toBe(403);
    expect(res.body.details.forbidden_indexes).toEqual([1]);
    expect(await fingerprint(h.store)).toEqual(before);
  });

  it('nobody may send an event only the engine emits (an outbound notice addressing no entity): users and services get 403 SENDER_NOT_ALLOWED', async () => {
    const h = makeHarness();
    const outbound = envelope('huleedu.batch.phase.skipped.v1', { batch_id: 'b', phase_name: 'spellcheck', skip_reason: 'already_completed' });
    for (const who of ['owner', 'service'] as const) {
      const res = await request(h.app).post('/events').set(bearer(who)).send(outbound);
      expect(res.status).toBe(403);
      expect(res.body.code).toBe('SENDER_NOT_ALLOWED');
    }
  });

  it('a replaced policy decides: a host that lets services read every batch', async () => {
    const h = makeHarness({ authorize: (principal, action, resource) => principal.kind === 'service' || (resource.kind === 'batch' && resource.owner?.user_id === principal.user_id) || action === 'batch.create' });
    const { batch_id } = await readyBatch(h);
    expect((await request(h.app).get(`/batches/${batch_id}`).set(bearer('service'))).status).toBe(200);
    expect((await request(h.app).get(`/batches/${batch_id}`).set(bearer('colleague'))).status).toBe(403);
  });
});
