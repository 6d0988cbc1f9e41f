/**
 * `/stream` reads the store's audit log: a subscriber sees the commits of every process on the
 * store, in audit order, and resumes after a reconnect (Last-Event-ID) with no gap and nothing
 * twice. On SQLite with two engines (two connections to one file, the HTTP app's and another); on
 * PostgreSQL with two lifecycle-worker processes fed by NATS (TEST_POSTGRES_URL and TEST_NATS_URL).
 */
import { get, type ClientRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { LifecycleEngine } from '../../adapters/engine/engine.js';
import { LifecycleQueries } from '../../adapters/engine/queries.js';
import { bearerTokenAuthenticator } from '../../adapters/http/auth.js';
import type { StreamRow } from '../../adapters/http/sse.js';
import { deadLetterStreamOf, leaseStreamOf, publishEnvelope } from '../../adapters/queue/nats.js';
import { partitionOf } from '../../adapters/queue/support.js';
import { openSqliteStore } from '../../adapters/sqlite/store.js';
import type { SnapshotStore } from '../../adapters/store.js';
import { createApp } from '../../server/app.js';
import { PRINCIPALS, TOKENS } from '../http/support.js';
import { registration } from '../support/envelopes.js';
import { runId, spawnWorker, tempDir, waitFor, type Child } from '../queue/support.js';

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Subscription {
  readonly rows: () => StreamRow[];
  readonly ids: () => number[];
  readonly close: () => void;
}

/** Opens `/stream` as the admin, optionally resuming after `lastEventId`. */
function subscribe(port: number, lastEventId?: number): Promise<Subscription> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { Authorization: `Bearer ${TOKENS.admin}` };
    if (lastEventId !== undefined) headers['Last-Event-ID'] = String(lastEventId);
    const req: ClientRequest = get({ host: '127.0.0.1', port, path: '/stream', headers }, (res: IncomingMessage) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      const frames = () => text.split('\n\n').filter((frame) => frame.startsWith('id: '));
      resolve({
        rows: () => frames().map((frame) => JSON.parse(frame.slice(frame.indexOf('data: ') + 6)) as StreamRow),
        ids: () => frames().map((frame) => Number(frame.slice(4, frame.indexOf('\n')))),
        close: () => req.destroy(),
      });
    });
    req.on('error', (error) => (/hang up|aborted/.test(error.message) ? undefined : reject(error)));
    cleanups.push(() => void req.destroy());
  });
}

/** The app on `store` (its own engine), listening; streams poll every 20 ms. */
async function serve(store: SnapshotStore): Promise<number> {
  const engine = new LifecycleEngine({ store });
  const authenticate = bearerTokenAuthenticator([{ token: TOKENS.admin, principal: PRINCIPALS.admin }]);
  const app = createApp({ engine, queries: new LifecycleQueries(store), logger: pino({ level: 'silent' }), authenticate, limits: { streamPollMs: 20 } });
  const server: Server = app.listen(0, '127.0.0.1');
  cleanups.push(() => new Promise<void>((done) => {
    server.closeAllConnections();
    server.close(() => done());
  }));
  await new Promise<void>((done) => server.once('listening', () => done()));
  return (server.address() as AddressInfo).port;
}

async function allPositions(store: SnapshotStore): Promise<number[]> {
  const positions: number[] = [];
  for (let page = await store.auditSince(0, 1000); page.length > 0; page = await store.auditSince(page.at(-1)!.position, 1000)) positions.push(...page.map((row) => row.position));
  return positions;
}

/** Waits until the subscription has received every audit row up to the newest. */
async function caughtUp(sub: Subscription, store: SnapshotStore, what: string): Promise<void> {
  await waitFor(async () => {
    const positions = await allPositions(store);
    return positions.length > 0 && sub.ids().at(-1) === positions.at(-1);
  }, 20_000, what);
}

/** Every position once, in audit order, nothing missing: what a subscriber that resumed must have seen. */
async function expectWholeLog(received: readonly number[], store: SnapshotStore): Promise<void> {
  expect(received).toEqual(await allPositions(store));
}

describe('/stream on SQLite with two engines', () => {
  it('a subscriber receives the commits of both engines in audit order and resumes after a reconnect without gaps', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const path = join(dir, 'stream.db');
    const served = openSqliteStore({ path });
    const other = openSqliteStore({ path });
    cleanups.push(() => served.close(), () => other.close());
    const port = await serve(served);
    const here = new LifecycleEngine({ store: served });
    const elsewhere = new LifecycleEngine({ store: other });

    const first = await subscribe(port);
    for (const [index, engine] of [here, elsewhere, here, elsewhere].entries()) await engine.dispatch(registration(`sq-${index}`, [`sq-${index}-e`]));
    await caughtUp(first, served, 'the first subscription saw every commit');
    const batches = new Set(first.rows().filter((row) => row.machine === 'batch').map((row) => row.entity_id));
    expect(batches).toEqual(new Set(['sq-0', 'sq-1', 'sq-2', 'sq-3']));
    await expectWholeLog(first.ids(), served);

    first.close();
    const seen = first.ids();
    for (const [index, engine] of [elsewhere, here, elsewhere].entries()) await engine.dispatch(registration(`sq-late-${index}`, [`sq-late-${index}-e`]));
    const resumed = await subscribe(port, seen.at(-1));
    await caughtUp(resumed, served, 'the resumed subscription caught up');
    await expectWholeLog([...seen, ...resumed.ids()], served);
  });

  it('starts after the newest row when the client names no position', async () => {
    const store = openSqliteStore({ path: ':memory:' });
    cleanups.push(() => store.close());
    const engine = new LifecycleEngine({ store });
    for (let i = 0; i < 5; i += 1) await engine.dispatch(registration(`old-${i}`, [`old-${i}-e`]));
    const queries = new LifecycleQueries(store);
    expect(await queries.latestAuditPosition()).toBe((await allPositions(store)).at(-1));
    const port = await serve(store);
    const sub = await subscribe(port);
    await engine.dispatch(registration('new', ['new-e']));
    await caughtUp(sub, store, 'the new commit');
    expect(new Set(sub.rows().map((row) => row.entity_id.replace(/-e$/, '')))).toEqual(new Set(['new']));
  });
});

