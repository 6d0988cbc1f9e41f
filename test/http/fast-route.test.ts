/**
 * `POST /events` is served in front of express's router (adapters/http/fast-route.ts). These
 * tests send one corpus of good and bad requests to two identical apps, one through the fast
 * path and one through express's router (the same app function called as a mounted app, which
 * the fast path never takes), and require byte-identical answers: status, headers, body, and
 * the same request log lines.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import type express from 'express';
import { pino } from 'pino';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LifecycleEngine } from '../../adapters/engine/engine.js';
import { LifecycleQueries } from '../../adapters/engine/queries.js';
import { bearerTokenAuthenticator } from '../../adapters/http/auth.js';
import type { HttpLimits } from '../../adapters/http/limits.js';
import { createMemoryStore } from '../../adapters/memory/store.js';
import { type AppLocals, createApp } from '../../server/app.js';
import { content, envelope, spellchecked } from '../support/envelopes.js';
import { PRINCIPALS, rawRegistration, TOKENS, WRONG_TOKEN, type Who } from './support.js';

interface Served {
  readonly handler: (req: IncomingMessage, res: ServerResponse) => void;
  readonly logs: string[];
  readonly drain: () => Promise<void>;
  /** Requests that went through express's router. */
  readonly routed: () => number;
}

/** An app with a deterministic id factory; `viaExpress` calls it as a mounted app (with a `next`), which takes express's router. */
function serve(viaExpress: boolean, limits: Partial<HttpLimits>): Served {
  const store = createMemoryStore();
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      logs.push(chunk.toString('utf8'));
      callback();
    },
  });
  let ids = 0;
  const app = createApp({
    engine: new LifecycleEngine({ store, invariants: 'refuse' }),
    queries: new LifecycleQueries(store),
    logger: pino({ level: 'debug' }, sink),
    authenticate: bearerTokenAuthenticator(Object.entries(PRINCIPALS).map(([who, principal]) => ({ token: TOKENS[who as Who], principal }))),
    newId: () => `id-${(ids += 1)}`,
    limits,
  });
  // Counts the requests express's router walked (the fast path never calls it).
  const router = (app as unknown as { router: { handle: (...args: unknown[]) => void } }).router;
  let routed = 0;
  const handle = router.handle.bind(router);
  router.handle = (...args: unknown[]) => {
    routed += 1;
    handle(...args);
  };
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    if (!viaExpress) return void app(req as express.Request, res as express.Response);
    app(req as express.Request, res as express.Response, () => {
      res.statusCode = 599;
      res.end('fell through the router');
    });
  };
  return { handler, logs, drain: () => (app.locals as AppLocals).drain(), routed: () => routed };
}

interface Sample {
  readonly name: string;
  readonly path?: string;
  readonly headers: Record<string, string>;
  readonly body?: string;
}

const json = { 'Content-Type': 'application/json' };
const as = (who: Who): Record<string, string> => ({ ...json, Authorization: `Bearer ${TOKENS[who]}` });
const text = (value: unknown): string => JSON.stringify(value);
const BATCH = 'fast-batch-1';
const registered = rawRegistration(BATCH, ['fast-essay-1'], { user_id: 'teacher-1', org_id: 'school-a' });
const prompt = (ref: string, user = 'teacher-1') => envelope('huleedu.batch.prompt.attached.v1', { batch_id: BATCH, user_id: user, student_prompt_ref: ref });

/** Good and bad requests, in order (later ones depend on the batch the first registers). */
const CORPUS: readonly Sample[] = [
  { name: 'registration by its owner', headers: as('owner'), body: text(registered) },
  { name: 'the same event again (duplicate)', headers: as('owner'), body: text(registered) },
  { name: 'content as a group, by the service', headers: as('service'), body: text({ events: [content(BATCH, 'text-fast-1')] }) },
  { name: 'prompt attached, with a query string', path: '/events?trace=1', headers: as('owner'), body: text(prompt('p-1')) },
  { name: 'a caller request id echoed', headers: { ...as('owner'), 'X-Request-ID': 'caller-id-1' }, body: text(prompt('p-2')) },
  { name: 'a request id that is not a short token replaced', headers: { ...as('owner'), 'X-Request-ID': 'bad id!' }, body: text(prompt('p-3')) },
  { name: 'another user (403)', headers: as('other'), body: text(prompt('p-4', 'teacher-2')) },
  { name: 'a payload naming another user (403)', headers: as('owner'), body: text(prompt('p-5', 'teacher-2')) },
  { name: 'a result the essay is in no state to take (409)', headers: as('service'), body: text(spellchecked(BATCH, 'fast-essay-1', true)) },
  { name: 'no credentials (401)', headers: json, body: text(prompt('p-6')) },
  { name: 'a wrong token (401)', headers: { ...json, Authorization: `Bearer ${WRONG_TOKEN}` }, body: text(prompt('p-7')) },
  { name: 'text/plain (415)', headers: { ...as('owner'), 'Content-Type': 'text/plain' }, body: text(prompt('p-8')) },
  { name: 'a latin1 charset (415)', headers: { ...as('owner'), 'Content-Type': 'application/json; charset=latin1' }, body: text(prompt('p-9')) },
  { name: 'gzip content encoding of a body that is not gzip (400)', headers: { ...as('owner'), 'Content-Encoding': 'gzip' }, body: text(prompt('p-10')) },
  { name: 'a +json media type', headers: { ...as('owner'), 'Content-Type': 'application/vnd.api+json' }, body: text(prompt('p-11')) },
  { name: 'malformed JSON (400)', headers: as('owner'), body: '{"event_id": garbage' },
  { name: 'a JSON string, not an object (400)', headers: as('owner'), body: '"just a string"' },
  { name: 'an array (400)', headers: as('owner'), body: text([prompt('p-12')]) },
  { name: 'no body at all', headers: { Authorization: `Bearer ${TOKENS.owner}` } },
  { name: 'an unknown event type (422)', headers: as('owner'), body: text(envelope('huleedu.nothing.v1', { batch_id: BATCH })) },
  { name: 'a body over the size limit (413)', headers: as('owner'), body: text({ ...prompt('p-13'), pad: 'x'.repeat(5_000) }) },
  { name: 'a group over the event limit (413)', headers: as('service'), body: text({ events: [1, 2, 3, 4].map((n) => prompt(`p-g${n}`)) }) },
  { name: 'a group with an invalid item', headers: as('owner'), body: text({ events: [prompt('p-14'), { event_type: 'nope' }] }) },
  { name: 'an internal event (403 SENDER_NOT_ALLOWED)', headers: as('service'), body: text(envelope('huleedu.els.batch.essays.ready.v1', { batch_id: BATCH })) },
];

