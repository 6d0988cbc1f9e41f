/**
 * The names of the NATS transport (see the module comment of ../nats.ts): subjects, streams,
 * partition consumers, headers, and the defaults of stream and consumer settings.
 */

/** Header carrying the partition key (the batch id) of a published envelope. */
export const PARTITION_KEY_HEADER = 'Lifecycle-Partition-Key';
/** Headers of a dead-lettered message. */
export const DEAD_LETTER_HEADERS = {
  code: 'Lifecycle-Error-Code',
  error: 'Lifecycle-Error',
  subject: 'Lifecycle-Source-Subject',
  sequence: 'Lifecycle-Source-Sequence',
  stream: 'Lifecycle-Source-Stream',
} as const;

/** Default stream name. */
export const DEFAULT_STREAM = 'LIFECYCLE';
/** Default durable consumer name (partition consumers append `_p<k>_of_<P>`). */
export const DEFAULT_DURABLE = 'lifecycle-worker';
export const DEFAULT_DUPLICATE_WINDOW_MS = 120_000;
/** How long the server waits for an ack (or `working()`) before redelivering (see ACKNOWLEDGEMENT in ../nats.ts). */
export const DEFAULT_ACK_WAIT_MS = 5_000;
/** Messages a partition consumer hands out before acks come back: the largest group applied in one transaction. */
export const DEFAULT_MAX_ACK_PENDING = 256;
/** How long a partition lease lasts without renewal (ms); renewed every quarter of it. */
export const DEFAULT_LEASE_MS = 3_000;

/** The subject of a topic. */
export function subjectOf(topic: string, subjectPrefix = ''): string {
  return `${subjectPrefix}${topic}`;
}

/** The subject of a relayed outbox row the engine already delivered to itself: `lifecycle.internal.<topic>`. */
export function internalSubjectOf(topic: string, subjectPrefix = ''): string {
  return `${subjectPrefix}lifecycle.internal.${topic}`;
}

/** The dead-letter subject of a topic: `lifecycle.dead.<topic>`. */
export function deadLetterSubjectOf(topic: string, subjectPrefix = ''): string {
  return `${subjectPrefix}lifecycle.dead.${topic}`;
}

/** The dead-letter stream of a stream. */
export function deadLetterStreamOf(stream: string): string {
  return `${stream}_DEAD`;
}

/** The stream of the partition leases of a stream. */
export function leaseStreamOf(stream: string): string {
  return `${stream}_LEASES`;
}

/** The subject holding the lease of one partition consumer: `lifecycle.lease.<consumer name>`. */
export function leaseSubjectOf(consumerName: string, subjectPrefix = ''): string {
  return `${subjectPrefix}lifecycle.lease.${consumerName}`;
}

/** The durable name of partition `k` of `count`. */
export function partitionConsumerName(durable: string, k: number, count: number): string {
  return `${durable}_p${k}_of_${count}`;
}
