/**
 * NATS JetStream transport: the stream of lifecycle events, durable pull consumers that feed the
 * engine, a dead-letter stream, and the outbox relay that publishes the engine's messages.
 *
 * SUBJECTS. The lifecycle topic IS the subject (`huleedu.batch.essays.registered.v1`): JetStream
 * subjects may contain dots, so producers and observers need no mapping. One stream (default
 * `LIFECYCLE`) captures every topic of TOPICS; a second one (`<name>_DEAD`) captures
 * `lifecycle.dead.<topic>`, where poison messages go. An optional `subjectPrefix` (tests, several
 * environments on one server) is put in front of every subject.
 *
 * DE-DUPLICATION. Every publish carries `Nats-Msg-Id` = the envelope's event_id, so the server
 * drops a republish inside the stream's `duplicate_window` (default 2 minutes). Beyond the window
 * (or when a producer uses other message ids) the consumer still gets a duplicate, and the
 * engine's inbox answers `duplicate`: nothing is applied twice either way.
 *
 * ORDERING BY BATCH (the design). Events of one batch must be applied in publish order even with
 * several workers. The batch id is not in the subject (the topic is), so the server cannot route by
 * it; instead the key space is split into P partitions, partition = FNV-1a(batch id) % P, and there
 * is ONE durable pull consumer per partition (`<durable>_p<k>_of_<P>`), each reading the whole
 * stream with `max_ack_pending = 1`:
 *  - consumer k applies the messages of partition k and acks every other message unapplied
 *    (cheaply: publishers put the batch id in the `Lifecycle-Partition-Key` header, so a foreign
 *    message is not even parsed; without the header the envelope is parsed to find it);
 *  - `max_ack_pending = 1` makes the SERVER hand out the next message of a partition only after
 *    the previous one is acked or terminated, and redeliver a nak'd or timed-out message before
 *    anything newer: within a partition, processing is strictly in stream order whatever happens
 *    (nak with delay, worker crash, reconnect), and however many processes attach to the same
 *    partition consumer (they become hot standbys of each other, never concurrent);
 *  - different partitions run in parallel (one loop per owned partition, `concurrency` bounds the
 *    messages in flight in one process), in one process or spread over several (`owned`).
 * Why not the alternatives: one shared consumer with max_ack_pending 1 is the P = 1 case (strict
 * global order, no parallelism); a partition header alone cannot be filtered on by the server; a
 * subject per batch (`<topic>.<batch>`) would break "the topic is the subject" for producers and
 * observers; a router republishing into partition subjects adds a hop and a second stream.
 * Costs: every message is delivered to all P consumers (P-1 of them ack it unread), a partition
 * advances one message per round trip (one pull request serves up to `pullBatch` of them) and
 * commits one event per transaction. A stream that is re-partitioned (new P) gets new consumers
 * that start from the beginning of the stream: everything already applied answers `duplicate`
 * (delete the old consumers). The batch id is the outbox's aggregate_id (`batchIdOf`); events
 * without one fall back to the correlation id and are ordered only with that correlation.
 *
 * ACKNOWLEDGEMENT. A message is acked only after the engine committed it (or answered duplicate),
 * so a crash before the ack redelivers it (after `ack_wait`, default 10 s, during which that
 * partition waits) and the inbox answers duplicate; a slow commit keeps its lease with
 * `working()`. Invalid JSON or an invalid envelope (any item the engine answers `invalid`:
 * unknown type, missing entity, machine error) is copied to the dead-letter subject with the
 * error in headers, logged, then `term()`ed.
 * A store failure (STORE_FAILURE, VERSION_CONFLICT) is `nak()`ed with a capped exponential delay and
 * retried without limit; any other failure likewise, but at most `maxDeliver` times before it is
 * dead-lettered.
 *
 * ROBUSTNESS. The connection is retried with capped exponential back-off until NATS answers,
 * logging what it waits for ("waiting for NATS at nats://127.0.0.1:4222 (attempt 3, next in 4 s)");
 * once connected the client reconnects forever with the same back-off. A failing pull or stream
 * set-up is retried the same way. `stop()` lets every in-flight message finish (commit, then ack),
 * waits for open pull requests to end (at most `pullExpiresMs`; a message the server pushes in
 * that time is nak'd for after it, so no message stays leased), then drains and closes the
 * connection. If the server is unreachable, stop() gives up waiting after a grace period.
 */
