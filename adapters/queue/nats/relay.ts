/**
 * Publishing to JetStream: producers (`publishEnvelope`) and the outbox relay. Every message carries
 * msgID = its event_id (the server de-duplicates a republish) and the partition key header. The
 * relay publishes rows the engine already delivered to itself (`internal`) that no outside service
 * reads on `lifecycle.internal.<topic>`, which the partition consumers never read (see SUBJECTS in
 * ../nats.ts); those outside services read too (`alsoOutside`) go on their topic.
 */
import type { JetStreamClient, PubAck } from '@nats-io/jetstream';
import { headers, type MsgHdrs } from '@nats-io/transport-node';
import { definitionOf } from '../../../machines/contracts/events.js';
import { relayOutboxOnce, startOutboxRelay, type Publisher, type WakeableWorker } from '../../engine/workers.js';
import { LifecycleError } from '../../errors.js';
import type { OutboxRecord, SnapshotStore } from '../../store.js';
import { partitionKeyOf } from '../support.js';
import { internalSubjectOf, PARTITION_KEY_HEADER, subjectOf } from './names.js';

/** Options of publishing. */
export interface PublishOptions {
  readonly subjectPrefix?: string;
  /** PubAck timeout (ms, default the client's). */
  readonly timeoutMs?: number;
}

function publishHeaders(key: string | null, extra: Readonly<Record<string, string>> = {}): MsgHdrs {
  const h = headers();
  if (key !== null) h.set(PARTITION_KEY_HEADER, key);
  for (const [name, value] of Object.entries(extra)) h.set(name, value);
  return h;
}

/**
 * Publishes one envelope on its topic with msgID = event_id (override with `msgID`) and the
 * partition key header; resolves with the server's PubAck (`duplicate` true when de-duplicated).
 */
export async function publishEnvelope(
  js: JetStreamClient,
  envelope: unknown,
  options: PublishOptions & { msgID?: string } = {},
): Promise<PubAck> {
  const { event_type, event_id } = (typeof envelope === 'object' && envelope !== null ? envelope : {}) as { event_type?: unknown; event_id?: unknown };
  if (typeof event_type !== 'string' || event_type.length === 0) {
    throw new LifecycleError('INVALID_ENVELOPE', 'cannot publish: the envelope has no event_type (it names the subject)');
  }
  const msgID = options.msgID ?? (typeof event_id === 'string' ? event_id : undefined);
  return js.publish(subjectOf(event_type, options.subjectPrefix), JSON.stringify(envelope), {
    headers: publishHeaders(partitionKeyOf(envelope)),
    ...(msgID === undefined ? {} : { msgID }),
    ...(options.timeoutMs === undefined ? {} : { timeout: options.timeoutMs }),
  });
}

/** The header telling relayed outbox rows apart: `true` for rows the engine already took itself. */
export const INTERNAL_HEADER = 'Lifecycle-Internal';

/**
 * The subject of a relayed outbox row: its topic; `lifecycle.internal.<topic>` when internal and no
 * outside service reads it (a row written only because of `outboxInternal`). An internal row
 * declared `alsoOutside` (slot assigned, phase outcome, phase cancel, batch closed) goes on its
 * topic, where its outside readers subscribe; the partition consumers read it back too, and the
 * engine answers the copy `duplicate` (its event id is in the inbox: see engine/own-copies.ts).
 */
export function relaySubjectOf(row: Pick<OutboxRecord, 'event_type' | 'internal'>, subjectPrefix = ''): string {
  const onlyObserved = row.internal && definitionOf(row.event_type)?.alsoOutside !== true;
  return onlyObserved ? internalSubjectOf(row.event_type, subjectPrefix) : subjectOf(row.event_type, subjectPrefix);
}

/**
 * The outbox Publisher for JetStream: each row on `relaySubjectOf(row)` with msgID = its event_id
 * (a republish after a crash is dropped by the server), the batch id as partition key, and
 * `Lifecycle-Internal`. The rows go out in one pipelined burst, in id order, on one connection:
 * the server stores them in that order, and a connection lost mid-burst loses a suffix of it, never
 * a row before a later one. A failed row and the later rows of its aggregate (batch) are reported
 * as not published (retried; a copy that did arrive is then dropped by msgID), so a batch's rows
 * stay in id order in the stream.
 */
export function jetStreamPublisher(js: JetStreamClient, options: PublishOptions = {}): Publisher {
  return async (rows) => {
    const sorted = [...rows].sort((a, b) => a.id - b.id);
    const outcomes = await Promise.allSettled(
      sorted.map((row) =>
        js.publish(relaySubjectOf(row, options.subjectPrefix), JSON.stringify(row.envelope), {
          msgID: row.event_id,
          headers: publishHeaders(row.aggregate_id, { [INTERNAL_HEADER]: String(row.internal) }),
          ...(options.timeoutMs === undefined ? {} : { timeout: options.timeoutMs }),
        }),
      ),
    );
    const failures = new Map<number, unknown>();
    const broken = new Map<string, unknown>();
    sorted.forEach((row, index) => {
      const outcome = outcomes[index]!;
      const earlier = broken.get(row.aggregate_id);
      if (outcome.status === 'rejected' && earlier === undefined) broken.set(row.aggregate_id, outcome.reason);
      if (outcome.status === 'rejected' || earlier !== undefined) failures.set(row.id, earlier ?? (outcome as PromiseRejectedResult).reason);
    });
    return failures.size === 0 ? undefined : failures;
  };
}

/** Options of the JetStream relay. */
export interface RelayOptions extends PublishOptions {
  /** Outbox rows per relay round (default 100). */
  readonly batchSize?: number;
  /** The clock of the `published_at` timestamps (default the system clock). */
  readonly clock?: () => Date;
  /** How long a claimed row stays this relay's (ms, default 10,000; PostgreSQL: see relayOutboxOnce). */
  readonly claimLeaseMs?: number;
}

/**
 * One relay round (relayOutboxOnce): publishes up to `batchSize` pending outbox rows (claimed first
 * on a store several workers share), internal ones on `lifecycle.internal.<topic>` (observers see
 * the whole flow; the consumers never get them), and marks them published after their PubAcks.
 * Returns how many were published.
 */
export function relayToJetStream(store: SnapshotStore, js: JetStreamClient, options: RelayOptions = {}): Promise<number> {
  return relayOutboxOnce(store, jetStreamPublisher(js, options), roundOptions(options));
}

function roundOptions(options: RelayOptions): { clock?: () => Date; batchSize?: number; claimLeaseMs?: number } {
  return {
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }),
    ...(options.claimLeaseMs === undefined ? {} : { claimLeaseMs: options.claimLeaseMs }),
  };
}

/** relayToJetStream in a loop (see startOutboxRelay). */
export function startJetStreamRelay(
  store: SnapshotStore,
  js: JetStreamClient,
  options: RelayOptions & { intervalMs?: number; onError?: (error: unknown) => void } = {},
): WakeableWorker {
  return startOutboxRelay(store, jetStreamPublisher(js, options), {
    ...(options.intervalMs === undefined ? {} : { intervalMs: options.intervalMs }),
    ...(options.onError === undefined ? {} : { onError: options.onError }),
    ...roundOptions(options),
  });
}
