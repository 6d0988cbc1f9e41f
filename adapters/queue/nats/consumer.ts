/**
 * The JetStream consumer: one loop per owned partition takes the partition's lease, then pulls from
 * the partition's durable consumer and hands each group of messages to the MessageHandler (see
 * ORDERING BY BATCH and ACKNOWLEDGEMENT in the module comment of ../nats.ts).
 */
import { randomUUID } from 'node:crypto';
import type { Consumer, JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import type { LifecycleEngine } from '../../engine/engine.js';
import type { Worker } from '../../engine/workers.js';
import { LifecycleError } from '../../errors.js';
import { backoffDelay, formatDelay, messageOf, silentLogger, sleep, type BackoffOptions, type QueueLogger } from '../support.js';
import { semaphore, settlesWithin } from './async.js';
import { ForeignPullWatch } from './foreign-pulls.js';
import { MessageHandler } from './handler.js';
import { PartitionLease } from './lease.js';
import { DEFAULT_ACK_WAIT_MS, DEFAULT_DURABLE, DEFAULT_LEASE_MS, DEFAULT_MAX_ACK_PENDING, DEFAULT_STREAM, leaseStreamOf, leaseSubjectOf, partitionConsumerName } from './names.js';
import { checkInteger, checkPartitions, type ConsumerOptions } from './stream.js';

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
  /**
   * Deliveries handed back with a delay (nak) because this worker cannot apply them now (the
   * engine answered `deferred`, e.g. a snapshot of a newer machine version), or because an older
   * message of their batch waits so. Counted once per delivery.
   */
  deferred: number;
  /** Messages handed back (nak) on stop, for the next holder of the partition. */
  naks: number;
  /** Failed transactions retried. */
  retries: number;
  /** Groups that held messages of the partition (one transaction each); groups of other partitions' messages only are not counted. */
  groups: number;
}

/** Options of `startJetStreamConsumer`. */
export interface JetStreamConsumerOptions extends ConsumerOptions {
  /** Partitions this process consumes when it holds their lease (default all of 0..P-1, or none of them when `standby` is given). */
  readonly owned?: readonly number[];
  /**
   * Partitions this process takes over only when their usual holder is gone: it released the lease
   * and nobody took it for 2 * leaseMs, it went silent, or nobody took it since the start (2 * leaseMs).
   * Give each worker its own `owned` partitions and the others as `standby`: the work is spread and
   * any survivor takes a dead worker's partitions over.
   */
  readonly standby?: readonly number[];
  /** Groups applied at once in this process (default: one per owned partition). */
  readonly concurrency?: number;
  readonly logger?: QueueLogger;
  /** Delays of retries and of a failing pull (default 500 ms doubling up to 30 s). */
  readonly backoff?: BackoffOptions;
  /** Deliveries (attempts included) of a message failing with a non-transient error before it is dead-lettered (default 5). */
  readonly maxDeliver?: number;
  /** How long one pull request stays open (ms, min 1000, default 1000): bounds stop() and a takeover. */
  readonly pullExpiresMs?: number;
  /** Messages one pull request may take (default and max: maxAckPending). */
  readonly pullBatch?: number;
  /** How long a partition lease lasts without renewal (ms, default 3000). */
  readonly leaseMs?: number;
  /** This process's id in the partition leases (default a random UUID). */
  readonly workerId?: string;
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
  readonly action: 'applied' | 'duplicate' | 'skipped' | 'dead_lettered' | 'deferred' | 'nak';
  readonly eventId?: string;
  readonly partitionKey: string | null;
}

/** A running consumer. */
export interface JetStreamConsumer extends Worker {
  /** What this consumer did so far (a copy). */
  stats(): ConsumerStats;
}

/** What the loop of one partition needs. */
interface PartitionContext {
  readonly js: JetStreamClient;
  readonly jsm: Promise<JetStreamManager>;
  readonly stream: string;
  readonly durable: string;
  readonly prefix: string;
  readonly count: number;
  readonly pullBatch: number;
  /** How long one pull request stays open (ms). */
  readonly expires: number;
  readonly ackWaitMs: number;
  readonly leaseMs: number;
  readonly workerId: string;
  /** Bounds the groups in flight in this process. */
  readonly limit: <T>(work: () => Promise<T>) => Promise<T>;
  /** Partitions this process takes only when their usual holder is gone. */
  readonly standby: ReadonlySet<number>;
  /** Interval of `working()` on the messages held (ms). */
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
 * exist: see ensurePartitionConsumers) and applies the messages of each with the engine, a group
 * per transaction; see the module comment of ../nats.ts for leases, ordering, acks and dead letters.
 * `stop()` finishes in-flight work. The connection is the caller's (use startNatsWorker for one that
 * is also closed on stop).
 */
