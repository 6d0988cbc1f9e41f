/**
 * The worker command (scripts/worker.ts, future bin `lifecycle-worker`) as a child process: bad
 * arguments exit 2 with a message naming the problem; the embedded queue is drained and SIGTERM
 * ends the process cleanly; with TEST_NATS_URL, the same over JetStream, relay included.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedQueue } from '../../adapters/queue/embedded.js';
import { deadLetterStreamOf, leaseStreamOf, publishEnvelope } from '../../adapters/queue/nats.js';
import { openSqliteStore } from '../../adapters/sqlite/store.js';
import { directRun, dump, freePort, guestBatch, interleave, runId, spawnWorker, tempDir, waitFor } from './support.js';

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('lifecycle-worker: arguments', () => {
  const cases: Array<[string[], RegExp]> = [
    [['--queue', 'kafka://x'], /--queue must be "embedded" or nats:\/\/host:port, got "kafka:\/\/x"/],
    [['--store', 'mysql://x'], /--store must be sqlite:<path> or postgres:\/\/\.\.\., got "mysql:\/\/x"/],
    [['--store', 'postgres://db/x', '--queue', 'embedded'], /with a postgres:\/\/ store use --queue nats:\/\//],
    [['--concurrency', '4'], /--concurrency > 1 needs --queue nats:\/\//],
    [['--partitions', '0', '--queue', 'nats://127.0.0.1:4222'], /--partitions must be an integer from 1 to 1024, got "0"/],
    [['--partitions', '2', '--owned', '0,2', '--queue', 'nats://127.0.0.1:4222'], /--owned must list partitions from 0 to 1/],
    [['--partitions', '2', '--standby', '1,x', '--queue', 'nats://127.0.0.1:4222'], /--standby must list partitions from 0 to 1 separated by commas, got "1,x"/],
    [['--batch-size', 'ten'], /--batch-size must be an integer/],
    [['--queue', 'nats://127.0.0.1:4222', '--ack-wait', '500'], /--ack-wait must be a whole number of milliseconds from 1000 to 600000, got "500"/],
    [['--queue', 'nats://127.0.0.1:4222', '--ack-wait', '5s'], /--ack-wait must be a whole number of milliseconds from 1000 to 600000, got "5s"/],
    [['--queue', 'nats://127.0.0.1:4222', '--ack-wait', '600001'], /--ack-wait must be a whole number of milliseconds from 1000 to 600000, got "600001"/],
    [['--ack-wait', '5000'], /--ack-wait applies to --queue nats:\/\/\.\.\. only/],
    [['--bogus'], /Unknown option '--bogus'/],
    [['extra'], /Unexpected argument 'extra'|positional/i],
  ];
  it('bad arguments exit with code 2 and a message naming the problem', async () => {
    const children = cases.map(([args]) => spawnWorker(args));
    const exits = await Promise.all(children.map((child) => child.exited));
    children.forEach((child, i) => {
      const [args, message] = cases[i]!;
      expect({ args, exit: exits[i]!.code }).toEqual({ args, exit: 2 });
      expect(child.lines.join('\n')).toMatch(message);
      expect(child.lines.join('\n')).toMatch(/--help lists the options/);
    });
  });

  it('--help prints the usage and exits 0; an unreachable store exits 1', async () => {
    const help = spawnWorker(['--help']);
    const port = await freePort();
    const unreachable = spawnWorker(['--store', `postgres://nobody@127.0.0.1:${port}/none`, '--queue', `nats://127.0.0.1:${port}`]);
    expect((await help.exited).code).toBe(0);
    expect(help.lines.join('\n')).toMatch(/^usage: lifecycle-worker/);
    expect((await unreachable.exited).code).toBe(1);
    expect(unreachable.lines.join('\n')).toMatch(new RegExp(`cannot open the store postgres://nobody@127\\.0\\.0\\.1:${port}/none`));
  });
});

describe('lifecycle-worker: embedded queue', () => {
  it('drains a pre-filled queue to the direct run\'s states and exits 0 on SIGTERM', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const path = join(dir, 'cli.db');
    const events = interleave([guestBatch('cli', 'cli-1', 3, [1]), guestBatch('cli', 'cli-2', 2)]);
    const seed = openSqliteStore({ path });
    await new EmbeddedQueue(seed).enqueue(events);
    await seed.close();

    const child = spawnWorker(['--store', `sqlite:${path}`, '--queue', 'embedded', '--interval-ms', '50']);
    await child.waitForLine(/queue empty: \d+ rows applied/, 30_000);
    child.process.kill('SIGTERM');
    expect(await child.exited).toEqual({ code: 0, signal: null });
    expect(child.lines).toContainEqual(expect.stringMatching(/stopping \(SIGTERM\)/));
    expect(child.lines.at(-1)).toMatch(/stopped/);

    const store = openSqliteStore({ path });
    cleanups.push(() => store.close());
    const reference = await directRun(events);
    expect(dump(store, { snapshots: false }).entities).toEqual(dump(reference.store, { snapshots: false }).entities);
    expect(await new EmbeddedQueue(store).counts()).toEqual({ pending: 0, done: events.length, invalid: 0, dead: 0 });
  });
});

const NATS_URL = process.env.TEST_NATS_URL;
(NATS_URL === undefined || NATS_URL === '' ? describe.skip : describe)(
  NATS_URL === undefined || NATS_URL === '' ? 'skipped: set TEST_NATS_URL to run the NATS tests' : 'lifecycle-worker: NATS queue',
  () => {
    it('consumes from JetStream, relays the outbox, and exits 0 on SIGTERM', async () => {
      const url = NATS_URL!;
      const id = runId();
      const stream = `LCCLI_${id}`;
      const subjectPrefix = `lccli.${id}.`;
      const nc = await connect({ servers: url });
      const jsm = await jetstreamManager(nc);
      cleanups.push(async () => {
        for (const name of [stream, deadLetterStreamOf(stream), leaseStreamOf(stream)]) await jsm.streams.delete(name).catch(() => undefined);
        await nc.drain();
      });
      const { dir, cleanup } = tempDir();
      cleanups.push(cleanup);
      const path = join(dir, 'nats-cli.db');
      const events = guestBatch('cli-nats', 'cli-nats-1', 2);

      const child = spawnWorker(['--store', `sqlite:${path}`, '--queue', url, '--stream', stream, '--subject-prefix', subjectPrefix, '--partitions', '2', '--interval-ms', '50']);
      await child.waitForLine(/ready: .*partitions 2/, 20_000);
      const js = jetstream(nc);
      for (const event of events) await publishEnvelope(js, event, { subjectPrefix });
      const store = openSqliteStore({ path });
      cleanups.push(() => store.close());
      const reference = await directRun(events);
      const expected = dump(reference.store).outbox.length;
      // Every event applied, and every outbox row relayed (and marked) once.
      await waitFor(async () => (await store.outboxCount({ published: true })) === expected, 20_000, 'the outbox relayed');
      await waitFor(async () => (await jsm.streams.info(stream)).state.messages === events.length + expected, 10_000, 'the stream to hold events and relayed rows');
      child.process.kill('SIGTERM');
      expect(await child.exited).toEqual({ code: 0, signal: null });
      expect(dump(store, { snapshots: false }).entities).toEqual(dump(reference.store, { snapshots: false }).entities);
    });
  },
);

const POSTGRES_URL = process.env.TEST_POSTGRES_URL;
const withBoth = NATS_URL !== undefined && NATS_URL !== '' && POSTGRES_URL !== undefined && POSTGRES_URL !== '';
(withBoth ? describe : describe.skip)(
  withBoth ? 'lifecycle-worker: PostgreSQL store' : 'skipped: set TEST_NATS_URL and TEST_POSTGRES_URL to run the PostgreSQL worker test',
  () => {
    it('--store postgres://... --queue nats://...: applies, relays and exits 0 on SIGTERM', async () => {
      const id = runId();
      const schema = `lifecycle_test_queue_${process.pid}_${id}`;
      const stream = `LCPG_${id}`;
      const subjectPrefix = `lcpg.${id}.`;
      const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
      const nc = await connect({ servers: NATS_URL! });
      const jsm = await jetstreamManager(nc);
      cleanups.push(async () => {
        await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await pool.end();
        for (const name of [stream, deadLetterStreamOf(stream), leaseStreamOf(stream)]) await jsm.streams.delete(name).catch(() => undefined);
        await nc.drain();
      });
      const events = interleave([guestBatch('cli-pg', 'cli-pg-1', 3, [2]), guestBatch('cli-pg', 'cli-pg-2', 2)]);
      const reference = await directRun(events);
      const expectedOutbox = dump(reference.store).outbox.length;

      const child = spawnWorker(['--store', POSTGRES_URL!, '--schema', schema, '--queue', NATS_URL!, '--stream', stream, '--subject-prefix', subjectPrefix, '--partitions', '2']);
      await child.waitForLine(/ready: store postgres:.*partitions 2/, 20_000);
      const js = jetstream(nc);
      for (const event of events) await publishEnvelope(js, event, { subjectPrefix });
      const published = async (): Promise<number> =>
        Number((await pool.query<{ n: string }>(`SELECT COUNT(*) AS n FROM "${schema}".outbox WHERE published_at IS NOT NULL`)).rows[0]?.n ?? 0);
      await waitFor(async () => (await published()) === expectedOutbox, 20_000, 'every outbox row relayed');
      child.process.kill('SIGTERM');
      expect(await child.exited).toEqual({ code: 0, signal: null });

      const rows = await pool.query<{ machine: string; entity_id: string; status: string }>(
        `SELECT machine, entity_id, status FROM "${schema}".entities ORDER BY machine COLLATE "C", entity_id COLLATE "C"`,
      );
      expect(rows.rows).toEqual(dump(reference.store).entities.map(({ machine, entity_id, status }) => ({ machine, entity_id, status })));
    });
  },
);