const POSTGRES_URL = process.env.TEST_POSTGRES_URL ?? '';
const NATS_URL = process.env.TEST_NATS_URL ?? '';
const ENABLED = POSTGRES_URL !== '' && NATS_URL !== '';
const SKIP_TITLE = 'skipped: set TEST_POSTGRES_URL and TEST_NATS_URL to run the stream test with two worker processes on PostgreSQL';
if (!ENABLED) console.warn(`test/operator/stream.test.ts ${SKIP_TITLE}`);

/** Batch ids of `prefix`, `perPartition` for each of the two partitions. */
function batchesOfBothPartitions(prefix: string, perPartition: number): string[] {
  const chosen: string[][] = [[], []];
  for (let i = 0; chosen.some((ids) => ids.length < perPartition); i += 1) {
    const id = `${prefix}-${i}`;
    const bucket = chosen[partitionOf(id, 2)]!;
    if (bucket.length < perPartition) bucket.push(id);
  }
  return chosen.flat();
}

(ENABLED ? describe : describe.skip)(ENABLED ? '/stream on PostgreSQL with two worker processes' : SKIP_TITLE, () => {
  it('a subscriber receives the commits of both workers in audit order and resumes after a reconnect without gaps', { timeout: 120_000 }, async () => {
    const id = runId();
    const schema = `lifecycle_stream_${id}`;
    const stream = `LCSTREAM_${id}`;
    const subjectPrefix = `lcstream.${id}.`;
    const { openPostgresStore } = await import('../../adapters/postgres/store.js');
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 1 });
    const nc = await connect({ servers: NATS_URL });
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    const children: Child[] = [];
    cleanups.push(async () => {
      for (const child of children) if (child.process.exitCode === null) child.process.kill('SIGKILL');
      await Promise.all(children.map((child) => child.exited));
      for (const name of [stream, deadLetterStreamOf(stream), leaseStreamOf(stream)]) await jsm.streams.delete(name).catch(() => undefined);
      await nc.drain();
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await pool.end();
    });
    const store = await openPostgresStore({ connectionString: POSTGRES_URL, schema });
    cleanups.push(() => store.close());
    const port = await serve(store);
    const args = ['--store', POSTGRES_URL, '--schema', schema, '--queue', NATS_URL, '--partitions', '2', '--stream', stream, '--durable', `stream-${id}`, '--subject-prefix', subjectPrefix, '--interval-ms', '50', '--no-relay'];
    children.push(spawnWorker([...args, '--owned', '0']), spawnWorker([...args, '--owned', '1']));
    await Promise.all(children.map((child) => child.waitForLine(/ready: store postgres:/, 60_000)));

    const publish = async (ids: readonly string[]) => {
      for (const batchId of ids) await publishEnvelope(js, registration(batchId, [`${batchId}-e`]), { subjectPrefix });
    };
    const first = await subscribe(port);
    const early = batchesOfBothPartitions(`pg-${id}`, 2);
    await publish(early);
    await caughtUpWith(first, store, early);
    await expectWholeLog(first.ids(), store);

    first.close();
    const seen = first.ids();
    const late = batchesOfBothPartitions(`pg-late-${id}`, 2);
    await publish(late);
    const resumed = await subscribe(port, seen.at(-1));
    await caughtUpWith(resumed, store, late);
    await expectWholeLog([...seen, ...resumed.ids()], store);
  });
});

/** Waits until every batch of `batchIds` is registered and the subscription has every row up to the newest. */
async function caughtUpWith(sub: Subscription, store: SnapshotStore, batchIds: readonly string[]): Promise<void> {
  await waitFor(async () => (await Promise.all(batchIds.map((batchId) => store.load('batch', batchId)))).every((row) => row !== undefined), 60_000, 'both workers committed');
  await caughtUp(sub, store, 'the subscription saw the commits of both workers');
  const seen = new Set(sub.rows().filter((row) => row.machine === 'batch').map((row) => row.entity_id));
  for (const batchId of batchIds) expect(seen.has(batchId), `${batchId} (partition ${partitionOf(batchId, 2)})`).toBe(true);
}