export function startJetStreamConsumer(engine: Pick<LifecycleEngine, 'dispatchMany'>, js: JetStreamClient, options: JetStreamConsumerOptions = {}): JetStreamConsumer {
  const stream = options.stream ?? DEFAULT_STREAM;
  const count = checkPartitions(options.partitions ?? 1);
  const standby = ownedPartitions(options.standby ?? [], count).filter((k) => options.owned === undefined || !options.owned.includes(k));
  const owned = ownedPartitions(options.owned ?? (options.standby === undefined ? undefined : []), count);
  const logger = options.logger ?? silentLogger;
  const expires = Math.max(1000, options.pullExpiresMs ?? 1000);
  const ackWaitMs = checkInteger('ackWaitMs', options.ackWaitMs ?? DEFAULT_ACK_WAIT_MS, 1000, 3_600_000);
  const maxAckPending = checkInteger('maxAckPending', options.maxAckPending ?? DEFAULT_MAX_ACK_PENDING, 1, 10_000);
  const stats: ConsumerStats = { applied: 0, duplicates: 0, skipped: 0, deadLettered: 0, deferred: 0, naks: 0, retries: 0, groups: 0 };
  const abort = new AbortController();
  const prefix = options.subjectPrefix ?? '';
  const handler = new MessageHandler({ engine, js, stream, prefix, count, maxDeliver: options.maxDeliver ?? 5, logger, stats, options, signal: abort.signal });
  const jsm = js.jetstreamManager(false);
  jsm.catch(() => undefined);
  const context: PartitionContext = {
    js,
    jsm,
    stream,
    durable: options.durable ?? DEFAULT_DURABLE,
    prefix,
    count,
    pullBatch: Math.min(maxAckPending, Math.max(1, options.pullBatch ?? maxAckPending)),
    expires,
    ackWaitMs,
    leaseMs: checkInteger('leaseMs', options.leaseMs ?? DEFAULT_LEASE_MS, 200, 600_000),
    workerId: options.workerId ?? randomUUID(),
    limit: semaphore(Math.max(1, options.concurrency ?? owned.length + standby.length)),
    standby: new Set(standby),
    progressEvery: Math.max(200, Math.floor(ackWaitMs / 3)),
    signal: abort.signal,
    logger,
    backoff: options.backoff,
    handler,
  };
  const loops = [...owned, ...standby].map((partition) =>
    runPartition(context, partition).catch((error: unknown) => logger.error(`partition ${partition} loop ended: ${messageOf(error)}`)),
  );
  return {
    stats: () => ({ ...stats }),
    async stop() {
      abort.abort();
      // A loop ends once its open pull request ends (at most `expires`) and its group is settled.
      // Only a connection that is down can hold a pull longer: then give up waiting; the server
      // redelivers whatever was leased after ack_wait.
      const grace = expires + (options.stopGraceMs ?? 3000);
      if (!(await settlesWithin(Promise.all(loops), grace))) {
        logger.warn(`stopping: a pull request did not end within ${formatDelay(grace)} (is NATS reachable?); leaving it to the server`);
      }
    },
  };
}

/**
 * How long a new holder waits before pulling when the last one went silent: until every message
 * the old holder may have been handed (its pull requests end `expires` after its lease lapsed) has
 * timed out (ack_wait) and waits for redelivery, which the server hands out before anything newer.
 */
export function takeoverWaitMs(context: { readonly expires: number; readonly ackWaitMs: number }): number {
  return context.expires + context.ackWaitMs + 1000;
}

