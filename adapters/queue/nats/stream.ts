/**
 * The JetStream set-up: the lifecycle stream and its dead-letter stream, and the durable pull
 * consumers of the partitions (max_ack_pending 1 keeps each batch in order; see ../nats.ts).
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
  DEFAULT_STREAM,
  deadLetterStreamOf,
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

async function upsertStream(jsm: JetStreamManager, name: string, subjects: readonly string[], options: StreamOptions): Promise<StreamInfo> {
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
    });
  }
  const have = new Set(existing.config.subjects ?? []);
  const missing = subjects.filter((subject) => !have.has(subject));
  if (missing.length === 0 && existing.config.duplicate_window === duplicate_window) return existing;
  return jsm.streams.update(name, { ...existing.config, subjects: [...have, ...missing], duplicate_window });
}

/**
 * Creates the lifecycle stream (subjects = the topics, with the prefix) or adds missing subjects
 * and sets the duplicate window on an existing one; also the dead-letter stream. Idempotent.
 */
export async function ensureStream(target: JetStreamManager | JetStreamClient | NatsConnection, options: StreamOptions = {}): Promise<StreamInfo> {
  const jsm = await managerOf(target);
  const name = options.name ?? DEFAULT_STREAM;
  const prefix = options.subjectPrefix ?? '';
  const subjects = (options.subjects ?? TOPICS).map((topic) => subjectOf(topic, prefix));
  const info = await upsertStream(jsm, name, subjects, options);
  if (options.deadLetter !== false) await upsertStream(jsm, deadLetterStreamOf(name), [`${prefix}lifecycle.dead.>`], options);
  return info;
}

/** Options of the partition consumers. */
export interface ConsumerOptions {
  readonly stream?: string;
  readonly durable?: string;
  /** Number of partitions P (default 1). */
  readonly partitions?: number;
  /**
   * How long the server waits for an ack before redelivering (ms, default 10,000). The consumer
   * reports progress (`working()`) every third of it while a message is being applied, so only a
   * worker that died holds its partition, and only for this long.
   */
  readonly ackWaitMs?: number;
}

/**
 * Creates (or fixes) the P durable pull consumers, one per partition: explicit ack, deliver all,
 * max_ack_pending 1 (the ordering guarantee), unlimited deliveries (the worker decides when a
 * message is poison). Returns their names, index = partition.
 */
export async function ensurePartitionConsumers(target: JetStreamManager | JetStreamClient | NatsConnection, options: ConsumerOptions = {}): Promise<string[]> {
  const jsm = await managerOf(target);
  const stream = options.stream ?? DEFAULT_STREAM;
  const count = checkPartitions(options.partitions ?? 1);
  const ack_wait = nanos(options.ackWaitMs ?? DEFAULT_ACK_WAIT_MS);
  const names: string[] = [];
  for (let k = 0; k < count; k += 1) {
    const name = partitionConsumerName(options.durable ?? DEFAULT_DURABLE, k, count);
    let current;
    try {
      current = await jsm.consumers.info(stream, name);
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    if (current === undefined) {
      await jsm.consumers.add(stream, {
        durable_name: name,
        description: `lifecycle partition ${k} of ${count} (max_ack_pending 1 keeps each batch in order)`,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        max_ack_pending: 1,
        max_deliver: -1,
        ack_wait,
      });
    } else if (current.config.max_ack_pending !== 1 || current.config.ack_wait !== ack_wait) {
      await jsm.consumers.update(stream, name, { max_ack_pending: 1, ack_wait });
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
