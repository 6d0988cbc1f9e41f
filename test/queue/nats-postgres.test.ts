/**
 * The outbox relay of several workers over one PostgreSQL store: rows are claimed (a lease, SKIP
 * LOCKED) so each is published by one relay, and never a batch's row while another relay holds an
 * earlier one of that batch, so each batch's rows reach the stream in id order. Runs only with
 * TEST_POSTGRES_URL and TEST_NATS_URL; fresh schema and stream per test, removed after.
 */
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LifecycleEngine } from '../../adapters/engine/engine.js';
import { openPostgresStore, type PostgresStore } from '../../adapters/postgres/store.js';
import { deadLetterStreamOf, ensureStream, leaseStreamOf, relayToJetStream } from '../../adapters/queue/nats.js';
import type { CommitBatch, OutboxWrite } from '../../adapters/store.js';
import { fixedClock, runId, workload } from './support.js';

const POSTGRES_URL = process.env.TEST_POSTGRES_URL ?? '';
const NATS_URL = process.env.TEST_NATS_URL ?? '';
const ENABLED = POSTGRES_URL !== '' && NATS_URL !== '';
const SKIP_TITLE = 'skipped: set TEST_POSTGRES_URL and TEST_NATS_URL to run the PostgreSQL relay tests';
if (!ENABLED) console.warn(`test/queue/nats-postgres.test.ts ${SKIP_TITLE}`);

function outboxBatch(rows: OutboxWrite[]): CommitBatch {
  return { entities: [], audit: [], outbox: rows, inbox: [], timersSet: [], timersCancelled: [], timersFired: [] };
}

const row = (event_id: string, aggregate_id: string): OutboxWrite => ({ event_id, event_type: 'huleedu.batch.closed.v1', aggregate_id, envelope: { event_id }, internal: false });

(ENABLED ? describe : describe.skip)(ENABLED ? 'outbox relays of several workers on PostgreSQL' : SKIP_TITLE, () => {
  const RUN = runId();
  let admin: pg.Pool;
  let nc: NatsConnection;
  let js: JetStreamClient;
  let jsm: JetStreamManager;
  const schemas: string[] = [];
  const streams: string[] = [];
  const stores: PostgresStore[] = [];

  async function store(schema: string): Promise<PostgresStore> {
    const opened = await openPostgresStore({ connectionString: POSTGRES_URL, schema, now: fixedClock });
    stores.push(opened);
    return opened;
  }

  beforeAll(async () => {
    admin = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
    nc = await connect({ servers: NATS_URL });
    js = jetstream(nc);
    jsm = await jetstreamManager(nc);
  });

  afterEach(async () => {
    for (const opened of stores.splice(0)) await opened.close();
  });

  afterAll(async () => {
    for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    for (const stream of streams) await jsm.streams.delete(stream).catch(() => undefined);
    await admin.end();
    await nc.drain();
  });

  it('claimOutbox in aggregate order: another relay gets no row of a batch whose earlier row is claimed, until it is published', async () => {
    const schema = `lifecycle_relay_${RUN}_claims`;
    schemas.push(schema);
    const [a, b] = [await store(schema), await store(schema)];
    await a.commit(outboxBatch([row('x0', 'bx'), row('y0', 'by'), row('x1', 'bx'), row('x2', 'bx'), row('y1', 'by')]));
    const first = await a.claimOutbox(2, 30_000, { inAggregateOrder: true });
    expect(first.map((r) => r.event_id)).toEqual(['x0', 'y0']);
    // Batch bx and by each have an earlier row under a's claim: b gets nothing yet.
    expect(await b.claimOutbox(10, 30_000, { inAggregateOrder: true })).toEqual([]);
    await a.markPublished([first[0]!.id], fixedClock().toISOString());
    expect((await b.claimOutbox(10, 30_000, { inAggregateOrder: true })).map((r) => r.event_id)).toEqual(['x1', 'x2']);
    // A failed publish releases the claim; the batch's later row then waits for it to go first.
    await a.markPublishFailed(first[1]!.id, 'broker down');
    expect((await a.claimOutbox(10, 30_000, { inAggregateOrder: true })).map((r) => r.event_id)).toEqual(['y0', 'y1']);
  });

  it('two relays over one PostgreSQL store publish every outbox row once (each by one relay), each batch\'s rows in id order', async () => {
    const schema = `lifecycle_relay_${RUN}_two`;
    const stream = `LCRELAY_${RUN}`;
    const subjectPrefix = `lcrelay.${RUN}.`;
    schemas.push(schema);
    streams.push(stream, deadLetterStreamOf(stream), leaseStreamOf(stream));
    await ensureStream(jsm, { name: stream, subjectPrefix });
    const [a, b] = [await store(schema), await store(schema)];
    // Internal messages in the outbox too (the observers' opt-in): more rows, of every kind, for the two relays.
    const engine = new LifecycleEngine({ store: a, clock: fixedClock, outboxInternal: true });
    for (const answer of await engine.dispatchMany(workload('relay-pg', 8))) expect(answer.outcome).toBe('accepted');
    const total = await a.outboxCount();
    expect(total).toBeGreaterThan(100);

    const relay = async (target: PostgresStore): Promise<number> => {
      let published = 0;
      while ((await target.outboxCount({ published: false })) > 0) {
        const n = await relayToJetStream(target, js, { subjectPrefix, batchSize: 7 });
        published += n;
        if (n === 0) await new Promise((r) => setTimeout(r, 5));
      }
      return published;
    };
    const [byA, byB] = await Promise.all([relay(a), relay(b)]);
    // Each row was claimed, published and marked by exactly one of them, and both took part.
    expect(byA + byB).toBe(total);
    expect(Math.min(byA, byB)).toBeGreaterThan(0);

    const { rows } = await admin.query<{ id: string; event_id: string; aggregate_id: string }>(`SELECT id, event_id, aggregate_id FROM "${schema}".outbox ORDER BY id`);
    const info = await jsm.streams.info(stream);
    expect(info.state.messages).toBe(total);
    const position = new Map<string, number>();
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq += 1) {
      const message = await jsm.streams.getMessage(stream, { seq });
      if (message !== null) position.set(message.header.get('Nats-Msg-Id'), seq);
    }
    expect(rows.filter((r) => !position.has(r.event_id))).toEqual([]);
    const last = new Map<string, number>();
    const outOfOrder: string[] = [];
    for (const r of rows) {
      const seq = position.get(r.event_id)!;
      if (seq < (last.get(r.aggregate_id) ?? 0)) outOfOrder.push(`${r.aggregate_id}: outbox ${r.id} at stream seq ${seq}`);
      last.set(r.aggregate_id, seq);
    }
    expect(outOfOrder).toEqual([]);
  });
});
