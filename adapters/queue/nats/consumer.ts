/**
 * The JetStream consumer: one loop per owned partition pulls from the partition's durable consumer
 * and hands each message to the MessageHandler (see ORDERING BY BATCH and ACKNOWLEDGEMENT in the
 * module comment of ../nats.ts).
 */
import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';
import type { LifecycleEngine } from '../../engine/engine.js';
import type { Worker } from '../../engine/workers.js';
import { LifecycleError } from '../../errors.js';
import { backoffDelay, formatDelay, messageOf, silentLogger, sleep, type BackoffOptions, type QueueLogger } from '../support.js';
import { semaphore, settlesWithin } from './async.js';
import { MessageHandler } from './handler.js';
import { DEFAULT_ACK_WAIT_MS, DEFAULT_DURABLE, DEFAULT_STREAM, partitionConsumerName } from './names.js';
import { checkPartitions, type ConsumerOptions } from './stream.js';

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
  /** What this consumer did so far (a copy). */
  stats(): ConsumerStats;
}

/** What the pull loop of one partition needs. */
interface PullContext {
  readonly js: JetStreamClient;
  readonly stream: string;
  readonly durable: string;
  readonly count: number;
  readonly pullBatch: number;
  /** How long one pull request stays open (ms). */
  readonly expires: number;
  /** Bounds the messages in flight in this process. */
  readonly limit: <T>(work: () => Promise<T>) => Promise<T>;
  /** Interval of `working()` while a message is applied (ms). */
  readonly progressEvery: number;
  readonly signal: AbortSignal;
  readonly logger: QueueLogger;
  readonly backoff: BackoffOptions | undefined;
  readonly handler: MessageHandler;
}

/** The owned partitions, without repeats; each must be in 0..count-1. */
function ownedPartitions(owned: readonly number[] | undefined, count: number): number[] {
  const partitions = [...new Set(owned ?? Array.from({ length: count }, (_, k) => k))];
  for (const k of partitions) {
    if (!Number.isInteger(k) || k < 0 || k >= count) {
      throw new LifecycleError('INVALID_CONFIGURATION', `owned partition ${k} is not in 0..${count - 1}`, { details: { partition: k, partitions: count } });
    }
  }
  return partitions;
}

/**
 * Consumes the owned partitions of the stream through their durable pull consumers (which must
 * exist: see ensurePartitionConsumers) and applies each owned message with the engine; see the
 * module comment of ../nats.ts for ordering, acks, naks and dead letters. `stop()` finishes in-flight work.
 * The connection is the caller's (use startNatsWorker for one that is also closed on stop).
 */
export function startJetStreamConsumer(engine: Pick<LifecycleEngine, 'dispatchMany'>, js: JetStreamClient, options: JetStreamConsumerOptions = {}): JetStreamConsumer {
  const stream = options.stream ?? DEFAULT_STREAM;
  const count = checkPartitions(options.partitions ?? 1);
  const owned = ownedPartitions(options.owned, count);
  const logger = options.logger ?? silentLogger;
  const expires = Math.max(1000, options.pullExpiresMs ?? 2000);
  const stats: ConsumerStats = { applied: 0, duplicates: 0, skipped: 0, deadLettered: 0, naks: 0 };
  const abort = new AbortController();
  const handler = new MessageHandler({
    engine,
    js,
    stream,
    prefix: options.subjectPrefix ?? '',
    count,
    maxDeliver: options.maxDeliver ?? 5,
    logger,
    stats,
    options,
  });
  const context: PullContext = {
    js,
    stream,
    durable: options.durable ?? DEFAULT_DURABLE,
    count,
    pullBatch: Math.max(1, options.pullBatch ?? 64),
    expires,
    limit: semaphore(Math.max(1, options.concurrency ?? owned.length)),
    progressEvery: Math.max(500, Math.floor((options.ackWaitMs ?? DEFAULT_ACK_WAIT_MS) / 3)),
    signal: abort.signal,
    logger,
    backoff: options.backoff,
    handler,
  };
  const loops = owned.map((partition) =>
    pullPartition(context, partition).catch((error: unknown) => logger.error(`partition ${partition} loop ended: ${messageOf(error)}`)),
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

/** Keeps the lease of a message that takes long to apply (a slow store). */
async function withProgress(msg: JsMsg, progressEvery: number, work: () => Promise<void>): Promise<void> {
  const timer = setInterval(() => msg.working(), progressEvery);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
}

/** Pulls and handles the messages of one partition until stopped, waiting (back-off) while its consumer fails. */
async function pullPartition(context: PullContext, partition: number): Promise<void> {
  const { js, stream, durable, count, pullBatch, expires, limit, signal, logger, handler } = context;
  const name = partitionConsumerName(durable, partition, count);
  let failures = 0;
  let consumer: Awaited<ReturnType<JetStreamClient['consumers']['get']>> | undefined;
  while (!signal.aborted) {
    try {
      consumer ??= await js.consumers.get(stream, name);
      // One pull request for up to `pullBatch` messages: with max_ack_pending 1 the server sends
      // the next one as soon as the previous is acked, without a new request per message.
      const messages = await consumer.fetch({ max_messages: pullBatch, expires });
      for await (const msg of messages) {
        if (failures > 0) logger.info(`partition ${partition}: consuming ${stream}/${name} again`);
        failures = 0;
        if (signal.aborted) {
          // Stopping: the request is still open on the server and got one more message. Hand it
          // back for after the request's end, so the next owner gets it (not us, not a timeout).
          msg.nak(expires);
          handler.settle(partition, msg, 'nak', null);
          continue;
        }
        await limit(() => withProgress(msg, context.progressEvery, () => handler.handle(partition, msg)));
      }
    } catch (error) {
      if (signal.aborted) break;
      failures += 1;
      consumer = undefined;
      const delay = backoffDelay(failures, context.backoff);
      logger.warn(`waiting for JetStream consumer ${stream}/${name} (attempt ${failures}, next in ${formatDelay(delay)}): ${messageOf(error)}`);
      await sleep(delay, signal);
    }
  }
}
