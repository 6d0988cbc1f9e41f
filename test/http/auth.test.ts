import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket, type AddressInfo } from 'node:net';
import helmet from 'helmet';
import { describe, expect, it } from 'vitest';
import { bearerTokenAuthenticator, defaultAuthorize, isLoopbackHost, openAuthenticator, type Principal, type Resource } from '../../adapters/http/auth.js';
import { isLifecycleError } from '../../adapters/errors.js';
import { fingerprint, makeHarness, PRINCIPALS, rawRegistration, TOKENS, WRONG_TOKEN } from './support.js';

const teacher: Principal = PRINCIPALS.owner;
const headers = (authorization?: string) => ({ headers: authorization === undefined ? {} : { authorization } });

describe('bearerTokenAuthenticator', () => {
  const authenticate = bearerTokenAuthenticator([{ token: TOKENS.owner, principal: teacher }]);

  it('answers the principal of a known token, undefined without a header', async () => {
    expect(await authenticate(headers(`Bearer ${TOKENS.owner}`))).toEqual(teacher);
    expect(await authenticate(headers(`bearer ${TOKENS.owner}`))).toEqual(teacher);
    expect(await authenticate(headers())).toBeUndefined();
  });

  it('throws UNAUTHENTICATED for a wrong, truncated or malformed credential, never quoting it', () => {
    for (const value of [`Bearer ${WRONG_TOKEN}`, `Bearer ${TOKENS.owner.slice(0, -1)}`, `Bearer ${TOKENS.owner}x`, 'Basic abc', `Token ${TOKENS.owner}`, 'Bearer', 'Bearer a b']) {
      let caught: unknown;
      try {
        void authenticate(headers(value));
      } catch (error) {
        caught = error;
      }
      expect(isLifecycleError(caught, 'UNAUTHENTICATED'), value).toBe(true);
      expect((caught as Error).message).not.toContain(TOKENS.owner.slice(0, 10));
    }
  });

  it('refuses weak, duplicated or malformed configuration', () => {
    expect(() => bearerTokenAuthenticator([{ token: 'short', principal: teacher }])).toThrow(/at least 16/);
    expect(() => bearerTokenAuthenticator([{ token: TOKENS.owner, principal: teacher }, { token: TOKENS.owner, principal: PRINCIPALS.other }])).toThrow(/distinct/);
    expect(() => bearerTokenAuthenticator([{ token: TOKENS.owner, principal: { ...teacher, kind: 'robot' } as unknown as Principal }])).toThrow(/invalid/);
  });
});

describe('openAuthenticator', () => {
  it('is the same principal for every request, credentials or not', async () => {
    const open = openAuthenticator(PRINCIPALS.admin);
    expect(await open(headers())).toEqual(PRINCIPALS.admin);
    expect(await open(headers(`Bearer ${WRONG_TOKEN}`))).toEqual(PRINCIPALS.admin);
  });
});

describe('isLoopbackHost', () => {
  it.each(['localhost', 'LOCALHOST', ' 127.0.0.1 ', '127.0.0.1', '127.8.9.10', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1'])('%j is loopback', (host) => {
    expect(isLoopbackHost(host)).toBe(true);
  });

  it.each(['0.0.0.0', '::', '[::]', '', '192.168.1.20', '10.0.0.1', '::ffff:10.0.0.1', 'example.com', 'localhost.evil.example', '127.0.0.1.nip.io', '128.0.0.1', '::2'])('%j is not loopback', (host) => {
    expect(isLoopbackHost(host)).toBe(false);
  });
});

