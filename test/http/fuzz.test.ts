/**
 * Malformed input through HTTP: a few hundred generated bad requests (broken JSON, wrong
 * types, unknown event types, huge strings, hostile keys), with and without credentials.
 * None may answer 5xx and none may change anything in the store.
 */
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { content, envelope, pipelineRequest, registration } from '../support/envelopes.js';
import { bearer, fingerprint, makeHarness, pluck, readyBatch, WRONG_TOKEN, type Harness } from './support.js';

/** A small deterministic PRNG (mulberry32), so a failure can be replayed. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Random = () => number;
const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;

/** A value no string, id, enum or object field of the contracts accepts (so the request stays invalid). */
function wrongValue(random: Random): unknown {
  return pick(random, [42, -1, 1.5, true, null, [], [1, 'a'], {}, { nested: { deeper: [null] } }, '', 'x'.repeat(100_000), Number.MAX_SAFE_INTEGER]);
}

/** Raw request bodies that are not JSON a route accepts. */
function brokenJson(random: Random): string {
  const valid = JSON.stringify(registration('b-fuzz', ['e']));
  return pick(random, [
    valid.slice(0, Math.floor(random() * valid.length)),
    '{',
    '[1,2',
    'nul',
    '"just a string"',
    '123',
    'true',
    '{"a":}',
    `{"event_id":"${'a'.repeat(50_000)}"`,
    '\u0000\u0001\u0002',
    '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}',
    '['.repeat(5_000) + ']'.repeat(5_000),
  ]);
}

/** An envelope with one required field broken (so it can never be valid). */
function brokenEnvelope(random: Random, batchId: string): Record<string, unknown> {
  const base = pick(random, [registration(`b-${Math.floor(random() * 1e6)}`, ['e1']), content(batchId, 'text-x'), pipelineRequest(batchId, 'nlp')]);
  const field = pick(random, ['event_id', 'event_type', 'event_timestamp', 'source_service', 'correlation_id', 'data', 'schema_version']);
  let value = wrongValue(random);
  if (field === 'event_type' && typeof value === 'string') value = `unknown.${value.slice(0, 300)}`;
  return { ...base, [field]: value };
}

/** An envelope whose payload has a wrong field or a huge string. */
function brokenPayload(random: Random, batchId: string): Record<string, unknown> {
  const data = { batch_id: batchId, requested_pipeline: 'nlp', user_id: 'teacher-1' } as Record<string, unknown>;
  data[pick(random, ['batch_id', 'requested_pipeline', 'user_id', 'phases', 'is_retry', 'prompt_payload'])] = pick(random, [42, [], { a: 1 }, 'y'.repeat(300_000), ['spellcheck', 'spellcheck', 'x']]);
  return envelope('huleedu.commands.batch.pipeline.v1', data);
}

function unknownType(random: Random): Record<string, unknown> {
  return envelope(pick(random, ['huleedu.nope.v1', '', ' ', 'a'.repeat(200), '__proto__', 'constructor', 'huleedu.batch.essays.registered.v2']), { x: wrongValue(random) });
}

interface Attempt {
  readonly method: 'post' | 'patch' | 'get';
  readonly path: string;
  readonly body?: unknown;
  readonly raw?: string;
}

function attemptFor(random: Random, batchId: string): Attempt {
  const kind = Math.floor(random() * 9);
  switch (kind) {
    case 0:
      return { method: 'post', path: '/events', raw: brokenJson(random) };
    case 1:
      return { method: 'post', path: '/events', body: brokenEnvelope(random, batchId) };
    case 2:
      return { method: 'post', path: '/events', body: brokenPayload(random, batchId) };
    case 3:
      return { method: 'post', path: '/events', body: pick(random, [unknownType(random), { events: [brokenEnvelope(random, batchId), unknownType(random)] }, { events: wrongValue(random) }]) };
    case 4:
      return { method: 'post', path: '/batches', body: pick(random, [{ course_code: wrongValue(random), expected_essay_count: 1 }, { expected_essay_count: pick(random, [-1, 0, 1.5, 10_001, '2', null, [], {}]), course_code: 'ENG5' }, { expected_essay_count: 1, course_code: 'ENG5', org_id: 'evil' }]) };
    case 5:
      return { method: 'post', path: `/batches/${batchId}/pipelines`, body: { requested_pipeline: wrongValue(random) } };
    case 6:
      return { method: 'patch', path: `/batches/${batchId}/prompt`, body: pick(random, [{}, { student_prompt_ref: wrongValue(random) }, { student_prompt_ref: 'a', assignment_id: 'b' }]) };
    case 7:
      return { method: 'post', path: `/batches/${pick(random, [batchId, 'x'.repeat(300), '%00', '..%2F..'])}/cancel`, body: { reason: 42, extra: true } };
    default:
      return { method: 'get', path: pick(random, ['/batches?limit=abc', '/batches?offset=-1', '/batches?status=nope', '/batches?status=a&status=b', `/batches/${'y'.repeat(300)}`, '/entities/%00/x/history', '/entities/essay/x/history?after=-5', '/machines/essay?format=gif', '/batches?__proto__=1']) };
  }
}

async function send(h: Harness, attempt: Attempt, headers: Record<string, string>): Promise<request.Response> {
  const base = request(h.app)[attempt.method](attempt.path).set(headers);
  if (attempt.raw !== undefined) return base.set('Content-Type', 'application/json').send(attempt.raw);
  return attempt.body === undefined ? base : base.send(attempt.body as object);
}

describe('malformed input through HTTP', () => {
  it('never answers 5xx and never changes the store, with or without credentials (400 generated requests)', async () => {
    const h = makeHarness({ limits: { ratePerWindow: 100_000 } });
    const { batch_id } = await readyBatch(h);
    const before = await fingerprint(h.store);
    const random = prng(20260207);
    const credentials = [{}, { Authorization: `Bearer ${WRONG_TOKEN}` }, { Authorization: 'Bearer' }, bearer('owner'), bearer('other'), bearer('service')];
    const statuses = new Map<number, number>();
    for (let i = 0; i < 400; i += 1) {
      const attempt = attemptFor(random, batch_id);
      const headers = pick(random, credentials);
      const res = await send(h, attempt, headers);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      expect(res.status, `#${i} ${attempt.method.toUpperCase()} ${attempt.path}: ${res.text.slice(0, 300)}`).toBeLessThan(500);
      const described = `#${i} ${attempt.method} ${attempt.path} ${JSON.stringify(attempt.body ?? attempt.raw ?? null).slice(0, 300)} -> ${res.text.slice(0, 300)}`;
      if (res.status === 200) {
        // Only a group answers 200 to bad input: every item must then be answered invalid.
        expect(pluck(res.body.results, 'outcome').every((outcome) => outcome === 'invalid'), described).toBe(true);
      } else {
        expect(res.status, described).toBeGreaterThanOrEqual(400);
      }
      if (res.status >= 400 && res.headers['content-type']?.includes('json') === true) expect(typeof res.body.code, described).toBe('string');
    }
    expect(await fingerprint(h.store)).toEqual(before);
    expect([...statuses.keys()].sort()).toEqual(expect.arrayContaining([400, 401, 404, 422]));
  });
});
