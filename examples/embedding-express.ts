/**
 * Guide docs/embedding-express.md: the engine's HTTP API mounted under /lifecycle in an
 * existing express app that has its own routes and its own authentication.
 * Run it with `npx tsx examples/embedding-express.ts`; test/examples-guides.test.ts runs it too.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { pino } from 'pino';
import { LifecycleEngine, LifecycleError, LifecycleQueries } from 'essay-lifecycle-statecharts';
import { createLifecycleRouter, defaultAuthorize, type Authenticator, type AuthorizePolicy, type Principal } from 'essay-lifecycle-statecharts/http';
import { openSqliteStore } from 'essay-lifecycle-statecharts/sqlite';

// --- Your application's own identity system (here: API keys in a map) -------------------------

interface Account {
  readonly id: string;
  readonly school: string | null;
  readonly support: boolean;
}
const ACCOUNTS = new Map<string, Account>([
  ['key-teacher-0123456789', { id: 'teacher-1', school: 'school-a', support: false }],
  ['key-support-0123456789', { id: 'helpdesk-1', school: null, support: true }],
]);

/**
 * The authenticator the router runs on every request: a Principal, `undefined` when the request
 * carries no credentials (protected routes then answer 401), or a throw when it carries bad ones
 * (LifecycleError UNAUTHENTICATED answers 401 "invalid credentials"; any other error 401
 * "credentials could not be verified"). Never echo the credential in an error.
 */
export const authenticate: Authenticator = (req) => {
  const key = req.headers['x-api-key'];
  if (key === undefined) return undefined;
  const account = typeof key === 'string' ? ACCOUNTS.get(key) : undefined;
  if (account === undefined) throw new LifecycleError('UNAUTHENTICATED', 'unknown API key');
  const principal: Principal = { user_id: account.id, org_id: account.school, roles: account.support ? ['support'] : [], kind: 'user' };
  return principal;
};

/** The default ownership policy, plus: your support staff may read every batch. */
export const authorize: AuthorizePolicy = (principal, action, resource) =>
  (principal.roles.includes('support') && action === 'batch.read') || defaultAuthorize(principal, action, resource);

// --- The host application ----------------------------------------------------------------------

/** Builds your app with the lifecycle API mounted under /lifecycle. */
export function buildApp(path = ':memory:') {
  const store = openSqliteStore({ path });
  const engine = new LifecycleEngine({ store });
  const router = createLifecycleRouter({
    engine,
    queries: new LifecycleQueries(store),
    logger: pino({ level: 'silent' }), // your pino logger: request lines and unexpected errors
    authenticate,
    authorize,
    limits: { ratePerWindow: 1200 }, // overrides of DEFAULT_LIMITS
  });

  const app = express();
  app.disable('x-powered-by');
  app.get('/health', (_req, res) => {
    res.json({ ok: true });
  });
  // The router parses its own JSON bodies (with its size limit): mount it before a global
  // express.json(), or give that parser only your own paths.
  app.use('/lifecycle', router);
  app.use(express.json());
  app.post('/my-own-route', (req, res) => {
    res.json({ echoed: req.body as unknown });
  });
  app.use((_req, res) => {
    res.status(404).json({ error: 'not found' });
  });

  /** Graceful shutdown: the router refuses new requests (503), ends its event streams, waits for requests in flight. */
  const close = async (server: Server): Promise<void> => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    await router.drain();
    server.closeIdleConnections();
    await closed;
    await store.close();
  };
  return { app, engine, store, close };
}

/** Starts the app on a free port, registers a batch over HTTP as a teacher, reads it back. */
export async function main(): Promise<Record<string, number | string>> {
  const { app, close } = buildApp();
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const teacher = { 'x-api-key': 'key-teacher-0123456789', 'content-type': 'application/json' };
  try {
    const created = await fetch(`${base}/lifecycle/batches`, {
      method: 'POST',
      headers: teacher,
      body: JSON.stringify({ expected_essay_count: 2, course_code: 'ENG5', student_prompt_ref: 'prompt-1' }),
    });
    const { batch_id, status } = (await created.json()) as { batch_id: string; status: string };
    const read = await fetch(`${base}/lifecycle/batches/${batch_id}`, { headers: teacher });
    const bySupport = await fetch(`${base}/lifecycle/batches/${batch_id}`, { headers: { 'x-api-key': 'key-support-0123456789' } });
    const anonymous = await fetch(`${base}/lifecycle/batches/${batch_id}`);
    const badKey = await fetch(`${base}/lifecycle/batches/${batch_id}`, { headers: { 'x-api-key': 'nope' } });
    const machines = await fetch(`${base}/lifecycle/machines`); // public
    const health = await fetch(`${base}/health`);
    const unknown = await fetch(`${base}/elsewhere`);
    return {
      created: created.status,
      status,
      read: read.status,
      bySupport: bySupport.status,
      anonymous: anonymous.status,
      badKey: badKey.status,
      machines: machines.status,
      health: health.status,
      unknown: unknown.status,
    };
  } finally {
    await close(server);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await main());
