/**
 * The JetStream set-up: the lifecycle stream, its dead-letter and lease streams, and the durable pull
 * consumers of the partitions, filtered to the inbound topics (see SUBJECTS and ORDERING BY BATCH in
 * ../nats.ts).
 */
import { AckPolicy, DeliverPolicy, DiscardPolicy, jetstreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import type { JetStreamClient, JetStreamManager, StreamInfo } from '@nats-io/jetstream';
import { nanos, type NatsConnection } from '@nats-io/transport-node';
import { TOPICS } from '../../../machines/contracts/events.js';
import { LifecycleError } from '../../errors.js';
import { messageOf } from '../support.js';
import {
  DEFAULT_ACK_WAIT_MS,
  DEFAULT_DUPLICATE_WINDOW_MS,
  DEFAULT_DURABLE,
  DEFAULT_MAX_ACK_PENDING,
  DEFAULT_STREAM,
  deadLetterStreamOf,
  internalSubjectOf,
  leaseStreamOf,
  partitionConsumerName,
  subjectOf,
} from './names.js';

/** Options of `ensureStream`. */
export interface StreamOptions {
  /** Stream name (default LIFECYCLE). */
  readonly name?: string;
  /** Topics captured (default: every lifecycle topic, TOPICS). */
  readonly subjects?: readonly string[];
  /** Put in front of every subject (default ''). */
  readonly subjectPrefix?: string;
  /** Window of msgID de-duplication (ms, default 120,000). */
  readonly duplicateWindowMs?: number;
  /** Also ensure the dead-letter stream `<name>_DEAD` on `lifecycle.dead.>` (default true). */
  readonly deadLetter?: boolean;
  /** Also ensure the lease stream `<name>_LEASES` on `lifecycle.lease.>` that partition consumers need (default true). */
  readonly leases?: boolean;
  /** Storage (default file). */
  readonly storage?: 'file' | 'memory';
}

async function managerOf(target: JetStreamManager | JetStreamClient | NatsConnection): Promise<JetStreamManager> {
  if ('streams' in target && 'consumers' in target && 'getAccountInfo' in target) return target;
  if ('jetstreamManager' in target) return target.jetstreamManager();
  return jetstreamManager(target);
}

function isNotFound(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === 10059 || code === 10014 || /not found/i.test(messageOf(error));
}

async function upsertStream(jsm: JetStreamManager, name: string, subjects: readonly string[], options: StreamOptions, perSubject?: number): Promise<StreamInfo> {
  const duplicate_window = nanos(options.duplicateWindowMs ?? DEFAULT_DUPLICATE_WINDOW_MS);
  let existing: StreamInfo | undefined;
  try {
    existing = await jsm.streams.info(name);
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  if (existing === undefined) {
    return jsm.streams.add({
      name,
      subjects: [...subjects],
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      storage: options.storage === 'memory' ? StorageType.Memory : StorageType.File,
      duplicate_window,
      ...(perSubject === undefined ? {} : { max_msgs_per_subject: perSubject }),
    });
  }
  const have = new Set(existing.config.subjects ?? []);
  const missing = subjects.filter((subject) => !have.has(subject));
  if (missing.length === 0 && existing.config.duplicate_window === duplicate_window) return existing;
  return jsm.streams.update(name, { ...existing.config, subjects: [...have, ...missing], duplicate_window });
}

/**
 * Creates the lifecycle stream (subjects = the topics and `lifecycle.internal.>`, with the prefix)
 * or adds missing subjects and sets the duplicate window on an existing one; also the dead-letter
 * stream and the lease stream (one message per subject). Idempotent.
 */
export async function ensureStream(target: JetStreamManager | JetStreamClient | NatsConnection, options: StreamOptions = {}): Promise<StreamInfo> {
  const jsm = await managerOf(target);
  const name = options.name ?? DEFAULT_STREAM;
  const prefix = options.subjectPrefix ?? '';
  const subjects = [...(options.subjects ?? TOPICS).map((topic) => subjectOf(topic, prefix)), internalSubjectOf('>', prefix)];
  const info = await upsertStream(jsm, name, subjects, options);
  if (options.deadLetter !== false) await upsertStream(jsm, deadLetterStreamOf(name), [`${prefix}lifecycle.dead.>`], options);
  if (options.leases !== false) await upsertStream(jsm, leaseStreamOf(name), [`${prefix}lifecycle.lease.>`], options, 1);
  return info;
}

/**
 * The server-side filter of the partition consumers: the inbound topics only, never
 * `lifecycle.internal.>` (relayed rows the engine already applied) nor dead letters. One subject
 * with a wildcard when the topics share leading tokens (`huleedu.>` for the lifecycle topics:
 * works on every JetStream server), else the list (`filter_subjects`, NATS 2.10 or newer).
 */
export function inboundFilter(topics: readonly string[], subjectPrefix = ''): { filter_subject: string } | { filter_subjects: string[] } {
  if (topics.length === 0) throw new LifecycleError('INVALID_CONFIGURATION', 'the stream needs at least one topic');
  const split = topics.map((topic) => topic.split('.'));
  const common: string[] = [];
  for (let i = 0; split.every((tokens) => tokens[i] !== undefined && tokens[i] === split[0]![i]); i += 1) common.push(split[0]![i]!);
  if (topics.length === 1 || new Set(topics).size === 1) return { filter_subject: subjectOf(topics[0]!, subjectPrefix) };
  if (common.length > 0 && common[0] !== 'lifecycle' && !common.some((t) => t === '*' || t === '>')) {
    return { filter_subject: subjectOf(`${common.join('.')}.>`, subjectPrefix) };
  }
  return { filter_subjects: topics.map((topic) => subjectOf(topic, subjectPrefix)) };
}

/** Options of the partition consumers. */
export interface ConsumerOptions {
  readonly stream?: string;
  readonly durable?: string;
  /** Number of partitions P (default 1). */
  readonly partitions?: number;
  /** Put in front of every subject (default ''). */
  readonly subjectPrefix?: string;
  /** The inbound topics the consumers read (default: every lifecycle topic, TOPICS; the stream's topics). */
  readonly topics?: readonly string[];
  /**
   * How long the server waits for an ack before redelivering (ms, default 5,000). The owner of a
   * partition reports progress (`working()`) every third of it on every message it holds, so a
   * long commit keeps its messages; only a worker that died leaves them to expire.
   */
  readonly ackWaitMs?: number;
  /** Messages a partition consumer hands out unacknowledged (default 256): the largest group applied in one transaction. */
  readonly maxAckPending?: number;
}

/** Checks an integer option; INVALID_CONFIGURATION naming it otherwise. */
export function checkInteger(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new LifecycleError('INVALID_CONFIGURATION', `${name} must be an integer from ${min} to ${max}, got ${value}`, { details: { [name]: value } });
  }
  return value;
}

/**
 * Creates (or fixes) the P durable pull consumers, one per partition: explicit ack, deliver all,
 * filtered to the inbound topics (`inboundFilter`), `max_ack_pending` messages out at once (only
 * the lease holder pulls, so they reach one process in stream order), unlimited deliveries (the
 * worker decides when a message is poison). Returns their names, index = partition.
 */
export async function ensurePartitionConsumers(target: JetStreamManager | JetStreamClient | NatsConnection, options: ConsumerOptions = {}): Promise<string[]> {
  const jsm = await managerOf(target);
  const stream = options.stream ?? DEFAULT_STREAM;
  const count = checkPartitions(options.partitions ?? 1);
  const ack_wait = nanos(checkInteger('ackWaitMs', options.ackWaitMs ?? DEFAULT_ACK_WAIT_MS, 1000, 3_600_000));
  const max_ack_pending = checkInteger('maxAckPending', options.maxAckPending ?? DEFAULT_MAX_ACK_PENDING, 1, 10_000);
  const filter = inboundFilter(options.topics ?? TOPICS, options.subjectPrefix);
  const filterOf = (config: { filter_subject?: string; filter_subjects?: string[] }): string =>
    JSON.stringify(config.filter_subjects !== undefined && config.filter_subjects.length > 0 ? config.filter_subjects : (config.filter_subject ?? ''));
  const names: string[] = [];
  for (let k = 0; k < count; k += 1) {
    const name = partitionConsumerName(options.durable ?? DEFAULT_DURABLE, k, count);
    let current;
    try {
      current = await jsm.consumers.info(stream, name);
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    const settings = { ...filter, max_ack_pending, ack_wait };
    try {
      if (current === undefined) {
        await jsm.consumers.add(stream, {
          durable_name: name,
          description: `lifecycle partition ${k} of ${count} (one lease holder pulls it, in stream order)`,
          ack_policy: AckPolicy.Explicit,
          deliver_policy: DeliverPolicy.All,
          max_deliver: -1,
          ...settings,
        });
      } else if (current.config.max_ack_pending !== max_ack_pending || current.config.ack_wait !== ack_wait || filterOf(current.config) !== filterOf(filter)) {
        await jsm.consumers.update(stream, name, settings);
      }
    } catch (error) {
      if (!/requires server/i.test(messageOf(error))) throw error;
      throw new LifecycleError('INVALID_CONFIGURATION', `partition consumer ${stream}/${name}: ${messageOf(error)} (the topics share no leading token, so the consumer needs filter_subjects)`, { cause: error });
    }
    names.push(name);
  }
  return names;
}

export function checkPartitions(count: number): number {
  if (!Number.isInteger(count) || count < 1 || count > 1024) {
    throw new LifecycleError('INVALID_CONFIGURATION', `partitions must be an integer from 1 to 1024, got ${count}`, { details: { partitions: count } });
  }
  return count;
}
