/**
 * NATS JetStream: consumer, outbox relay, per-batch ordering with two consumers, dead letters,
 * and waiting for a server that is not there yet. Runs only with TEST_NATS_URL (e.g.
 * nats://127.0.0.1:4222); every test uses its own stream, subjects and consumers, deleted after.
 */
import { describe, expect, it } from 'vitest';
import { LifecycleEngine } from '../../adapters/engine/engine.js';
import { LifecycleError } from '../../adapters/errors.js';
import {
  DEAD_LETTER_HEADERS,
  deadLetterStreamOf,
  ensureStream,
  INTERNAL_HEADER,
  PARTITION_KEY_HEADER,
  partitionConsumerName,
  publishEnvelope,
  relayToJetStream,
  type SettledMessage,
} from '../../adapters/queue/nats.js';
import { partitionKeyOf, partitionOf } from '../../adapters/queue/support.js';
import { openSqliteStore } from '../../adapters/sqlite/store.js';
import { definitionOf, TOPICS } from '../../machines/contracts/events.js';
import { registration, spellchecked } from '../support/envelopes.js';
import {
  batchOf,
  directRun,
  dump,
  fixedClock,
  freePort,
  guestBatch,
  hostPort,
  interleave,
  memoryLogger,
  sqliteEngine,
  startProxy,
  tempDir,
  waitFor,
  workload,
  type Raw,
} from './support.js';
import { natsTestBed } from './nats-bed.js';

const NATS_URL = process.env.TEST_NATS_URL;
const SKIP_TITLE = 'skipped: set TEST_NATS_URL to run the NATS tests';
if (NATS_URL === undefined || NATS_URL === '') console.warn(`test/queue/nats.test.ts ${SKIP_TITLE}`);
const suite = NATS_URL === undefined || NATS_URL === '' ? describe.skip : describe;
const url = NATS_URL ?? 'nats://127.0.0.1:4222';

/** Fast back-off and short leases so failure paths stay well under the time limit. */
const FAST = { backoff: { initialMs: 100, maxMs: 400 }, pullExpiresMs: 1000, ackWaitMs: 3000 } as const;