import { AckPolicy, DeliverPolicy, DiscardPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import type { JetStreamClient, JetStreamManager, JsMsg, PubAck, StreamInfo } from '@nats-io/jetstream';
import { connect, headers, nanos, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';
import { TOPICS } from '../../machines/contracts/events.js';
import type { LifecycleEngine } from '../engine/engine.js';
import type { BatchItemResult } from '../engine/results.js';
import { relayOutboxOnce, startOutboxRelay, type Publisher, type Worker } from '../engine/workers.js';
import { LifecycleError } from '../errors.js';
import type { SnapshotStore } from '../store.js';
import {
  backoffDelay,
  formatDelay,
  isTransient,
  messageOf,
  partitionKeyOf,
  partitionOf,
  silentLogger,
  sleep,
  type BackoffOptions,
  type QueueLogger,
} from './support.js';

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
const DEFAULT_DUPLICATE_WINDOW_MS = 120_000;
const DEFAULT_ACK_WAIT_MS = 10_000;

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

// -------------------------------------------------------------------------------------------
// Connection
// -------------------------------------------------------------------------------------------

/** Options of `connectNats`. */
export interface ConnectOptions {
  readonly logger?: QueueLogger;
  /** Back-off between connection attempts (default 500 ms doubling up to 30 s). */
  readonly backoff?: BackoffOptions;
  /** Stops waiting (rejects with SHUTTING_DOWN). */
  readonly signal?: AbortSignal;
  /** Client name shown by the server. */
  readonly name?: string;
  /** Handshake timeout of one attempt (ms, default 5000). */
  readonly timeoutMs?: number;
}

/**
 * Connects to `url`, retrying with capped exponential back-off until the server answers (or
 * `signal` aborts), and logging each wait. The connection then reconnects forever, with the same
 * back-off, logging when it loses and regains the server.
 */
export async function connectNats(url: string, options: ConnectOptions = {}): Promise<NatsConnection> {
  const logger = options.logger ?? silentLogger;
  let reconnects = 0;
  let connected = false;
  for (let attempt = 1; ; attempt += 1) {
    if (options.signal?.aborted === true) throw new LifecycleError('SHUTTING_DOWN', `stopped while waiting for NATS at ${url}`);
    try {
      const nc = await connect({
        servers: url,
        name: options.name ?? 'lifecycle-worker',
        timeout: options.timeoutMs ?? 5000,
        maxReconnectAttempts: -1,
        reconnectJitter: 0,
        reconnectDelayHandler: () => {
          // Also consulted while dialling the first time: only count and log real reconnects.
          if (!connected) return backoffDelay(1, options.backoff);
          reconnects += 1;
          const delay = backoffDelay(reconnects, options.backoff);
          logger.warn(`waiting for NATS at ${url} (reconnect attempt ${reconnects}, next in ${formatDelay(delay)})`);
          return delay;
        },
      });
      connected = true;
      if (attempt > 1) logger.info(`connected to NATS at ${url} after ${attempt} attempts`);
      else logger.info(`connected to NATS at ${url}`);
      void watchStatus(nc, url, logger, () => (reconnects = 0));
      return nc;
    } catch (error) {
      const delay = backoffDelay(attempt, options.backoff);
      logger.warn(`waiting for NATS at ${url} (attempt ${attempt}, next in ${formatDelay(delay)}): ${messageOf(error)}`, { attempt, delay_ms: delay });
      await sleep(delay, options.signal);
    }
  }
}

async function watchStatus(nc: NatsConnection, url: string, logger: QueueLogger, onReconnect: () => void): Promise<void> {
  try {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect') logger.warn(`lost the connection to NATS at ${url}; reconnecting`);
      else if (status.type === 'reconnect') {
        onReconnect();
        logger.info(`reconnected to NATS at ${url}`);
      } else if (status.type === 'error') logger.error(`NATS error: ${messageOf(status.error)}`);
    }
  } catch (error) {
    logger.error(`NATS status watch ended: ${messageOf(error)}`);
  }
}

// -------------------------------------------------------------------------------------------
// Stream and consumers
// -------------------------------------------------------------------------------------------

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

function checkPartitions(count: number): number {
  if (!Number.isInteger(count) || count < 1 || count > 1024) {
    throw new LifecycleError('INVALID_CONFIGURATION', `partitions must be an integer from 1 to 1024, got ${count}`, { details: { partitions: count } });
  }
  return count;
}

// -------------------------------------------------------------------------------------------
// Publishing: producers and the outbox relay
// -------------------------------------------------------------------------------------------

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
  readonly batchSize?: number;
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

// -------------------------------------------------------------------------------------------
// Consuming
// -------------------------------------------------------------------------------------------

/** What a consumer did so far. */
export interface ConsumerStats {
  /** Messages of owned partitions applied (accepted or refused). */
  applied: number;
  /** Messages answered duplicate (already applied; acked). */
  duplicates: number;
  /** Messages of other partitions acked unread. */
  skipped: number;
  /** Messages dead-lettered and terminated. */
  deadLettered: number;
  /** Negative acknowledgements (retries). */
  naks: number;
}

/** Options of `startJetStreamConsumer`. */
export interface JetStreamConsumerOptions extends ConsumerOptions {
  readonly subjectPrefix?: string;
  /** Partitions this process consumes (default all of 0..P-1). */
  readonly owned?: readonly number[];
  /** Messages in flight at once in this process (default: one per owned partition). */
  readonly concurrency?: number;
  readonly logger?: QueueLogger;
  /** Delays of nak and of retrying a failing pull (default 500 ms doubling up to 30 s). */
  readonly backoff?: BackoffOptions;
  /** Deliveries of a message failing with a non-transient error before it is dead-lettered (default 5). */
  readonly maxDeliver?: number;
  /** How long one pull request stays open (ms, min 1000, default 2000): bounds stop(). */
  readonly pullExpiresMs?: number;
  /** Messages one pull request may take, one at a time (default 64). */
  readonly pullBatch?: number;
  /** Called after each message is settled (tests, metrics). */
  readonly onSettled?: (event: SettledMessage) => void;
  /** How long stop() waits beyond `pullExpiresMs` for a pull that hangs on a lost connection (ms, default 3000). */
  readonly stopGraceMs?: number;
}

/** How one message was settled. */
export interface SettledMessage {
  readonly partition: number;
  readonly subject: string;
  readonly streamSequence: number;
  readonly action: 'applied' | 'duplicate' | 'skipped' | 'dead_lettered' | 'nak';
  readonly eventId?: string;
  readonly partitionKey: string | null;
}

/** A running consumer. */
export interface JetStreamConsumer extends Worker {
  stats(): ConsumerStats;
}

interface Decoded {
  readonly key: string | null;
  readonly value?: unknown;
  readonly parseError?: string;
  readonly parsed: boolean;
}

function decode(msg: JsMsg, full: boolean): Decoded {
  const header = msg.headers?.get(PARTITION_KEY_HEADER);
  if (!full && header !== undefined && header.length > 0) return { key: header, parsed: false };
  let value: unknown;
  try {
    value = JSON.parse(msg.string()) as unknown;
  } catch (error) {
    return { key: header !== undefined && header.length > 0 ? header : null, parseError: `invalid JSON: ${messageOf(error)}`, parsed: true };
  }
  return { key: header !== undefined && header.length > 0 ? header : partitionKeyOf(value), value, parsed: true };
}

/** Header values cannot hold line breaks and should stay short. */
function headerValue(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').slice(0, 1000);
}

/** A counting semaphore. */
function semaphore(size: number): <T>(work: () => Promise<T>) => Promise<T> {
  let free = size;
  const waiting: Array<() => void> = [];
  return async (work) => {
    if (free > 0) free -= 1;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await work();
    } finally {
      const next = waiting.shift();
      if (next === undefined) free += 1;
      else next();
    }
  };
}

