/**
 * Helpers of the scale-out suite: the deterministic GUEST workload (40 envelopes per batch), the
 * double publication of every envelope to JetStream, a dump of a PostgreSQL schema in the shape
 * of the reliability kit's SQLite dump (so `diffDumps` compares the two), a headers-only scan of
 * a stream, and the quiescence check of a set of partition consumers.
 */
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type pg from 'pg';
import { deterministicUuid } from '../../adapters/engine/ids.js';
import { parseEntity as parsePostgresEntity, type EntityRow as PostgresEntityRow } from '../../adapters/postgres/rows.js';
import { entityRead } from '../../adapters/postgres/sql.js';
import { partitionConsumerName, PARTITION_KEY_HEADER, publishEnvelope } from '../../adapters/queue/nats.js';
import { envelope } from '../support/envelopes.js';
import { essayIdsOf, guestBatch, interleave, Rng, type DbDump, type EntityRow, type AuditRow, type Raw } from '../support/reliability-kit.js';

/** Essays per batch: registration + 18 contents + pipeline request + 18 spellchecks + nlp result + close = 40 envelopes. */
export const ESSAYS_PER_BATCH = 18;
export const ENVELOPES_PER_BATCH = 2 * ESSAYS_PER_BATCH + 4;

/** The event types of the workload's envelopes (none of them is ever emitted by the engine). */
export const ROOT_EVENT_TYPES = [
  'huleedu.batch.essays.registered.v1',
  'huleedu.file.essay.content.provisioned.v1',
  'huleedu.commands.batch.pipeline.v1',
  'huleedu.batch.spellcheck.phase.completed.v1',
  'huleedu.batch.nlp.analysis.completed.v1',
  'huleedu.batch.close.requested.v1',
] as const;

/**
 * One GUEST batch: the reliability kit's nlp-pipeline batch of 18 essays (every fifth batch with
 * one failing essay), then a close request. Deterministic ids per (namespace, batch, step).
 */
export function scaleBatch(namespace: string, index: number): Raw[] {
  const batchId = `${namespace}-${String(index).padStart(5, '0')}`;
  const failing = index % 5 === 2 ? [essayIdsOf(batchId, ESSAYS_PER_BATCH)[index % ESSAYS_PER_BATCH]!] : [];
  const steps = guestBatch(namespace, batchId, ESSAYS_PER_BATCH, failing);
  const last = steps.at(-1)!;
  const close = envelope(
    'huleedu.batch.close.requested.v1',
    { batch_id: batchId, user_id: 'teacher-1' },
    {
      event_id: deterministicUuid(`scale:close:${namespace}:${batchId}`),
      correlation_id: String(last.correlation_id),
      timestamp: new Date(Date.parse(String(last.event_timestamp)) + 60_000).toISOString(),
    },
  );
  return [...steps, close];
}

/** `batches` batches interleaved (seeded, window of 16 batches): per-batch order holds. */
export function scaleWorkload(namespace: string, batches: number, seed = 20260106): Raw[] {
  const streams = Array.from({ length: batches }, (_, i) => scaleBatch(namespace, i));
  return interleave(streams, new Rng(seed), 16);
}

/** NATS message ids of the two copies of an envelope. */
export const copyId = (eventId: string, copy: 1 | 2): string => `${eventId}#${copy}`;

/**
 * Publishes every envelope twice with different msg ids (`<event_id>#1`, `<event_id>#2`): the
 * second copy trails the first by `lag` envelopes (so a duplicate arrives among newer events of
 * its batch). Publishes in pipelined chunks on one connection, which keeps the stream order =
 * call order. Returns the publish count.
 */
export async function publishTwice(js: JetStreamClient, events: readonly Raw[], subjectPrefix: string, lag = 25, chunk = 400): Promise<number> {
  const plan: Array<{ event: Raw; msgID: string }> = [];
  events.forEach((event, i) => {
    plan.push({ event, msgID: copyId(String(event.event_id), 1) });
    const trailing = events[i - lag];
    if (trailing !== undefined) plan.push({ event: trailing, msgID: copyId(String(trailing.event_id), 2) });
  });
  for (const event of events.slice(Math.max(0, events.length - lag))) plan.push({ event, msgID: copyId(String(event.event_id), 2) });
  for (let i = 0; i < plan.length; i += chunk) {
    const acks = await Promise.all(plan.slice(i, i + chunk).map(({ event, msgID }) => publishEnvelope(js, event, { subjectPrefix, msgID })));
    const dropped = acks.filter((ack) => ack.duplicate).length;
    if (dropped > 0) throw new Error(`${dropped} publishes were de-duplicated by the server; every msg id should be new`);
  }
  return plan.length;
}

