/**
 * NATS JetStream partition leases and handover: a worker that stops hands its partition over at
 * once (what it pulled but did not apply handed back in order, the lease released); a worker that
 * goes silent mid-group loses its lease and a standby takes over once the silent worker's messages
 * can only come back in order; a standby that took a partition over hands it back, the same clean
 * way, once its usual holder returns. All end in the direct run's states with every batch applied
 * in publish order. Runs only with TEST_NATS_URL; every test uses its own stream and consumers.
 */
import { describe, expect, it } from 'vitest';
import { LifecycleEngine } from '../../adapters/engine/engine.js';
import { ensureStream, partitionConsumerName, publishEnvelope } from '../../adapters/queue/nats.js';
import { openSqliteStore } from '../../adapters/sqlite/store.js';
import {
  appliedOrder,
  directRun,
  dump,
  fixedClock,
  freePort,
  hostPort,
  memoryLogger,
  publishedOrder,
  startProxy,
  tempDir,
  waitFor,
  workload,
} from './support.js';
import { natsTestBed } from './nats-bed.js';

const NATS_URL = process.env.TEST_NATS_URL;
const SKIP_TITLE = 'skipped: set TEST_NATS_URL to run the NATS handover tests';
if (NATS_URL === undefined || NATS_URL === '') console.warn(`test/queue/nats-handover.test.ts ${SKIP_TITLE}`);
const suite = NATS_URL === undefined || NATS_URL === '' ? describe.skip : describe;
const url = NATS_URL ?? 'nats://127.0.0.1:4222';

/** Fast back-off so failure paths stay well under the time limit. */
const FAST = { backoff: { initialMs: 100, maxMs: 400 }, pullExpiresMs: 1000 } as const;

