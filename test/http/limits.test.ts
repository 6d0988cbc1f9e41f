import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import type { DispatchResult } from '../../adapters/engine/results.js';
import { LifecycleError } from '../../adapters/errors.js';
import { DEFAULT_LIMITS, resolveLimits } from '../../adapters/http/limits.js';
import { gracefulClose } from '../../server/app.js';
import { envelope } from '../support/envelopes.js';
import { bearer, fingerprint, makeHarness, rawRegistration, readyBatch, TOKENS } from './support.js';

/** A promise with its resolve function, so a test decides when a slow dispatch ends (no sleeping). */
function gate(): { promise: Promise<void>; open: () => void } {
  let open: () => void = () => undefined;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

describe('limits', () => {
  it('has the documented defaults and refuses a limit that is not a positive integer', () => {
    expect(DEFAULT_LIMITS).toMatchObject({ bodyBytes: 1_048_576, eventsPerRequest: 1000, ratePerWindow: 600, rateWindowMs: 60_000, requestTimeoutMs: 30_000, streamSubscribers: 100 });
    expect(() => resolveLimits({ bodyBytes: 0 })).toThrow(/bodyBytes must be a positive integer/);
    expect(() => makeHarness({ limits: { ratePerWindow: 1.5 } })).toThrow(/ratePerWindow/);
  });

  it('answers 413 LIMIT_EXCEEDED for a body over the size limit, naming the limit, and writes nothing', async () => {
    const h = makeHarness({ limits: { bodyBytes: 2_000 } });
    const before = await fingerprint(h.store);
    const huge = rawRegistration('b-big', ['e'], { user_id: 'teacher-1', org_id: 'school-a' });
    (huge.data as Record<string, unknown>).student_prompt_ref = 'x'.repeat(5_000);
    const res = await request(h.app).post('/events').set(bearer('owner')).send(huge);
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ code: 'LIMIT_EXCEEDED', details: { limit: 'body_bytes', max_bytes: 2_000 } });
    expect(res.body.message).toContain('2000 bytes');
    expect(await fingerprint(h.store)).toEqual(before);
  });

  it('answers 415 for a write whose body is not JSON', async () => {
    const h = makeHarness();
    const { batch_id } = await readyBatch(h);
    const before = await fingerprint(h.store);
    const form = await request(h.app).post(`/batches/${batch_id}/cancel`).set(bearer('owner')).type('form').send('reason=x');
    expect(form.status).toBe(415);
    expect(form.body.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    const text = await request(h.app).post('/events').set(bearer('owner')).set('Content-Type', 'text/plain').send('{"a":1}');
    expect(text.status).toBe(415);
    expect(await fingerprint(h.store)).toEqual(before);
  });

  it('answers 400 (not 5xx) for malformed JSON without quoting it back', async () => {
    const h = makeHarness();
    const res = await request(h.app).post('/events').set(bearer('owner')).set('Content-Type', 'application/json').send('{"event_id": secret-looking-garbage');
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('INVALID_REQUEST');
    expect(res.text).not.toContain('secret-looking-garbage');
  });

  it('answers 400 INVALID_REQUEST (not 500) for a body that is not in its declared Content-Encoding, and writes nothing', async () => {
    const h = makeHarness();
    const before = await fingerprint(h.store);
    const res = await request(h.app).post('/events').set(bearer('owner')).set('Content-Type', 'application/json').set('Content-Encoding', 'gzip').send('{"a":1}');
    expect([res.status, res.body.code, res.body.message]).toEqual([400, 'INVALID_REQUEST', 'request body could not be decoded as its Content-Encoding says']);
    expect(await fingerprint(h.store)).toEqual(before);
  });

  it('answers 429 with Retry-After once a principal exceeds its rate; other principals are counted apart', async () => {
    const h = makeHarness({ limits: { ratePerWindow: 3, rateWindowMs: 60_000 } });
    for (let i = 0; i < 3; i += 1) expect((await request(h.app).get('/counts').set(bearer('owner'))).status).toBe(200);
    const limited = await request(h.app).get('/counts').set(bearer('owner'));
    expect(limited.status).toBe(429);
    expect(limited.body).toMatchObject({ code: 'LIMIT_EXCEEDED', details: { limit: 'rate', max_requests: 3, window_seconds: 60 } });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect((await request(h.app).get('/counts').set(bearer('other'))).status).toBe(200);
  });

  it('answers 503 when a request outlives the timeout; the work it started still commits', async () => {
    const slow = gate();
    const h = makeHarness({
      limits: { requestTimeoutMs: 20 },
      wrapEngine: (engine) => ({
        machines: engine.machines,
        prepare: (raw) => engine.prepare(raw),
        subscribe: (listener) => engine.subscribe(listener),
        force: (request) => engine.force(request),
        dispatchMany: (raws) => engine.dispatchMany(raws),
        dispatch: async (raw): Promise<DispatchResult> => {
          await slow.promise;
          return engine.dispatch(raw);
        },
      }),
    });
    const pending = request(h.app).post('/events').set(bearer('owner')).send(rawRegistration('b-slow', ['e'], { user_id: 'teacher-1', org_id: 'school-a' }));
    const res = await pending;
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ code: 'LIMIT_EXCEEDED', details: { limit: 'request_timeout', timeout_ms: 20 } });
    slow.open();
    await expect.poll(async () => (await h.queries.entity('batch', 'b-slow'))?.status, { timeout: 2_000 }).toBe('awaiting_content_validation');
  });
});