/**
 * Consumes the owned partitions of the stream through their durable pull consumers (which must
 * exist: see ensurePartitionConsumers) and applies each owned message with the engine; see the
 * module comment for ordering, acks, naks and dead letters. `stop()` finishes in-flight work.
 * The connection is the caller's (use startNatsWorker for one that is also closed on stop).
 */
export function startJetStreamConsumer(engine: Pick<LifecycleEngine, 'dispatchMany'>, js: JetStreamClient, options: JetStreamConsumerOptions = {}): JetStreamConsumer {
  const stream = options.stream ?? DEFAULT_STREAM;
  const durable = options.durable ?? DEFAULT_DURABLE;
  const count = checkPartitions(options.partitions ?? 1);
  const owned = [...new Set(options.owned ?? Array.from({ length: count }, (_, k) => k))];
  for (const k of owned) {
    if (!Number.isInteger(k) || k < 0 || k >= count) {
      throw new LifecycleError('INVALID_CONFIGURATION', `owned partition ${k} is not in 0..${count - 1}`, { details: { partition: k, partitions: count } });
    }
  }
  const logger = options.logger ?? silentLogger;
  const prefix = options.subjectPrefix ?? '';
  const maxDeliver = options.maxDeliver ?? 5;
  const expires = Math.max(1000, options.pullExpiresMs ?? 2000);
  const pullBatch = Math.max(1, options.pullBatch ?? 64);
  const limit = semaphore(Math.max(1, options.concurrency ?? owned.length));
  const stats: ConsumerStats = { applied: 0, duplicates: 0, skipped: 0, deadLettered: 0, naks: 0 };
  const abort = new AbortController();
  const topicOf = (subject: string): string => (subject.startsWith(prefix) ? subject.slice(prefix.length) : subject);

  const settle = (partition: number, msg: JsMsg, action: SettledMessage['action'], key: string | null, eventId?: string): void => {
    if (action === 'applied') stats.applied += 1;
    else if (action === 'duplicate') stats.duplicates += 1;
    else if (action === 'skipped') stats.skipped += 1;
    else if (action === 'dead_lettered') stats.deadLettered += 1;
    else stats.naks += 1;
    options.onSettled?.({
      partition,
      subject: msg.subject,
      streamSequence: msg.seq,
      action,
      partitionKey: key,
      ...(eventId === undefined ? {} : { eventId }),
    });
  };

  const nak = (partition: number, msg: JsMsg, key: string | null, why: string): void => {
    const delay = backoffDelay(msg.info.deliveryCount, options.backoff);
    logger.warn(`partition ${partition}: ${why}; message ${msg.seq} on ${msg.subject} retried in ${formatDelay(delay)} (delivery ${msg.info.deliveryCount})`);
    msg.nak(delay);
    settle(partition, msg, 'nak', key);
  };

  const deadLetter = async (partition: number, msg: JsMsg, key: string | null, code: string, error: string): Promise<void> => {
    const topic = topicOf(msg.subject);
    const h = headers();
    h.set(DEAD_LETTER_HEADERS.code, headerValue(code));
    h.set(DEAD_LETTER_HEADERS.error, headerValue(error));
    h.set(DEAD_LETTER_HEADERS.subject, msg.subject);
    h.set(DEAD_LETTER_HEADERS.stream, stream);
    h.set(DEAD_LETTER_HEADERS.sequence, String(msg.seq));
    if (key !== null) h.set(PARTITION_KEY_HEADER, key);
    try {
      await js.publish(deadLetterSubjectOf(topic, prefix), msg.data, { msgID: `dead:${stream}:${msg.seq}`, headers: h });
    } catch (publishError) {
      logger.error(`partition ${partition}: could not dead-letter message ${msg.seq} (${code}: ${error}): ${messageOf(publishError)}`);
      nak(partition, msg, key, 'dead-letter publish failed');
      return;
    }
    logger.error(`partition ${partition}: message ${msg.seq} on ${msg.subject} dead-lettered to ${deadLetterSubjectOf(topic, prefix)}: ${code}: ${error}`, {
      stream_sequence: msg.seq,
      code,
    });
    // No reason text: servers before 2.10 do not recognise "+TERM <reason>" and would redeliver.
    // The reason travels in the dead letter's headers instead.
    msg.term();
    settle(partition, msg, 'dead_lettered', key);
  };

  const handle = async (partition: number, msg: JsMsg): Promise<void> => {
    const first = decode(msg, false);
    if (partitionOf(first.key, count) !== partition) {
      msg.ack();
      settle(partition, msg, 'skipped', first.key);
      return;
    }
    const decoded = first.parsed ? first : decode(msg, true);
    if (decoded.parseError !== undefined) {
      await deadLetter(partition, msg, decoded.key, 'INVALID_ENVELOPE', decoded.parseError);
      return;
    }
    const eventId = (decoded.value as { event_id?: unknown } | null)?.event_id;
    const id = typeof eventId === 'string' ? eventId : undefined;
    let answer: BatchItemResult | undefined;
    try {
      [answer] = await engine.dispatchMany([decoded.value]);
    } catch (error) {
      if (isTransient(error) || msg.info.deliveryCount < maxDeliver) {
        nak(partition, msg, decoded.key, `${error instanceof LifecycleError ? error.code : 'error'}: ${messageOf(error)}`);
        return;
      }
      await deadLetter(partition, msg, decoded.key, error instanceof LifecycleError ? error.code : 'PROCESSING_FAILED', `failed ${msg.info.deliveryCount} times: ${messageOf(error)}`);
      return;
    }
    if (answer === undefined) {
      nak(partition, msg, decoded.key, 'the engine gave no answer');
      return;
    }
    if (answer.outcome === 'invalid') {
      await deadLetter(partition, msg, decoded.key, answer.code, answer.message);
      return;
    }
    msg.ack();
    settle(partition, msg, answer.outcome === 'duplicate' ? 'duplicate' : 'applied', decoded.key, id);
  };

  const progressEvery = Math.max(500, Math.floor((options.ackWaitMs ?? DEFAULT_ACK_WAIT_MS) / 3));
  /** Keeps the lease of a message that takes long to apply (a slow store). */
  const withProgress = async (msg: JsMsg, work: () => Promise<void>): Promise<void> => {
    const timer = setInterval(() => msg.working(), progressEvery);
    try {
      await work();
    } finally {
      clearInterval(timer);
    }
  };

  const loop = async (partition: number): Promise<void> => {
    const name = partitionConsumerName(durable, partition, count);
    let failures = 0;
    let consumer: Awaited<ReturnType<JetStreamClient['consumers']['get']>> | undefined;
    while (!abort.signal.aborted) {
      try {
        consumer ??= await js.consumers.get(stream, name);
        // One pull request for up to `pullBatch` messages: with max_ack_pending 1 the server sends
        // the next one as soon as the previous is acked, without a new request per message.
        const messages = await consumer.fetch({ max_messages: pullBatch, expires });
        for await (const msg of messages) {
          if (failures > 0) logger.info(`partition ${partition}: consuming ${stream}/${name} again`);
          failures = 0;
          if (abort.signal.aborted) {
            // Stopping: the request is still open on the server and got one more message. Hand it
            // back for after the request's end, so the next owner gets it (not us, not a timeout).
            msg.nak(expires);
            settle(partition, msg, 'nak', null);
            continue;
          }
          await limit(() => withProgress(msg, () => handle(partition, msg)));
        }
      } catch (error) {
        if (abort.signal.aborted) break;
        failures += 1;
        consumer = undefined;
        const delay = backoffDelay(failures, options.backoff);
        logger.warn(`waiting for JetStream consumer ${stream}/${name} (attempt ${failures}, next in ${formatDelay(delay)}): ${messageOf(error)}`);
        await sleep(delay, abort.signal);
      }
    }
  };

  const loops = owned.map((partition) =>
    loop(partition).catch((error: unknown) => logger.error(`partition ${partition} loop ended: ${messageOf(error)}`)),
  );
  return {
    stats: () => ({ ...stats }),
    async stop() {
      abort.abort();
      // A loop ends once its open pull request ends (at most `expires`) and its message is settled.
      // Only a connection that is down can hold a pull longer: then give up waiting; the server
      // redelivers whatever was leased after ack_wait.
      const grace = expires + (options.stopGraceMs ?? 3000);
      if (!(await settlesWithin(Promise.all(loops), grace))) {
        logger.warn(`stopping: a pull request did not end within ${formatDelay(grace)} (is NATS reachable?); leaving it to the server`);
      }
    },
  };
}

