/**
 * Scale-out (issue 6): 4 worker PROCESSES (scripts/worker.ts) on one PostgreSQL schema and one
 * JetStream stream with 4 partitions take SCALE_BATCHES GUEST batches of 40 envelopes (default 500
 * = 20,000 envelopes, the figure), every envelope published TWICE (different NATS msg ids,
 * same event_id), while one worker is SIGKILLed midway and NOT restarted. Worker i holds partition
 * i and stands by for the others (`--owned i --standby ...`), so a survivor takes the dead worker's
 * partition over (after its lease lapses and its messages come back: ~10 s).
 *
 * Then: the schema equals a single-process reference run (engine on SQLite :memory:, each
 * envelope dispatched once, in order): entities (status and snapshot), audit rows (and
 * per entity in the same order), outbox rows and envelopes, inbox answers, timers; every outbox
 * row is in the stream exactly once (by Nats-Msg-Id = event_id) and, per batch, in outbox order;
 * every published copy is in the stream; nothing was dead-lettered; no event (timer events
 * included) was accepted twice.
 *
 * Runs only with TEST_POSTGRES_URL and TEST_NATS_URL. Fresh schema, stream (and so consumers),
 * subject prefix and durable per run; all removed, and every child killed, whatever happens.
 */
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deadLetterStreamOf, leaseStreamOf } from '../../adapters/queue/nats.js';
import { definitionOf } from '../../machines/contracts/events.js';
import { runId, spawnWorker, waitFor, type Child } from '../queue/support.js';
import { diffDumps, doublyAccepted, dumpStore, engineOn, FIXED_NOW, repeated } from '../support/reliability-kit.js';
import { openSqliteStore } from '../../adapters/sqlite/store.js';
import {
  auditSequences,
  consumersIdle,
  copyId,
  dumpPostgres,
  ENVELOPES_PER_BATCH,
  publishTwice,
  q,
  ROOT_EVENT_TYPES,
  scanStream,
  scaleWorkload,
} from './support.js';

const POSTGRES_URL = process.env.TEST_POSTGRES_URL ?? '';
const NATS_URL = process.env.TEST_NATS_URL ?? '';
const ENABLED = POSTGRES_URL !== '' && NATS_URL !== '';
const SKIP_TITLE = 'skipped: set TEST_POSTGRES_URL and TEST_NATS_URL to run the scale-out test (4 worker processes on PostgreSQL + NATS)';
if (!ENABLED) console.warn(`test/scale/scale-out.test.ts ${SKIP_TITLE}`);

/**
 * Default 500 batches (20,000 envelopes): 70-90 s on a loaded 2-core machine (the reference run in
 * this process takes half of that). SCALE_BATCHES overrides it (>= 4).
 */
const BATCHES = Number(process.env.SCALE_BATCHES ?? 500);
const WORKERS = 4;
const PARTITIONS = 4;
/** The whole test, set-up and clean-up included, must end within this bound: 8 minutes, more for more than 500 batches. */
// A hang guard, not a speed target (the bench measures speed): generous for a loaded 2-core machine.
const BOUND_MS = Math.max(8 * 60_000, BATCHES * 960);

