/**
 * HTTP throughput with autocannon (in this process, 10 connections) against the real `createApp`
 * (SQLite file store, synchronous NORMAL, no simulator, an open authenticator, rate limit lifted,
 * silent logger, listening on 127.0.0.1:0), and against a bare express floor measured in the same
 * run: one `POST` route doing the same durable transition by hand (load the row, hydrate an actor,
 * send, persist snapshot + audit row in one transaction: the engine bench's raw durable floor).
 *
 * Every request carries fresh event ids (`setupRequest`); the events are `prompt.attached` on
 * ready batches, one transition each. After each run the audit is counted: every 2xx answer must
 * have committed its events as accepted. Both servers run side by side with the same body
 * limit (1 MiB), store and durability; every measured run gets the same unmeasured warm-up
 * (same load, a fifth of the time), and the figures are interleaved over rounds (median
 * reported) so that the floor and the app see the same machine load.
 */
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import type Database from 'better-sqlite3';
import express from 'express';
import { pino } from 'pino';
import { createActor } from 'xstate';
import { LifecycleEngine } from '../../adapters/engine/engine.js';
import { benchEnvelopes, seedReadyBatches } from './envelopes.js';
import { LifecycleQueries } from '../../adapters/engine/queries.js';
import { openAuthenticator } from '../../adapters/http/auth.js';
import { openSqliteStore, type SqliteStore } from '../../adapters/sqlite/store.js';
import { batchMachine } from '../../machines/batch/index.js';
import { createApp } from '../../server/app.js';

/** One measured HTTP run. */
export interface HttpRate {
  readonly name: string;
  /** 2xx answers per second. */
  readonly requestsPerSecond: number;
  /** Events committed per second (requests x events per request). */
  readonly eventsPerSecond: number;
  readonly p99Ms: number;
  readonly p50Ms: number;
  readonly requests: number;
  readonly seconds: number;
}

/** A figure: the median round (by requests per second) and the slowest and fastest round's rate. */
export interface HttpFigure extends HttpRate {
  readonly rounds: number;
  readonly minRequestsPerSecond: number;
  readonly maxRequestsPerSecond: number;
}

const BATCHES = 200;
const GROUP = 200;
const CONNECTIONS = 10;
const PROMPT_ATTACHED = 'huleedu.batch.prompt.attached.v1';

const bench = benchEnvelopes('bench-http');
const envelope = bench.envelope;

const batchId = (b: number): string => `bench-http-batch-${b}`;

function promptAttached(): Record<string, unknown> {
  return envelope(PROMPT_ATTACHED, { batch_id: batchId(bench.sequence % BATCHES), user_id: 'bench', student_prompt_ref: `prompt-${bench.sequence}` });
}

async function seed(engine: LifecycleEngine): Promise<void> {
  await seedReadyBatches(engine, envelope, batchId, BATCHES);
}

function acceptedCount(db: Database.Database): number {
  return db.prepare<[string], { n: number }>("SELECT COUNT(*) AS n FROM audit WHERE event_type = ? AND outcome = 'accepted'").get(PROMPT_ATTACHED)?.n ?? 0;
}

async function listen(handler: express.Express): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}` };
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

function post(url: string, seconds: number, body: () => unknown): Promise<autocannon.Result> {
  return autocannon({
    url,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [
      {
        method: 'POST',
        path: '/events',
        headers: { 'content-type': 'application/json' },
        setupRequest: (request) => ({ ...request, body: JSON.stringify(body()) }),
      },
    ],
  });
}

/** The unmeasured warm-up: the same load for a fifth of the time, then until its last commits landed. */
async function warmUp(url: string, db: Database.Database, seconds: number, body: () => unknown): Promise<void> {
  await post(url, Math.max(1, Math.round(seconds / 5)), body);
  for (let last = -1, now = acceptedCount(db); now !== last; last = now, now = acceptedCount(db)) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** autocannon on POST /events with a fresh body per request (after the warm-up); checks that every 2xx committed. */
async function load(name: string, url: string, db: Database.Database, seconds: number, body: () => unknown, eventsPerRequest: number): Promise<HttpRate> {
  await warmUp(url, db, seconds, body);
  const before = acceptedCount(db);
  const result = await post(url, seconds, body);
  const ok = result['2xx'];
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${name}: ${result.non2xx} non-2xx answers and ${result.errors} errors in ${ok + result.non2xx} requests`);
  // Requests still in flight when autocannon stops are committed but not counted: at most one per connection.
  const committed = acceptedCount(db) - before;
  if (committed < ok * eventsPerRequest || committed > (ok + CONNECTIONS) * eventsPerRequest) {
    throw new Error(`${name}: ${ok} answers of ${eventsPerRequest} events but ${committed} accepted audit rows`);
  }
  return {
    name,
    requestsPerSecond: ok / result.duration,
    eventsPerSecond: (ok * eventsPerRequest) / result.duration,
    p99Ms: result.latency.p99,
    p50Ms: result.latency.p50,
    requests: ok,
    seconds: result.duration,
  };
}

function tempStore(): { store: SqliteStore; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'lifecycle-bench-http-'));
  return { store: openSqliteStore({ path: join(dir, 'http.db') }), dir };
}

/** A server under load, with its own store. */
interface Target {
  readonly url: string;
  readonly db: Database.Database;
  readonly close: () => Promise<void>;
}