/** True when `promise` settles within `ms`. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// -------------------------------------------------------------------------------------------
// The whole worker
// -------------------------------------------------------------------------------------------

/** Options of `startNatsWorker`. */
export interface NatsWorkerOptions extends Omit<JetStreamConsumerOptions, 'stream'> {
  /** nats://host:port */
  readonly url: string;
  readonly engine: Pick<LifecycleEngine, 'dispatchMany' | 'store'>;
  /** Stream settings (name default LIFECYCLE). */
  readonly stream?: Omit<StreamOptions, 'subjectPrefix'>;
  /** Also relay the engine store's outbox to JetStream (default true). */
  readonly relay?: boolean | { readonly intervalMs?: number; readonly batchSize?: number };
  /** Also consume (default true; false for a relay-only process). */
  readonly consume?: boolean;
  readonly clientName?: string;
}

/** A running NATS worker. */
export interface NatsWorker extends Worker {
  /** Resolves once connected, the stream and consumers exist and consuming started. */
  readonly ready: Promise<void>;
  stats(): ConsumerStats;
  /** The connection, once connected. */
  connection(): NatsConnection | undefined;
}

/**
 * Connects (waiting for NATS as long as it takes), ensures the stream, the dead-letter stream and
 * the partition consumers, then consumes and (by default) relays the outbox. `stop()` works at any
 * stage: it stops waiting, finishes in-flight messages and relay rounds, drains and closes.
 */