suite(NATS_URL === undefined || NATS_URL === '' ? SKIP_TITLE : 'NATS JetStream queue', () => {
  const bed = natsTestBed(url, 'lctest', FAST);
  const { stops, names, worker } = bed;

  it('each event published twice (other msg ids, same event_id): one consumer ends in the direct run\'s states', async () => {
    const { stream, subjectPrefix, durable } = names();
    const events = interleave([guestBatch('nats-a', 'nats-guest-a', 4, [1]), guestBatch('nats-a', 'nats-guest-b', 3)]);
    const reference = await directRun(events);
    const { store, engine } = sqliteEngine();
    const settled: SettledMessage[] = [];
    const w = worker({ engine, stream: { name: stream }, subjectPrefix, durable, relay: false, onSettled: (s) => settled.push(s) });
    await w.ready;
    for (const event of events) {
      await publishEnvelope(bed.js, event, { subjectPrefix, msgID: `${String(event.event_id)}:first` });
      await publishEnvelope(bed.js, event, { subjectPrefix, msgID: `${String(event.event_id)}:second` });
    }
    await waitFor(() => settled.length === events.length * 2, 15_000, 'every message settled');
    expect(w.stats()).toMatchObject({ applied: events.length, duplicates: events.length, deadLettered: 0, naks: 0, skipped: 0 });
    expect(dump(store)).toEqual(dump(reference.store));
    // Acked only after the commit: nothing is left pending on the consumer.
    const info = await bed.jsm.consumers.info(stream, partitionConsumerName(durable, 0, 1));
    expect(info.num_ack_pending).toBe(0);
    expect(info.num_pending).toBe(0);
  });

  it('a worker relays what its own commits wrote at once, not after its relay interval (60 s here)', async () => {
    const { stream, subjectPrefix, durable } = names();
    const { store, engine } = sqliteEngine();
    const w = worker({ engine, stream: { name: stream }, subjectPrefix, durable, relay: { intervalMs: 60_000 } });
    await w.ready;
    // The relay's first round found nothing; from here only a wake can start another within 60 s.
    const events = guestBatch('wake', 'wake-1', 2);
    for (const event of events.slice(0, 3)) await publishEnvelope(bed.js, event, { subjectPrefix });
    await waitFor(async () => (await store.outboxCount()) >= 2 && (await store.outboxCount({ published: false })) === 0, 10_000, 'the slot assignments relayed');
    const subjects: string[] = [];
    const info = await bed.jsm.streams.info(stream);
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq += 1) {
      const message = await bed.jsm.streams.getMessage(stream, { seq });
      if (message !== null) subjects.push(message.subject.slice(subjectPrefix.length));
    }
    expect(subjects.filter((subject) => subject === 'huleedu.els.essay.slot.assigned.v1')).toHaveLength(2);
  });

  it('the outbox relay publishes every row exactly once (relaying twice); internal rows only observers read (outboxInternal: true) are on lifecycle.internal.<topic>, never delivered to a partition consumer; alsoOutside rows are on their topic and read back as duplicates', async () => {
    const { stream, subjectPrefix, durable } = names();
    await ensureStream(bed.jsm, { name: stream, subjectPrefix, duplicateWindowMs: 60_000, subjects: ['huleedu.batch.essays.registered.v1'] });
    // Idempotent, and an existing stream gets the missing subjects and the new window.
    const ensured = await ensureStream(bed.jsm, { name: stream, subjectPrefix });
    expect(ensured.config.duplicate_window).toBe(120_000 * 1_000_000);
    expect(ensured.config.subjects).toHaveLength(TOPICS.length + 1);
    expect(ensured.config.subjects).toContain(`${subjectPrefix}lifecycle.internal.>`);
    const { store, engine } = sqliteEngine(':memory:', { outboxInternal: true });
    for (const event of guestBatch('relay', 'relay-1', 3, [0])) await engine.dispatch(event);
    const outbox = dump(store).outbox;
    const internal = outbox.filter((row) => row.internal === 1);
    expect(internal.length).toBeGreaterThan(5);
    expect(outbox.length - internal.length).toBeGreaterThan(0);
    // Internal rows outside services read too (slot assigned, phase outcome...) go on their topic.
    const alsoOutside = internal.filter((row) => definitionOf(row.event_type)?.alsoOutside === true);
    expect(alsoOutside.length).toBeGreaterThan(0);
    const observedOnly = internal.filter((row) => !alsoOutside.includes(row));
    const readBack = outbox.filter((row) => !observedOnly.includes(row));

    let first = 0;
    for (let n = await relayToJetStream(store, bed.js, { subjectPrefix, batchSize: 7 }); n > 0; n = await relayToJetStream(store, bed.js, { subjectPrefix, batchSize: 7 })) first += n;
    expect(first).toBe(outbox.length);
    expect(await store.outboxCount({ published: false })).toBe(0);
    // As if the process died after publishing and before marking: everything goes out again.
    store.db.prepare('UPDATE outbox SET published_at = NULL').run();
    let second = 0;
    for (let n = await relayToJetStream(store, bed.js, { subjectPrefix }); n > 0; n = await relayToJetStream(store, bed.js, { subjectPrefix })) second += n;
    expect(second).toBe(outbox.length);

    const info = await bed.jsm.streams.info(stream);
    expect(info.state.messages).toBe(outbox.length);
    const byMsgId = new Map<string, number>();
    const stored: Array<{ subject: string; id: string; key: string; internal: string }> = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq += 1) {
      const message = await bed.jsm.streams.getMessage(stream, { seq });
      if (message === null) continue;
      const id = message.header.get('Nats-Msg-Id');
      byMsgId.set(id, (byMsgId.get(id) ?? 0) + 1);
      stored.push({ subject: message.subject, id, key: message.header.get(PARTITION_KEY_HEADER), internal: message.header.get(INTERNAL_HEADER) });
    }
    expect([...byMsgId.values()].every((n) => n === 1)).toBe(true);
    expect(stored).toEqual(
      outbox.map((row) => ({
        subject: observedOnly.includes(row) ? `${subjectPrefix}lifecycle.internal.${row.event_type}` : `${subjectPrefix}${row.event_type}`,
        id: row.event_id,
        key: row.aggregate_id,
        internal: String(row.internal === 1),
      })),
    );

    // A consumer on the same store receives the rows for outside services (recorded, nothing
    // changes) and the engine's own alsoOutside messages (duplicates: never dead-lettered as
    // internal events from outside); the server never hands it an observers-only row.
    const before = dump(store).entities;
    const settled: SettledMessage[] = [];
    const w = worker({ engine, stream: { name: stream }, subjectPrefix, durable, relay: false, onSettled: (s) => settled.push(s) });
    await w.ready;
    await waitFor(() => settled.length === readBack.length, 15_000, 'the outbound messages consumed');
    await new Promise((r) => setTimeout(r, 300));
    expect(settled.map((s) => s.subject)).toEqual(readBack.map((row) => `${subjectPrefix}${row.event_type}`));
    expect(w.stats()).toMatchObject({ duplicates: alsoOutside.length, deadLettered: 0, applied: outbox.length - internal.length });
    const consumer = await bed.jsm.consumers.info(stream, partitionConsumerName(durable, 0, 1));
    expect(consumer.config.filter_subject).toBe(`${subjectPrefix}huleedu.>`);
    expect(consumer.delivered.consumer_seq).toBe(readBack.length);
    expect(consumer.num_pending).toBe(0);
    expect(dump(store).entities).toEqual(before);
  });

  for (const layout of [
    { title: '2 partitions, one consumer each', partitions: 2, owned: [[0], [1]] },
    { title: '1 partition, 2 workers: the lease holder applies, the other stands by', partitions: 1, owned: [[0], [0]] },
  ]) {
    it(`per-batch order holds with 2 workers, groups applied in one transaction each (${layout.title})`, async () => {
      const { stream, subjectPrefix, durable } = names();
      const { dir, cleanup } = tempDir();
      stops.push(cleanup);
      const events = workload(`order-${layout.partitions}`, 12);
      const reference = await directRun(events);
      const path = `${dir}/order.db`;
      const workers = layout.owned.map((owned) => {
        const store = openSqliteStore({ path, now: fixedClock });
        stops.push(() => store.close());
        const engine = new LifecycleEngine({ store, clock: fixedClock });
        return worker({ engine, stream: { name: stream }, subjectPrefix, durable, partitions: layout.partitions, owned, relay: false, clientName: `order-${owned.join('-')}` });
      });
      await Promise.all(workers.map((w) => w.ready));
      // One burst, pipelined on one connection: the stream order is the call order.
      await Promise.all(events.map((event) => publishEnvelope(bed.js, event, { subjectPrefix })));
      await waitFor(() => workers.reduce((n, w) => n + w.stats().applied, 0) === events.length, 20_000, 'every event applied once');
      const stats = workers.map((w) => w.stats());
      if (layout.partitions === 1) expect(stats.map((s) => s.applied).sort((a, b) => a - b)).toEqual([0, events.length]);
      else expect(stats.every((s) => s.applied > 0)).toBe(true);
      // Published in one burst: the holders applied groups of several messages per transaction.
      expect(stats.reduce((n, s) => n + s.groups, 0)).toBeLessThan(events.length / 2);
      // A group counts only when it held messages of the worker's partition.
      expect(stats.every((s) => s.groups <= s.applied)).toBe(true);
      if (layout.partitions === 2) {
        const perPartition = [0, 1].map((k) => events.filter((e) => partitionOf(partitionKeyOf(e), 2) === k).length);
        expect(stats.map((s) => s.applied)).toEqual(perPartition);
        await waitFor(() => workers.every((w, i) => w.stats().skipped === events.length - perPartition[i]!), 10_000, 'foreign messages skipped');
      }

      const reader = openSqliteStore({ path });
      stops.push(() => reader.close());
      const actual = dump(reader);
      expect(actual.audit.every((row) => row.outcome === 'accepted')).toBe(true);
      expect(actual.entities).toEqual(dump(reference.store).entities);
      // The order in which each batch's own events were applied is the order they were published.
      const published = new Map<string, string[]>();
      for (const event of events) published.set(batchOf(event), [...(published.get(batchOf(event)) ?? []), String(event.event_id)]);
      const external = new Set(events.map((e) => String(e.event_id)));
      const applied = new Map<string, string[]>();
      const batchByEvent = new Map(events.map((e) => [String(e.event_id), batchOf(e)]));
      for (const row of actual.audit) {
        if (!external.has(row.event_id)) continue;
        const batch = batchByEvent.get(row.event_id)!;
        const list = applied.get(batch) ?? [];
        if (list.at(-1) !== row.event_id) list.push(row.event_id);
        applied.set(batch, list);
      }
      expect(applied).toEqual(published);
    });
  }

  it('a store failure is retried in the worker with a growing delay, never nak\'d; the batch\'s later events wait for it', async () => {
    const { stream, subjectPrefix, durable } = names();
    const { store, engine } = sqliteEngine();
    const events = guestBatch('nak', 'nak-1', 2);
    const reference = await directRun(events);
    let failures = 2;
    const flaky = {
      store,
      dispatchMany: (raws: readonly unknown[]) => {
        if (failures > 0 && (raws[0] as Raw).event_id === events[0]!.event_id) {
          failures -= 1;
          return Promise.reject(new LifecycleError('STORE_FAILURE', 'database is locked'));
        }
        return engine.dispatchMany(raws);
      },
    };
    const logger = memoryLogger();
    const w = worker({ engine: flaky, stream: { name: stream }, subjectPrefix, durable, relay: false, logger });
    await w.ready;
    await Promise.all(events.map((event) => publishEnvelope(bed.js, event, { subjectPrefix })));
    await waitFor(() => w.stats().applied === events.length, 10_000, 'every event applied');
    expect(w.stats()).toMatchObject({ retries: 2, naks: 0, deadLettered: 0 });
    const retried = logger.lines.filter((l) => /STORE_FAILURE: database is locked; (message 1|\d+ messages from 1) on .* retried in (100|200) ms \(attempt [12]\)/.test(l));
    expect(retried).toHaveLength(2);
    expect(dump(store)).toEqual(dump(reference.store));
    const info = await bed.jsm.consumers.info(stream, partitionConsumerName(durable, 0, 1));
    expect(info.num_redelivered).toBe(0);
  });

  it('invalid JSON and invalid envelopes are dead-lettered to lifecycle.dead.<topic>, logged and terminated', async () => {
    const { stream, subjectPrefix, durable } = names();
    const { engine } = sqliteEngine();
    const logger = memoryLogger();
    const w = worker({ engine, stream: { name: stream }, subjectPrefix, durable, relay: false, logger });
    await w.ready;
    const topic = 'huleedu.batch.spellcheck.phase.completed.v1';
    await bed.js.publish(`${subjectPrefix}${topic}`, '{this is not json', { msgID: 'bad-json' });
    await bed.js.publish(`${subjectPrefix}huleedu.batch.essays.registered.v1`, JSON.stringify({ event_type: 'huleedu.batch.essays.registered.v1', data: {} }));
    await publishEnvelope(bed.js, spellchecked('nobody', 'nobody-essay', true), { subjectPrefix });
    await publishEnvelope(bed.js, registration('dead-ok', ['dead-ok-e0']), { subjectPrefix });
    await waitFor(() => w.stats().deadLettered === 3 && w.stats().applied === 1, 15_000, 'three dead letters and one applied');

    const dead = deadLetterStreamOf(stream);
    const info = await bed.jsm.streams.info(dead);
    expect(info.state.messages).toBe(3);
    const letters = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq += 1) {
      const m = await bed.jsm.streams.getMessage(dead, { seq });
      if (m !== null) letters.push({ subject: m.subject, code: m.header.get(DEAD_LETTER_HEADERS.code), source: m.header.get(DEAD_LETTER_HEADERS.subject), body: m.string() });
    }
    expect(letters.map((l) => [l.subject, l.code])).toEqual([
      [`${subjectPrefix}lifecycle.dead.${topic}`, 'INVALID_ENVELOPE'],
      [`${subjectPrefix}lifecycle.dead.huleedu.batch.essays.registered.v1`, 'INVALID_ENVELOPE'],
      [`${subjectPrefix}lifecycle.dead.${topic}`, 'ENTITY_NOT_FOUND'],
    ]);
    expect(letters[0]!.body).toBe('{this is not json');
    expect(letters[0]!.source).toBe(`${subjectPrefix}${topic}`);
    expect(logger.lines.filter((l) => /^error: .*dead-lettered/.test(l))).toHaveLength(3);
    const consumer = await bed.jsm.consumers.info(stream, partitionConsumerName(durable, 0, 1));
    expect(consumer.num_ack_pending).toBe(0);
    expect(consumer.num_redelivered).toBe(0);
  });

  it('NATS unavailable at start: logs "waiting for NATS", retries, then works; a dropped connection is regained', async () => {
    const { stream, subjectPrefix, durable } = names();
    const port = await freePort();
    const proxyUrl = `nats://127.0.0.1:${port}`;
    const { engine } = sqliteEngine();
    const logger = memoryLogger();
    const started = Date.now();
    const w = worker({ url: proxyUrl, engine, stream: { name: stream }, subjectPrefix, durable, relay: false, logger });
    const waiting = new RegExp(`^warn: waiting for NATS at nats://127\\.0\\.0\\.1:${port} \\(attempt (\\d+), next in \\d+ ms\\)`);
    await waitFor(() => logger.lines.filter((l) => waiting.test(l)).length >= 3, 5000, 'three "waiting for NATS" lines');
    expect(logger.lines.find((l) => waiting.test(l))).toMatch(/attempt 1, next in 100 ms/);

    const proxy = await startProxy(port, hostPort(url));
    stops.push(() => proxy.close());
    await w.ready;
    expect(logger.lines).toContainEqual(expect.stringMatching(new RegExp(`^info: connected to NATS at ${proxyUrl} after \\d+ attempts`)));
    const events = guestBatch('late', 'late-1', 2);
    for (const event of events.slice(0, 3)) await publishEnvelope(bed.js, event, { subjectPrefix });
    await waitFor(() => w.stats().applied === 3, 5000, 'the first events applied');

    proxy.drop();
    await waitFor(() => logger.lines.some((l) => /lost the connection to NATS/.test(l)), 3000, 'the loss to be noticed');
    for (const event of events.slice(3)) await publishEnvelope(bed.js, event, { subjectPrefix });
    await waitFor(() => w.stats().applied === events.length, 8000, 'the rest applied after reconnecting');
    expect(logger.lines).toContainEqual(expect.stringMatching(/^info: reconnected to NATS/));
    expect(Date.now() - started).toBeLessThan(10_000);
    const stopping = Date.now();
    await w.stop();
    expect(Date.now() - stopping).toBeLessThan(3000);
  });

  it('throughput: one consumer (measured, printed)', async () => {
    const { stream, subjectPrefix, durable } = names();
    await ensureStream(bed.jsm, { name: stream, subjectPrefix });
    const events: Raw[] = workload('speed', 40);
    let t = performance.now();
    await Promise.all(events.map((event) => publishEnvelope(bed.js, event, { subjectPrefix })));
    const publishMs = performance.now() - t;
    const { engine } = sqliteEngine();
    const w = worker({ engine, stream: { name: stream }, subjectPrefix, durable, relay: false });
    await w.ready;
    t = performance.now();
    await waitFor(() => w.stats().applied === events.length, 30_000, 'every event applied');
    const seconds = (performance.now() - t) / 1000;
    const direct = performance.now();
    await directRun(events);
    const directSeconds = (performance.now() - direct) / 1000;
    console.info(
      `NATS: published ${events.length} events in ${publishMs.toFixed(0)} ms; 1 consumer applied them in ${seconds.toFixed(2)} s = ` +
        `${Math.round(events.length / seconds)} events/s (direct dispatch of the same: ${Math.round(events.length / directSeconds)} events/s)`,
    );
  });
});