describe('defaultAuthorize', () => {
  const batch = (owner: { user_id: string; org_id: string | null } | null): Resource => ({ kind: 'batch', batch_id: 'b', owner });
  const ownedByTeacher = batch({ user_id: 'teacher-1', org_id: 'school-a' });

  it('lets owners, same-organisation colleagues and admins read and write; nobody else', () => {
    expect(defaultAuthorize(PRINCIPALS.owner, 'batch.write', ownedByTeacher)).toBe(true);
    expect(defaultAuthorize(PRINCIPALS.colleague, 'batch.read', ownedByTeacher)).toBe(true);
    expect(defaultAuthorize(PRINCIPALS.admin, 'batch.write', ownedByTeacher)).toBe(true);
    expect(defaultAuthorize(PRINCIPALS.other, 'batch.read', ownedByTeacher)).toBe(false);
    expect(defaultAuthorize(PRINCIPALS.service, 'batch.write', ownedByTeacher)).toBe(false);
  });

  it('never matches on a null organisation, and an unknown owner belongs to nobody', () => {
    const individual = batch({ user_id: 'solo', org_id: null });
    expect(defaultAuthorize({ user_id: 'someone', org_id: null, roles: [], kind: 'user' }, 'batch.read', individual)).toBe(false);
    expect(defaultAuthorize(PRINCIPALS.owner, 'batch.read', batch(null))).toBe(false);
  });

  it('lets services dispatch raw events for any batch, and anyone create batches and read system resources', () => {
    expect(defaultAuthorize(PRINCIPALS.service, 'events.dispatch', ownedByTeacher)).toBe(true);
    expect(defaultAuthorize(PRINCIPALS.other, 'events.dispatch', ownedByTeacher)).toBe(false);
    expect(defaultAuthorize(PRINCIPALS.other, 'batch.create', batch({ user_id: 'teacher-2', org_id: null }))).toBe(true);
    expect(defaultAuthorize(PRINCIPALS.other, 'counts.read', { kind: 'system', name: 'counts' })).toBe(true);
  });
});

describe('a server bound to 0.0.0.0 with bearer tokens', () => {
  it('refuses every write route without a token (401) and writes nothing; a token is accepted', async () => {
    const h = makeHarness();
    const server = h.app.listen(0, '0.0.0.0');
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    const { address, port } = server.address() as AddressInfo;
    expect(isLoopbackHost(address)).toBe(false);
    try {
      const base = `http://127.0.0.1:${port}`;
      const before = await fingerprint(h.store);
      const writes: Array<[string, string, unknown]> = [
        ['POST', '/events', rawRegistration('b-open', ['e'], { user_id: 'teacher-1', org_id: 'school-a' })],
        ['POST', '/batches', { expected_essay_count: 1, course_code: 'ENG5' }],
        ['POST', '/batches/b-open/pipelines', { requested_pipeline: 'nlp' }],
        ['POST', '/batches/b-open/student-associations/confirm', { associations: [] }],
        ['PATCH', '/batches/b-open/prompt', { student_prompt_ref: 'p' }],
        ['POST', '/batches/b-open/close', {}],
        ['POST', '/batches/b-open/cancel', {}],
      ];
      for (const [method, path, body] of writes) {
        const res = await fetch(`${base}${path}`, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
        expect(res.status, `${method} ${path}`).toBe(401);
        expect(res.headers.get('www-authenticate')).toBe('Bearer');
      }
      expect(await fingerprint(h.store)).toEqual(before);
      const withToken = await fetch(`${base}/batches`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKENS.owner}` }, body: JSON.stringify({ expected_essay_count: 1, course_code: 'ENG5' }) });
      expect(withToken.status).toBe(201);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('security headers', () => {
  it('sets helmet headers and hides x-powered-by', async () => {
    const h = makeHarness();
    const server = h.app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/machines`);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
      expect(res.headers.get('x-powered-by')).toBeNull();
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it("sends exactly helmet()'s default headers on reads, dispatch answers and errors", async () => {
    const reference = new ServerResponse(new IncomingMessage(new Socket()));
    helmet()({} as never, reference, () => undefined);
    const expected = Object.entries(reference.getHeaders());
    expect(expected.length).toBeGreaterThan(10);
    const h = makeHarness();
    const server = h.app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const answers = [
        await fetch(`${base}/machines`),
        await fetch(`${base}/events`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKENS.owner}` }, body: JSON.stringify(rawRegistration('b-h', ['e'], { user_id: 'teacher-1', org_id: 'school-a' })) }),
        await fetch(`${base}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }),
      ];
      expect(answers.map((res) => res.status)).toEqual([200, 200, 401]);
      for (const res of answers) {
        for (const [name, value] of expected) expect(res.headers.get(name), name).toBe(String(value));
      }
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