(ENABLED ? describe : describe.skip)(ENABLED ? 'scale-out: 4 worker processes on PostgreSQL + NATS' : SKIP_TITLE, () => {
  const id = runId();
  const schema = `lifecycle_scale_${id}`;
  const stream = `LCSCALE_${id}`;
  const subjectPrefix = `lcscale.${id}.`;
  const durable = `scale-${id}`;
  const children: Child[] = [];
  let pool: pg.Pool;
  let nc: NatsConnection;
  let js: JetStreamClient;
  let jsm: JetStreamManager;
  let sampler: NodeJS.Timeout | undefined;

  beforeAll(async () => {
    if (!Number.isInteger(BATCHES) || BATCHES < 4) throw new Error(`SCALE_BATCHES must be an integer >= 4, got "${process.env.SCALE_BATCHES}"`);
    pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
    nc = await connect({ servers: NATS_URL });
    js = jetstream(nc);
    jsm = await jetstreamManager(nc);
  });

  afterAll(async () => {
    clearInterval(sampler);
    await Promise.all(
      children.map(async (child) => {
        if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGKILL');
        await child.exited;
      }),
    );
    for (const name of [stream, deadLetterStreamOf(stream), leaseStreamOf(stream)]) await jsm?.streams.delete(name).catch(() => undefined);
    await nc?.drain().catch(() => undefined);
    await pool?.query(`DROP SCHEMA IF EXISTS ${q(schema)} CASCADE`).catch(() => undefined);
    await pool?.end();
  }, 60_000);

  it(
    `${BATCHES} GUEST batches (${BATCHES * ENVELOPES_PER_BATCH} envelopes, each published twice), one worker SIGKILLed midway: the reference run's state, every outbox row on the stream once`,
    async () => {
      const started = Date.now();
      const deadline = started + BOUND_MS - 30_000;
      const left = (): number => Math.max(1000, deadline - Date.now());
      const events = scaleWorkload(`scale-${id}`, BATCHES);
      expect(events).toHaveLength(BATCHES * ENVELOPES_PER_BATCH);
      expect(repeated(events.map((e) => String(e.event_id)))).toEqual([]);
      const eventIds = events.map((e) => String(e.event_id));

      const args = [
        '--store', POSTGRES_URL, '--schema', schema, '--queue', NATS_URL, '--partitions', String(PARTITIONS),
        '--stream', stream, '--durable', durable, '--subject-prefix', subjectPrefix, '--interval-ms', '50',
      ];
      // All at once (schema, stream and consumers are created idempotently). Worker i holds
      // partition i and stands by for the others: the work is spread, and whoever survives takes a
      // dead worker's partition over.
      for (let i = 0; i < WORKERS; i += 1) {
        const others = Array.from({ length: PARTITIONS }, (_, k) => k).filter((k) => k !== i % PARTITIONS);
        children.push(spawnWorker([...args, '--owned', String(i % PARTITIONS), '--standby', others.join(',')]));
      }
      await Promise.all(children.map((child) => child.waitForLine(/ready: store postgres:.*partitions 4/, 60_000)));
      const readyMs = Date.now() - started;

      let publishedMs = 0;
      const published = publishTwice(js, events, subjectPrefix).then((count) => {
        publishedMs = Date.now() - started;
        return count;
      });
      published.catch(() => undefined); // awaited below; no unhandled rejection meanwhile
      // A coarse timeline for the report: applied envelopes and unpublished outbox rows every 10 s.
      const timeline: string[] = [];
      sampler = setInterval(() => {
        void pool
          .query<{ a: string; u: string }>(
            `SELECT (SELECT COUNT(*) FROM ${q(schema)}.inbox WHERE event_type = ANY($1::text[])) AS a, (SELECT COUNT(*) FROM ${q(schema)}.outbox WHERE published_at IS NULL) AS u`,
            [[...ROOT_EVENT_TYPES]],
          )
          .then((r) => timeline.push(`${Math.round((Date.now() - started) / 1000)}s:${r.rows[0]?.a}/${r.rows[0]?.u}`), () => undefined);
      }, 10_000);

      // Midway: half the envelopes applied (counted in the inbox by their types, which the engine never emits).
      const applied = async (): Promise<number> =>
        Number((await pool.query<{ n: string }>(`SELECT COUNT(*) AS n FROM ${q(schema)}.inbox WHERE event_type = ANY($1::text[])`, [[...ROOT_EVENT_TYPES]])).rows[0]?.n);
      await waitFor(async () => (await applied()) >= events.length / 2, left(), 'half of the envelopes applied');
      const victim = children[1]!;
      victim.process.kill('SIGKILL');
      expect(await victim.exited).toEqual({ code: null, signal: 'SIGKILL' });
      const killedAt = { ms: Date.now() - started, applied: await applied() };
      expect(await published).toBe(events.length * 2);

      // Reference: one process, SQLite in memory, every envelope once, in order (beside the workers).
      const referenceStarted = Date.now();
      const referenceStore = openSqliteStore({ path: ':memory:', now: () => new Date(FIXED_NOW) });
      const reference = engineOn(referenceStore);
      for (const event of events) {
        const answer = await reference.dispatch(event);
        if (answer.outcome !== 'accepted') throw new Error(`reference: ${String(event.event_type)} ${answer.outcome}: ${answer.reason ?? ''}`);
      }
      const expected = dumpStore(referenceStore);
      await referenceStore.close();
      const referenceMs = Date.now() - referenceStarted;

      // Quiet: every envelope applied, every outbox row relayed, every consumer caught up with no
      // lease, and the stream no longer growing (twice in a row, a second apart).
      let quietRounds = 0;
      let lastSeq = -1;
      let detail = '';
      await waitFor(
        async () => {
          const unpublished = Number(
            (await pool.query<{ n: string }>(`SELECT COUNT(*) AS n FROM ${q(schema)}.outbox WHERE published_at IS NULL`)).rows[0]?.n,
          );
          const done = await applied();
          const consumers = await consumersIdle(jsm, stream, durable, PARTITIONS);
          detail = `applied ${done}/${events.length}, unpublished outbox ${unpublished}; ${consumers.detail}`;
          const quiet = done === events.length && unpublished === 0 && consumers.idle && consumers.lastSeq === lastSeq;
          lastSeq = consumers.lastSeq;
          quietRounds = quiet ? quietRounds + 1 : 0;
          if (quietRounds < 2) await new Promise((r) => setTimeout(r, 1000));
          return quietRounds >= 2;
        },
        left(),
        'the workers to finish',
      ).catch((error: unknown) => {
        const logs = children.map((c, i) => `--- worker ${i}\n${c.lines.slice(-15).join('\n')}`).join('\n');
        throw new Error(`${error instanceof Error ? error.message : String(error)}\n${detail}\n${logs}`);
      });
      const drainedMs = Date.now() - started;
      clearInterval(sampler);

      const actual = await dumpPostgres(pool, schema);
      const entries = await scanStream(js, jsm, stream);
      const scannedMs = Date.now() - started;

      // The state is the reference's: entities (status and snapshot), audit, outbox, timers. Not
      // the entity versions: a worker commits a group of envelopes per transaction and a version
      // counts commits (the reference commits one envelope at a time). The inbox also holds the
      // relayed outbound rows the workers consumed back from the stream (answered without changing
      // anything); leave them out. Internal rows never reach a consumer (their own subject).
      const outbound = new Set(actual.outboxRows.filter((row) => !row.internal).map((row) => row.event_id));
      const inbox = actual.inbox.filter((row) => !outbound.has(row.event_id));
      expect(actual.inbox.length - inbox.length).toBe(outbound.size);
      expect(diffDumps({ ...actual, inbox }, expected, { versions: false }).slice(0, 10)).toEqual([]);
      expect(auditSequences(actual.audit)).toEqual(auditSequences(expected.audit));
      expect(expected.entities.filter((e) => e.machine === 'batch').map((e) => e.status).sort()).toEqual(
        Array.from({ length: BATCHES }, (_, i) => (i % 5 === 2 ? 'completed_with_failures' : 'completed_successfully')).sort(),
      );

      // No lost event, none applied twice; no timer fired twice (GUEST batches arm none: say so).
      const inboxIds = new Set(actual.inbox.map((row) => row.event_id));
      expect(eventIds.filter((e) => !inboxIds.has(e))).toEqual([]);
      expect(doublyAccepted(actual.audit)).toEqual([]);
      const timerEvents = actual.audit.filter((row) => row.event_type.startsWith('xstate.after'));
      expect(repeated(timerEvents.map((row) => `${row.event_id}|${row.entity_id}`))).toEqual([]);
      expect(actual.timers).toEqual(expected.timers);

      // The stream: both copies of every envelope, every outbox row exactly once, nothing else.
      const byMsgId = new Map<string, number>();
      for (const entry of entries) byMsgId.set(entry.msgId, (byMsgId.get(entry.msgId) ?? 0) + 1);
      const outboxIds = actual.outboxRows.map((row) => row.event_id);
      expect(entries).toHaveLength(events.length * 2 + outboxIds.length);
      expect(eventIds.filter((e) => byMsgId.get(copyId(e, 1)) !== 1 || byMsgId.get(copyId(e, 2)) !== 1)).toEqual([]);
      expect(outboxIds.filter((e) => byMsgId.get(e) !== 1)).toEqual([]);
      // Internal rows only observers read are on lifecycle.internal.<topic> (the consumers' filter
      // leaves them out); the others, alsoOutside internal rows included, on their topic.
      const subjectById = new Map(entries.map((entry) => [entry.msgId, entry.subject]));
      const observedOnly = (row: { internal: unknown; event_type: string }): boolean => Boolean(row.internal) && definitionOf(row.event_type)?.alsoOutside !== true;
      const misplaced = actual.outboxRows.filter(
        (row) => subjectById.get(row.event_id) !== `${subjectPrefix}${observedOnly(row) ? 'lifecycle.internal.' : ''}${row.event_type}`,
      );
      expect(misplaced.map((row) => row.event_id).slice(0, 10)).toEqual([]);
      // Per batch, relayed rows are on the stream in outbox (= commit) order.
      const position = new Map(entries.map((entry) => [entry.msgId, entry.seq]));
      const outOfOrder: string[] = [];
      const lastByBatch = new Map<string, number>();
      for (const row of actual.outboxRows) {
        const seq = position.get(row.event_id) ?? -1;
        if (seq < (lastByBatch.get(row.aggregate_id) ?? 0)) outOfOrder.push(`${row.aggregate_id}: outbox ${row.id} at stream seq ${seq}`);
        lastByBatch.set(row.aggregate_id, seq);
      }
      expect(outOfOrder.slice(0, 10)).toEqual([]);
      expect((await jsm.streams.info(deadLetterStreamOf(stream))).state.messages).toBe(0);

      // The victim held partition 1; a survivor took it over once its lease lapsed.
      expect(victim.lines.some((l) => /partition 1: this worker consumes/.test(l))).toBe(true);
      expect(children.filter((c) => c !== victim).some((c) => c.lines.some((l) => /partition 1: this worker consumes .*\(taken over from /.test(l)))).toBe(true);
      // The survivors are still running and healthy; the victim stayed dead.
      expect(children.filter((c) => c.process.exitCode === null && c.process.signalCode === null)).toHaveLength(WORKERS - 1);
      const seconds = (ms: number): string => (ms / 1000).toFixed(1);
      console.info(
        `scale-out: ${BATCHES} batches, ${events.length} envelopes published twice (${entries.length} stream messages, ${outboxIds.length} outbox rows relayed); ` +
          `workers ready ${seconds(readyMs)} s, published by ${seconds(publishedMs)} s, worker 1 SIGKILLed at ${seconds(killedAt.ms)} s (${killedAt.applied} applied), ` +
          `reference run ${seconds(referenceMs)} s, all applied and relayed at ${seconds(drainedMs)} s ` +
          `(${Math.round(events.length / ((drainedMs - readyMs) / 1000))} envelopes/s end to end), checked at ${seconds(Date.now() - started)} s (stream scan done at ${seconds(scannedMs)} s); ` +
          `timeline (time: applied/unpublished outbox) ${timeline.join(' ')}`,
      );
      expect(Date.now() - started).toBeLessThan(BOUND_MS);
    },
    BOUND_MS,
  );
});