describe('logging', () => {
  it('logs one pino-http line per request with id, method, path, status, response time and principal, never bodies, headers or tokens', async () => {
    const h = makeHarness();
    const res = await request(h.app).post('/batches?token=query-secret').set(bearer('owner')).set('X-Request-ID', 'req-abc-1').set('X-Custom-Header', 'header-marker-xyz').send({ expected_essay_count: 1, course_code: 'ENG5', student_prompt_ref: 'body-marker-xyz' });
    expect(res.status).toBe(201);
    expect(res.headers['x-request-id']).toBe('req-abc-1');
    const lines = h.logs.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.msg === 'request completed');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 30, req: { id: 'req-abc-1', method: 'POST', url: '/batches' }, res: { statusCode: 201 }, principal: 'teacher-1' });
    expect(typeof lines[0]?.responseTime).toBe('number');
    const all = h.logs.join('\n');
    for (const secret of [TOKENS.owner, 'query-secret', 'body-marker-xyz', 'header-marker-xyz']) expect(all).not.toContain(secret);
  });

  it('logs a refused request at level warn and an anonymous one with principal null', async () => {
    const h = makeHarness();
    const res = await request(h.app).post('/batches').send({ expected_essay_count: 1, course_code: 'ENG5' });
    expect(res.status).toBe(401);
    const [line] = h.logs.map((text) => JSON.parse(text) as Record<string, unknown>).filter((entry) => entry.msg === 'request completed');
    expect(line).toMatchObject({ level: 40, res: { statusCode: 401 }, principal: null });
  });

  it('replaces a request id that is not a short token', async () => {
    const h = makeHarness();
    const res = await request(h.app).get('/machines').set('X-Request-ID', 'x'.repeat(200));
    expect(res.headers['x-request-id']).not.toBe('x'.repeat(200));
  });
});

describe('graceful shutdown', () => {
  it('gracefulClose waits for the request in flight to commit, then resolves', async () => {
    const entered = gate();
    const slow = gate();
    const h = makeHarness({
      wrapEngine: (engine) => ({
        machines: engine.machines,
        prepare: (raw) => engine.prepare(raw),
        subscribe: (listener) => engine.subscribe(listener),
        force: (request) => engine.force(request),
        dispatchMany: (raws) => engine.dispatchMany(raws),
        dispatch: async (raw): Promise<DispatchResult> => {
          entered.open();
          await slow.promise;
          return engine.dispatch(raw);
        },
      }),
    });
    const server = h.app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    const { port } = server.address() as AddressInfo;
    const inFlight = fetch(`http://127.0.0.1:${port}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKENS.owner}` },
      body: JSON.stringify(rawRegistration('b-drain', ['e'], { user_id: 'teacher-1', org_id: 'school-a' })),
    });
    await entered.promise;
    let closed = false;
    const closing = gracefulClose(server, h.app).then(() => {
      closed = true;
    });
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(closed).toBe(false);
    slow.open();
    expect((await inFlight).status).toBe(200);
    await closing;
    expect(closed).toBe(true);
    expect((await h.queries.entity('batch', 'b-drain'))?.status).toBe('awaiting_content_validation');
  });

  it('answers 503 SHUTTING_DOWN to requests that arrive while draining', async () => {
    const h = makeHarness();
    await (h.app.locals as { drain: () => Promise<void> }).drain();
    const res = await request(h.app).post('/events').set(bearer('owner')).send(envelope('x', {}));
    expect(res.status).toBe(503);
    expect(res.body.code).toBe('SHUTTING_DOWN');
  });
});

describe('failures inside the engine', () => {
  const failing = (error: unknown) =>
    makeHarness({
      wrapEngine: (engine) => ({
        machines: engine.machines,
        prepare: (raw) => engine.prepare(raw),
        subscribe: (listener) => engine.subscribe(listener),
        force: (request) => engine.force(request),
        dispatchMany: (raws) => engine.dispatchMany(raws),
        dispatch: () => Promise.reject(error instanceof Error ? error : new Error(String(error))),
      }),
    });

  it('answers an unexpected error with a 500 naming only the request id, and logs it with its stack', async () => {
    const h = failing(new Error('disk on fire at /var/secret/path'));
    const res = await request(h.app).post('/batches').set(bearer('owner')).set('X-Request-ID', 'req-500').send({ expected_essay_count: 1, course_code: 'ENG5' });
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ code: 'INTERNAL_ERROR', message: expect.stringContaining('request id') as unknown, details: { request_id: 'req-500' } });
    expect(res.text).not.toContain('/var/secret/path');
    expect(h.logs.some((line) => line.includes('"msg":"request failed"') && line.includes('disk on fire'))).toBe(true);
  });

  it('answers a store failure with 503 and keeps the driver message in the log only', async () => {
    const h = failing(new LifecycleError('STORE_FAILURE', 'sqlite commit failed: SQLITE_IOERR at /data/x.db'));
    const res = await request(h.app).post('/batches').set(bearer('owner')).send({ expected_essay_count: 1, course_code: 'ENG5' });
    expect(res.status).toBe(503);
    expect(res.body.code).toBe('STORE_FAILURE');
    expect(res.text).not.toContain('SQLITE_IOERR');
  });
});