suite(NATS_URL === undefined || NATS_URL === '' ? SKIP_TITLE : 'NATS JetStream partition handover', () => {
  const bed = natsTestBed(url, 'lchand', FAST);
  const { stops, names, worker } = bed;

  /** An engine on the SQLite file `path` whose dispatchMany first waits `delayMs` (a slow store). */
  function engineOn(path: string, delayMs = 0): Pick<LifecycleEngine, 'dispatchMany' | 'store'> {
    const store = openSqliteStore({ path, now: fixedClock });
    stops.push(() => store.close());
    const engine = new LifecycleEngine({ store, clock: fixedClock });
    return { store, dispatchMany: async (raws) => (await new Promise((r) => setTimeout(r, delayMs)), engine.dispatchMany(raws)) };
  }

  /** A fresh stream holding `batches` batches' events, the direct run of them, and a database path for the workers. */
  async function published(tag: string, batches: number) {
    const { stream, subjectPrefix, durable } = names();
    await ensureStream(bed.jsm, { name: stream, subjectPrefix });
    const events = workload(tag, batches);
    await Promise.all(events.map((event) => publishEnvelope(bed.js, event, { subjectPrefix })));
    const reference = await directRun(events);
    const { dir, cleanup } = tempDir();
    stops.push(cleanup);
    return { stream, subjectPrefix, durable, events, reference, path: `${dir}/${tag}.db` };
  }

  /** The database at `path` ends in the direct run's states, with every batch applied in publish order. */
  function expectDirectRun(path: string, reference: Awaited<ReturnType<typeof directRun>>, events: ReturnType<typeof workload>): void {
    const reader = openSqliteStore({ path });
    stops.push(() => reader.close());
    expect(dump(reader).entities).toEqual(dump(reference.store).entities);
    expect(appliedOrder(dump(reader).audit, events)).toEqual(publishedOrder(events));
  }

  it('stop() mid-stream finishes the group in flight, hands the rest back in order and releases the lease: a successor goes on at once, in order', async () => {
    const { stream, subjectPrefix, durable, events, reference, path } = await published('handover', 20);
    // A long ack_wait and lease: a message left leased, or a lease not released, would stall the successor for 30 s.
    const settings = { stream: { name: stream }, subjectPrefix, durable, relay: false, ackWaitMs: 30_000, leaseMs: 30_000, maxAckPending: 8 } as const;
    const first = worker({ engine: engineOn(path, 30), ...settings });
    await waitFor(() => first.stats().applied >= 40, 10_000, 'the first worker under way');
    await first.stop();
    const byFirst = first.stats().applied;
    expect(byFirst).toBeLessThan(events.length);
    const started = Date.now();
    const second = worker({ engine: engineOn(path), ...settings });
    await waitFor(() => byFirst + second.stats().applied === events.length, 8000, 'the successor to apply the rest');
    expect(Date.now() - started).toBeLessThan(8000);
    expect(second.stats().duplicates).toBe(0);
    expectDirectRun(path, reference, events);
  });

  it('a standby that took a partition over hands it back when its usual holder returns: in publish order, nothing applied twice', async () => {
    const { stream, subjectPrefix, durable, events, reference, path } = await published('handback', 20);
    const settings = { stream: { name: stream }, subjectPrefix, durable, relay: false, ackWaitMs: 2000, leaseMs: 1000, maxAckPending: 4 } as const;
    const usual = worker({ engine: engineOn(path, 30), ...settings, owned: [0], clientName: 'usual' });
    await waitFor(() => usual.stats().applied >= 30, 10_000, 'the usual holder under way');
    const logger = memoryLogger();
    const standby = worker({ engine: engineOn(path, 60), ...settings, owned: [], standby: [0], logger, clientName: 'standby' });
    await standby.ready;
    await usual.stop();
    await waitFor(() => standby.stats().applied >= 20, 10_000, 'the standby to take the partition over');
    const back = worker({ engine: engineOn(path), ...settings, owned: [0], clientName: 'usual-again' });
    await waitFor(() => usual.stats().applied + standby.stats().applied + back.stats().applied === events.length, 15_000, 'the returned holder to apply the rest');
    expect(logger.lines).toContainEqual(expect.stringMatching(/^info: partition 0: its usual holder is back \(.*\); handing the partition back$/));
    expect(logger.lines.filter((line) => /another process/.test(line))).toEqual([]);
    const byStandby = standby.stats().applied;
    expect(byStandby).toBeGreaterThanOrEqual(20);
    expect(back.stats().applied).toBeGreaterThan(0);
    expect(usual.stats().duplicates + standby.stats().duplicates + back.stats().duplicates).toBe(0);
    // Handed back for good: the standby applies nothing more while its usual holder is alive.
    await new Promise((r) => setTimeout(r, 1500));
    expect(standby.stats().applied).toBe(byStandby);
    expectDirectRun(path, reference, events);
  });

  it('a process pulling a held partition without its lease (an older worker beside upgraded ones) is reported as an error; lawful holders never are', async () => {
    const { stream, subjectPrefix, durable } = names();
    await ensureStream(bed.jsm, { name: stream, subjectPrefix });
    const logger = memoryLogger();
    const { dir, cleanup } = tempDir();
    stops.push(cleanup);
    const holder = worker({ engine: engineOn(`${dir}/foreign.db`), stream: { name: stream }, subjectPrefix, durable, relay: false, logger });
    await holder.ready;
    await new Promise((r) => setTimeout(r, 4000)); // holding the lease and pulling for two checks: nothing to report
    expect(logger.lines.filter((line) => /another process/.test(line))).toEqual([]);
    // The intruder: plain pull requests on the partition's durable consumer, no lease.
    const consumer = await bed.js.consumers.get(stream, partitionConsumerName(durable, 0, 1));
    let intruding = true;
    const intruder = (async () => {
      while (intruding) for await (const msg of await consumer.fetch({ max_messages: 1, expires: 2000 })) msg.nak();
    })();
    stops.push(async () => {
      intruding = false;
      await intruder;
    });
    await waitFor(() => logger.lines.some((line) => /another process/.test(line)), 15_000, 'the foreign puller to be reported');
    expect(logger.lines).toContainEqual(
      expect.stringMatching(/^error: partition 0: \d+ pull request\(s\) of another process wait on .*_p0_of_1, whose lease this worker holds; .*upgrade every worker together/),
    );
  });

  it('a holder that goes silent mid-group (connection cut) loses its lease; the standby takes over after the takeover wait and applies every batch in publish order', async () => {
    const { stream, subjectPrefix, durable } = names();
    await ensureStream(bed.jsm, { name: stream, subjectPrefix });
    const events = workload('takeover', 16);
    const reference = await directRun(events);
    const { dir, cleanup } = tempDir();
    stops.push(cleanup);
    const path = `${dir}/takeover.db`;
    const port = await freePort();
    const proxy = await startProxy(port, hostPort(url));
    stops.push(() => proxy.close());
    const settings = { stream: { name: stream }, subjectPrefix, durable, relay: false, ackWaitMs: 2000, leaseMs: 1000, maxAckPending: 16 } as const;
    const doomed = worker({ url: `nats://127.0.0.1:${port}`, engine: engineOn(path, 40), ...settings, clientName: 'doomed' });
    await doomed.ready;
    await new Promise((r) => setTimeout(r, 300)); // the doomed worker takes the lease first
    const logger = memoryLogger();
    const standby = worker({ engine: engineOn(path), ...settings, logger, clientName: 'standby' });
    await standby.ready;
    await Promise.all(events.map((event) => publishEnvelope(bed.js, event, { subjectPrefix })));
    await waitFor(() => doomed.stats().applied >= 20, 10_000, 'the doomed worker under way');
    await proxy.close(); // silent from now on: no acks, no renewals, no naks
    const cut = Date.now();
    await waitFor(() => doomed.stats().applied + standby.stats().applied === events.length, 20_000, 'the standby to apply the rest');
    expect(logger.lines).toContainEqual(expect.stringMatching(/^info: partition 0: this worker consumes .* \(taken over from /));
    expect(logger.lines.filter((line) => /another process/.test(line))).toEqual([]);
    // Nothing before the doomed worker's messages could be redelivered: lease 1 s + pull 1 s + ack_wait 2 s + 1 s.
    expect(Date.now() - cut).toBeGreaterThan(4000);
    expectDirectRun(path, reference, events);
  });
});
