/**
 * Publishing to JetStream: producers (`publishEnvelope`) and the outbox relay. Every message carries
 * msgID = its event_id (the server de-duplicates a republish) and the partition key header.
 */
import type { JetStreamClient, PubAck } from '@nats-io/jetstream';
import { headers, type MsgHdrs } from '@nats-io/transport-node';
import { relayOutboxOnce, startOutboxRelay, type Publisher, type Worker } from '../../engine/workers.js';
import { LifecycleError } from '../../errors.js';
import type { SnapshotStore } from '../../store.js';
import { partitionKeyOf } from '../support.js';
import { PARTITION_KEY_HEADER, subjectOf } from './names.js';

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

/**
 * The outbox Publisher for JetStream: each row, in id order, on subject = its event_type with
 * msgID = its event_id (so a republish after a crash is dropped by the server), the batch id as
 * partition key, and `Lifecycle-Internal`. Resolves only when every PubAck arrived.
 */
export function jetStreamPublisher(js: JetStreamClient, options: PublishOptions = {}): Publisher {
  return async (rows) => {
    for (const row of rows) {
      await js.publish(subjectOf(row.event_type, options.subjectPrefix), JSON.stringify(row.envelope), {
        msgID: row.event_id,
        headers: publishHeaders(row.aggregate_id, { 'Lifecycle-Internal': String(row.internal) }),
        ...(options.timeoutMs === undefined ? {} : { timeout: options.timeoutMs }),
      });
    }
  };
}

/** Options of the JetStream relay. */
export interface RelayOptions extends PublishOptions {
  /** Outbox rows per relay round (default 100). */
  readonly batchSize?: number;
  /** The clock of the `published_at` timestamps (default the system clock). */
  readonly clock?: () => Date;
}

/**
 * One relay round (relayOutboxOnce): publishes up to `batchSize` pending outbox rows, internal
 * ones included (observers see the whole stream; the consumer answers them duplicate), and marks
 * them published after their PubAcks. Returns how many were published.
 */
export function relayToJetStream(store: SnapshotStore, js: JetStreamClient, options: RelayOptions = {}): Promise<number> {
  return relayOutboxOnce(store, jetStreamPublisher(js, options), options.clock, options.batchSize);
}

/** relayToJetStream in a loop (see startOutboxRelay). */
export function startJetStreamRelay(
  store: SnapshotStore,
  js: JetStreamClient,
  options: RelayOptions & { intervalMs?: number; onError?: (error: unknown) => void } = {},
): Worker {
  return startOutboxRelay(store, jetStreamPublisher(js, options), {
    ...(options.intervalMs === undefined ? {} : { intervalMs: options.intervalMs }),
    ...(options.onError === undefined ? {} : { onError: options.onError }),
    ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  });
}