export function startNatsWorker(options: NatsWorkerOptions): NatsWorker {
  const logger = options.logger ?? silentLogger;
  const abort = new AbortController();
  let nc: NatsConnection | undefined;
  let consumer: JetStreamConsumer | undefined;
  let relay: Worker | undefined;
  const empty: ConsumerStats = { applied: 0, duplicates: 0, skipped: 0, deadLettered: 0, naks: 0 };
  const stopped = (): never => {
    throw new LifecycleError('SHUTTING_DOWN', 'the NATS worker was stopped before it was ready');
  };

  const start = async (): Promise<void> => {
    nc = await connectNats(options.url, {
      logger,
      signal: abort.signal,
      ...(options.backoff === undefined ? {} : { backoff: options.backoff }),
      ...(options.clientName === undefined ? {} : { name: options.clientName }),
    });
    if (abort.signal.aborted) stopped();
    const streamName = options.stream?.name ?? DEFAULT_STREAM;
    for (let attempt = 1; ; attempt += 1) {
      try {
        const jsm = await jetstreamManager(nc);
        await ensureStream(jsm, { ...options.stream, ...(options.subjectPrefix === undefined ? {} : { subjectPrefix: options.subjectPrefix }) });
        if (options.consume !== false) {
          await ensurePartitionConsumers(jsm, {
            stream: streamName,
            ...(options.durable === undefined ? {} : { durable: options.durable }),
            ...(options.partitions === undefined ? {} : { partitions: options.partitions }),
            ...(options.ackWaitMs === undefined ? {} : { ackWaitMs: options.ackWaitMs }),
          });
        }
        break;
      } catch (error) {
        if (abort.signal.aborted) stopped();
        if (error instanceof LifecycleError && error.code === 'INVALID_CONFIGURATION') throw error;
        const delay = backoffDelay(attempt, options.backoff);
        logger.warn(`waiting for JetStream at ${options.url} (attempt ${attempt}, next in ${formatDelay(delay)}): ${messageOf(error)}`);
        await sleep(delay, abort.signal);
        if (abort.signal.aborted) stopped();
      }
    }
    const js = jetstream(nc);
    if (options.consume !== false) consumer = startJetStreamConsumer(options.engine, js, { ...options, stream: streamName });
    if (options.relay !== false) {
      const settings = typeof options.relay === 'object' ? options.relay : {};
      relay = startJetStreamRelay(options.engine.store, js, {
        ...(options.subjectPrefix === undefined ? {} : { subjectPrefix: options.subjectPrefix }),
        ...(settings.intervalMs === undefined ? {} : { intervalMs: settings.intervalMs }),
        ...(settings.batchSize === undefined ? {} : { batchSize: settings.batchSize }),
        onError: (error) => logger.warn(`outbox relay to JetStream failed, will retry: ${messageOf(error)}`),
      });
    }
    logger.info(`NATS worker ready: stream ${streamName}, partitions ${options.partitions ?? 1}${options.consume === false ? ' (relay only)' : ''}`);
  };

  const ready = start();
  ready.catch(() => undefined);
  return {
    ready,
    stats: () => consumer?.stats() ?? { ...empty },
    connection: () => nc,
    async stop() {
      abort.abort();
      await ready.catch(() => undefined);
      await consumer?.stop();
      await relay?.stop();
      if (nc !== undefined && !nc.isClosed()) {
        // Drain flushes the last acks; it cannot finish while the server is unreachable.
        const drained = await settlesWithin(
          nc.drain().catch((error: unknown) => logger.warn(`draining the NATS connection: ${messageOf(error)}`)),
          options.stopGraceMs ?? 3000,
        );
        if (!drained) logger.warn('stopping: the NATS connection did not drain (server unreachable); closing it');
        if (!nc.isClosed()) await nc.close().catch(() => undefined);
      }
    },
  };
}