/** Holds the partition's lease when it can, and consumes while holding it, until stopped. */
async function runPartition(context: PartitionContext, partition: number): Promise<void> {
  const { js, stream, durable, count, signal, logger } = context;
  const name = partitionConsumerName(durable, partition, count);
  const label = `partition ${partition}`;
  const lease = new PartitionLease({
    js,
    jsm: await context.jsm,
    stream: leaseStreamOf(stream),
    subject: leaseSubjectOf(name, context.prefix),
    owner: `${context.workerId}/p${partition}`,
    leaseMs: context.leaseMs,
    signal,
    logger,
    label,
    freeDelayMs: context.standby.has(partition) ? 2 * context.leaseMs : 0,
    standby: context.standby.has(partition),
  });
  while (!signal.aborted) {
    const acquired = await lease.acquire();
    if (acquired === undefined) break;
    const wait = acquired.clean ? 0 : takeoverWaitMs(context);
    logger.info(`${label}: this worker consumes ${stream}/${name}${acquired.clean ? '' : ` (taken over from ${acquired.previous ?? 'a silent worker'}; pulling in ${formatDelay(wait)}, once its messages can only come back in order)`}`);
    let clean = false;
    try {
      await sleep(wait, signal);
      if (!signal.aborted) clean = await consumeAsHolder(context, partition, name, lease);
    } finally {
      // Stopping or handing back with everything settled: release, so the next holder starts at once.
      await lease.release(clean && (signal.aborted || lease.handbackRequested()));
    }
  }
}

/**
 * Pulls and applies the partition while this process holds its lease. Returns true when it ended
 * (stopping) with nothing left out: every message settled or handed back in stream order.
 */
async function consumeAsHolder(context: PartitionContext, partition: number, name: string, lease: PartitionLease): Promise<boolean> {
  const { js, stream, signal, logger, handler } = context;
  const held: JsMsg[] = [];
  const heartbeat = setInterval(() => {
    if (lease.valid()) for (const msg of held) msg.working();
  }, context.progressEvery);
  let failures = 0;
  let leftOutUntil = 0;
  let consumer: Consumer | undefined;
  // Another holder may have applied what this process handed back while it did not hold the lease.
  handler.resetPartition(partition);
  const foreign = new ForeignPullWatch(`partition ${partition}`, `${stream}/${name}`, Math.max(3000, 3 * context.expires), logger);
  try {
    while (!signal.aborted && lease.valid() && !lease.handbackRequested()) {
      try {
        consumer ??= await js.consumers.get(stream, name);
        await pullOnce(context, partition, consumer, lease, held);
        await foreign.check(consumer);
        if (failures > 0) logger.info(`partition ${partition}: consuming ${stream}/${name} again`);
        failures = 0;
      } catch (error) {
        if (signal.aborted) break;
        failures += 1;
        consumer = undefined;
        // Messages handed to a broken pull come back only after ack_wait: pull again after that.
        const dropped = held.splice(0).length > 0;
        if (dropped) leftOutUntil = performance.now() + takeoverWaitMs(context);
        const delay = Math.max(backoffDelay(failures, context.backoff), dropped ? takeoverWaitMs(context) : 0);
        logger.warn(`waiting for JetStream consumer ${stream}/${name} (attempt ${failures}, next in ${formatDelay(delay)}): ${messageOf(error)}`);
        await sleep(delay, signal);
      }
    }
  } finally {
    clearInterval(heartbeat);
  }
  // Lease lost: another worker may pull already; what this one holds times out and comes back to it.
  if (!lease.valid()) return false;
  // Stopping or handing back, and the last pull request has ended: hand back what was not settled,
  // in stream order, for the next holder (the server redelivers nak'd messages before newer ones).
  held.sort((a, b) => a.seq - b.seq);
  for (const msg of held) {
    msg.nak();
    handler.settle(partition, msg, 'nak', null);
  }
  return performance.now() >= leftOutUntil;
}

/**
 * One pull request: each time messages arrive, everything buffered (up to `pullBatch`) is handled
 * as one group. Stopping: the open request may still deliver; those messages are only collected
 * (`held`), to be handed back once it ended. Lease lost: stop at once, leave the rest.
 */
async function pullOnce(context: PartitionContext, partition: number, consumer: Consumer, lease: PartitionLease, held: JsMsg[]): Promise<void> {
  const { signal, handler } = context;
  const live = (): boolean => !signal.aborted && lease.valid() && !lease.handbackRequested();
  const messages = await consumer.fetch({ max_messages: context.pullBatch, expires: context.expires });
  const iterator = messages[Symbol.asyncIterator]();
  for (let next = await iterator.next(); next.done !== true; next = await iterator.next()) {
    held.push(next.value);
    if (!lease.valid()) {
      held.length = 0;
      messages.stop();
      return;
    }
    if (signal.aborted || lease.handbackRequested()) continue;
    while (messages.getPending() > 0 && held.length < context.pullBatch) {
      const more = await iterator.next();
      if (more.done === true) break;
      held.push(more.value);
    }
    const group = [...held];
    const left = await context.limit(() => handler.handleGroup(partition, group, live));
    held.splice(0, held.length, ...left);
  }
}