async function serve(app: express.Express, store: SqliteStore, dir: string): Promise<Target> {
  const { server, url } = await listen(app);
  return {
    url,
    db: store.db,
    close: async () => {
      await close(server);
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The real app on a SQLite file (`groupCommitEvents` 1 turns the cross-request coalescer off). */
async function realApp(groupCommitEvents?: number): Promise<Target> {
  const { store, dir } = tempStore();
  const engine = new LifecycleEngine({ store });
  await seed(engine);
  const app = createApp({
    engine,
    queries: new LifecycleQueries(store),
    logger: pino({ level: 'silent' }),
    authenticate: openAuthenticator({ user_id: 'bench-service', org_id: null, roles: [], kind: 'service' }),
    limits: { ratePerWindow: 1_000_000_000, ...(groupCommitEvents === undefined ? {} : { groupCommitEvents }) },
  });
  return serve(app, store, dir);
}

/** The floor: bare express, one route doing the raw durable transition by hand. */
async function bareExpress(): Promise<Target> {
  const { store, dir } = tempStore();
  await seed(new LifecycleEngine({ store }));
  const db = store.db;
  const loadRow = db.prepare<[string, string], { snapshot: string; version: number }>('SELECT snapshot, version FROM entities WHERE machine = ? AND entity_id = ?');
  const save = db.prepare('UPDATE entities SET snapshot = ?, status = ?, version = version + 1, updated_at = ? WHERE machine = ? AND entity_id = ?');
  const audit = db.prepare(
    "INSERT INTO audit (event_id, event_type, correlation_id, causation_id, machine, entity_id, from_status, to_status, outcome, reason, entity_version, envelope, recorded_at) VALUES (?, ?, ?, NULL, 'batch', ?, ?, ?, 'accepted', NULL, ?, ?, ?)",
  );
  const step = db.transaction((env: Record<string, unknown>) => {
    const data = env.data as Record<string, unknown>;
    const id = String(data.batch_id);
    const row = loadRow.get('batch', id);
    if (row === undefined) throw new Error(`missing ${id}`);
    const persisted = JSON.parse(row.snapshot) as { value: string };
    const actor = createActor(batchMachine, { snapshot: batchMachine.resolveState(persisted as never), input: undefined as never }).start();
    const meta = { event_id: env.event_id, event_type: env.event_type, correlation_id: env.correlation_id, timestamp: env.event_timestamp, source_service: env.source_service };
    actor.send({ type: 'PROMPT_ATTACHED', data, meta } as never);
    const snapshot = actor.getPersistedSnapshot() as unknown as { value: string };
    actor.stop();
    const now = new Date().toISOString();
    save.run(JSON.stringify(snapshot), snapshot.value, now, 'batch', id);
    audit.run(env.event_id, env.event_type, env.correlation_id, id, persisted.value, snapshot.value, row.version + 1, JSON.stringify(env), now);
    return { from: persisted.value, to: snapshot.value };
  });
  const app = express();
  app.use(express.json({ limit: '1mb' }));
  app.post('/events', (req, res) => {
    const env = req.body as Record<string, unknown>;
    const { from, to } = step(env);
    res.status(200).json({ event_id: env.event_id, outcome: 'accepted', from, to });
  });
  return serve(app, store, dir);
}

/** The median round of one figure (by requests per second), with its spread. */
function median(rounds: readonly HttpRate[]): HttpFigure {
  const sorted = [...rounds].sort((x, y) => x.requestsPerSecond - y.requestsPerSecond);
  const middle = sorted[Math.floor(sorted.length / 2)] as HttpRate;
  const min = (sorted[0] as HttpRate).requestsPerSecond;
  const max = (sorted[sorted.length - 1] as HttpRate).requestsPerSecond;
  return { ...middle, rounds: sorted.length, minRequestsPerSecond: min, maxRequestsPerSecond: max };
}

const groupOf = (): unknown => ({ events: Array.from({ length: GROUP }, promptAttached) });

/**
 * Every HTTP measurement of the run: [bare floor, app single, app grouped, app single with the
 * coalescer off]. The servers run side by side; each figure is measured in `rounds` rounds of
 * `seconds` (the figures interleaved round by round, so a floor and the app it is compared with see
 * the same machine load) and its median round is reported with the spread of its rounds.
 */
export async function benchHttp(seconds: number, rounds = 3): Promise<HttpFigure[]> {
  const floor = await bareExpress();
  const app = await realApp();
  const uncoalesced = await realApp(1);
  try {
    const figures: Array<() => Promise<HttpRate>> = [
      () => load('bare express + raw durable transition, 1 event', floor.url, floor.db, seconds, promptAttached, 1),
      () => load('createApp POST /events, 1 event', app.url, app.db, seconds, promptAttached, 1),
      () => load(`createApp POST /events, { events: [${GROUP}] }`, app.url, app.db, seconds, groupOf, GROUP),
      () => load('createApp POST /events, 1 event, coalescer off', uncoalesced.url, uncoalesced.db, seconds, promptAttached, 1),
    ];
    const measured: HttpRate[][] = figures.map(() => []);
    for (let round = 0; round < rounds; round += 1) {
      for (const [index, figure] of figures.entries()) measured[index]?.push(await figure());
    }
    return measured.map(median);
  } finally {
    await floor.close();
    await app.close();
    await uncoalesced.close();
  }
}

export { GROUP as HTTP_GROUP, CONNECTIONS as HTTP_CONNECTIONS };