/** Everything of an answer but the Date header. */
function answerOf(res: request.Response): unknown {
  const { date: _date, ...headers } = res.headers as Record<string, unknown>;
  return { status: res.status, headers, body: res.text };
}

/** A log line without what differs between two runs (time, duration, process). */
function logOf(line: string): unknown {
  const { time: _time, responseTime: _responseTime, pid: _pid, hostname: _hostname, ...rest } = JSON.parse(line) as Record<string, unknown>;
  return rest;
}

async function send(target: Served, sample: Sample): Promise<unknown> {
  let call = request(target.handler).post(sample.path ?? '/events');
  for (const [name, value] of Object.entries(sample.headers)) call = call.set(name, value);
  const res = await (sample.body === undefined ? call : call.send(sample.body));
  return answerOf(res);
}

const LIMITS = { bodyBytes: 2_000, eventsPerRequest: 3 } as const;

describe('POST /events in front of express', () => {
  // A still clock: the rate limit's reset seconds and the log times are then the same for both apps.
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-03-01T12:00:00.000Z'));
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('answers every request of the corpus exactly as express routing does: status, headers, body and log lines', async () => {
    const fast = serve(false, LIMITS);
    const routed = serve(true, LIMITS);
    const statuses = new Set<number>();
    for (const sample of CORPUS) {
      const expected = await send(routed, sample);
      expect(await send(fast, sample), sample.name).toEqual(expected);
      statuses.add((expected as { status: number }).status);
    }
    expect([...statuses].sort()).toEqual([200, 400, 401, 403, 409, 413, 415, 422]);
    expect(fast.logs.map(logOf)).toEqual(routed.logs.map(logOf));
    expect(fast.logs.filter((line) => line.includes('"req":{'))).toHaveLength(CORPUS.length);
    expect({ fast: fast.routed(), routed: routed.routed() }).toEqual({ fast: 0, routed: CORPUS.length });
  });

  it('answers the rate limit (429 with its headers) and a draining server (503) exactly as express routing does', async () => {
    const fast = serve(false, { ratePerWindow: 2 });
    const routed = serve(true, { ratePerWindow: 2 });
    const samples = [1, 2, 3].map((n): Sample => ({ name: `prompt ${n}`, headers: as('owner'), body: text(prompt(`rate-${n}`)) }));
    const answers: unknown[] = [];
    for (const sample of samples) {
      const expected = await send(routed, sample);
      expect(await send(fast, sample), sample.name).toEqual(expected);
      answers.push(expected);
    }
    expect(answers.at(-1)).toMatchObject({ status: 429 });
    await Promise.all([fast.drain(), routed.drain()]);
    const draining = await send(routed, samples[0] as Sample);
    expect(draining).toMatchObject({ status: 503, headers: { connection: 'close' } });
    expect(await send(fast, samples[0] as Sample)).toEqual(draining);
    expect(fast.logs.map(logOf)).toEqual(routed.logs.map(logOf));
  });

  it('leaves every other request to express: another method, a longer path, a trailing slash', async () => {
    const fast = serve(false, {});
    const routed = serve(true, {});
    for (const [method, path] of [['GET', '/events'], ['POST', '/events/x'], ['POST', '/events/'], ['POST', '/eventsx']] as const) {
      const fastAnswer = answerOf(await request(fast.handler)[method === 'GET' ? 'get' : 'post'](path).set(as('owner')).send('{}'));
      const routedAnswer = answerOf(await request(routed.handler)[method === 'GET' ? 'get' : 'post'](path).set(as('owner')).send('{}'));
      expect(fastAnswer, `${method} ${path}`).toEqual(routedAnswer);
    }
    expect(fast.routed()).toBe(4);
  });
});
