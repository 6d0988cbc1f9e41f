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
export const DEFAULT_ACK_WAIT_MS = 10_000;

/** The subject of a topic. */
export function subjectOf(topic: string, subjectPrefix = ''): string {
  return `${subjectPrefix}${topic}`;
}

/** The dead-letter subject of a topic: `lifecycle.dead.<topic>`. */
export function deadLetterSubjectOf(topic: string, subjectPrefix = ''): string {
  return `${subjectPrefix}lifecycle.dead.${topic}`;
}

/** The dead-letter stream of a stream. */
export function deadLetterStreamOf(stream: string): string {
  return `${stream}_DEAD`;
}

/** The durable name of partition `k` of `count`. */
export function partitionConsumerName(durable: string, k: number, count: number): string {
  return `${durable}_p${k}_of_${count}`;
}