/** A quoted schema name (the names this suite makes are plain identifiers). */
export const q = (schema: string): string => `"${schema.replace(/"/g, '""')}"`;

/** The comparable content of a PostgreSQL schema, in the reliability kit's DbDump shape. */
export async function dumpPostgres(pool: pg.Pool, schema: string): Promise<DbDump & { outboxRows: OutboxRow[] }> {
  const s = q(schema);
  // Whole snapshots (context parts joined back in), comparable with the reference's.
  const stored = await pool.query<PostgresEntityRow>(
    `SELECT ${entityRead(s)} FROM ${s}.entities AS e ORDER BY machine, entity_id`,
  );
  const entities = {
    rows: stored.rows.map((row): EntityRow => {
      const { machine, entity_id, status, version, machine_version } = row;
      const snapshot = row.part_count === 0 ? row.snapshot : JSON.stringify(parsePostgresEntity(row).snapshot);
      return { machine, entity_id, status, snapshot, version, machine_version };
    }),
  };
  const audit = await pool.query<AuditRow & { position: string }>(
    `SELECT position, event_id, event_type, machine, entity_id, from_status, to_status, outcome, entity_version FROM ${s}.audit ORDER BY position`,
  );
  const outbox = await pool.query<OutboxRow & { id: string }>(
    `SELECT id, event_id, event_type, aggregate_id, envelope, internal, published_at FROM ${s}.outbox ORDER BY id`,
  );
  const inbox = await pool.query<{ event_id: string; result: string }>(`SELECT event_id, result FROM ${s}.inbox ORDER BY event_id COLLATE "C"`);
  const timers = await pool.query<{ timer_id: string; due_at: string; fired: number }>(
    `SELECT timer_id, due_at, (fired_at IS NOT NULL)::int AS fired FROM ${s}.timers ORDER BY timer_id COLLATE "C"`,
  );
  const outboxRows = outbox.rows.map((row) => ({ ...row, id: Number(row.id) }));
  return {
    entities: entities.rows,
    audit: audit.rows.map((row) => ({ ...row, position: Number(row.position) })),
    outbox: outboxRows.map(({ event_id, event_type, envelope }) => ({ event_id, event_type, envelope })),
    outboxRows,
    inbox: inbox.rows,
    timers: timers.rows,
  };
}

export interface OutboxRow {
  id: number;
  event_id: string;
  event_type: string;
  aggregate_id: string;
  envelope: string;
  internal: boolean;
  published_at: string | null;
}

/** One stored stream message, headers only. */
export interface StreamEntry {
  readonly seq: number;
  readonly subject: string;
  readonly msgId: string;
  readonly key: string;
}

/** Every message of `stream` (headers only, through an ordered consumer), in stream order. */
export async function scanStream(js: JetStreamClient, jsm: JetStreamManager, stream: string): Promise<StreamEntry[]> {
  const info = await jsm.streams.info(stream);
  const total = info.state.messages;
  const out: StreamEntry[] = [];
  if (total === 0) return out;
  const consumer = await js.consumers.get(stream, { headers_only: true });
  const messages = await consumer.consume({ max_messages: 1000 });
  for await (const m of messages) {
    out.push({ seq: m.seq, subject: m.subject, msgId: m.headers?.get('Nats-Msg-Id') ?? '', key: m.headers?.get(PARTITION_KEY_HEADER) ?? '' });
    if (m.info.pending === 0 || out.length >= total) break;
  }
  await messages.close();
  return out;
}

/** Caught up: every partition consumer has delivered the last message and holds no lease. */
export async function consumersIdle(jsm: JetStreamManager, stream: string, durable: string, partitions: number): Promise<{ idle: boolean; lastSeq: number; detail: string }> {
  const info = await jsm.streams.info(stream);
  const lastSeq = info.state.last_seq;
  const parts: string[] = [];
  let idle = true;
  for (let k = 0; k < partitions; k += 1) {
    const c = await jsm.consumers.info(stream, partitionConsumerName(durable, k, partitions));
    parts.push(`p${k}: pending ${c.num_pending}, ack pending ${c.num_ack_pending}, redelivered ${c.num_redelivered}`);
    if (c.num_pending !== 0 || c.num_ack_pending !== 0 || c.delivered.stream_seq < lastSeq) idle = false;
  }
  return { idle, lastSeq, detail: `stream last seq ${lastSeq}; ${parts.join('; ')}` };
}

/** Per entity, the event ids of its audit rows in audit order. */
export function auditSequences(audit: readonly AuditRow[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const row of [...audit].sort((a, b) => a.position - b.position)) {
    const key = `${row.machine}:${row.entity_id}`;
    const list = out.get(key) ?? [];
    list.push(`${row.event_id}:${row.outcome}`);
    out.set(key, list);
  }
  return out;
}
