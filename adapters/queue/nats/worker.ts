/**
 * The whole NATS worker: connect (waiting as long as it takes), ensure the streams and the partition
 * consumers, then consume and relay the outbox; `stop()` works at any stage (see ROBUSTNESS in the
 * module comment of ../nats.ts).
 */
import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { LifecycleEngine } from '../../engine/engine.js';
import type { Worker } from '../../engine/workers.js';
import { LifecycleError } from '../../errors.js';
import { backoffDelay, formatDelay, messageOf, silentLogger, sleep, type QueueLogger } from '../support.js';
import { settlesWithin } from './async.js';
import { connectNats } from './connection.js';
import { startJetStreamConsumer, type ConsumerStats, type JetStreamConsumer, type JetStreamConsumerOptions } from './consumer.js';
import { DEFAULT_STREAM } from './names.js';
import { startJetStreamRelay } from './relay.js';
import { ensurePartitionConsumers, ensureStream, type StreamOptions } from './stream.js';

/** Options of `startNatsWorker`. */
export interface NatsWorkerOptions extends Omit<JetStreamConsumerOptions, 'stream'> {
  /** nats://host:port */
  readonly url: string;
  /** The engine; its `subscribe` (when it has one) wakes the relay after every commit. */
  readonly engine: Pick<LifecycleEngine, 'dispatchMany' | 'store'> & Partial<Pick<LifecycleEngine, 'subscribe'>>;
  /** Stream settings (name default LIFECYCLE). */
  readonly stream?: Omit<StreamOptions, 'subjectPrefix'>;
  /** Also relay the engine store's outbox to JetStream (default true). */
  readonly relay?: boolean | { readonly intervalMs?: number; readonly batchSize?: number; readonly claimLeaseMs?: number };
  /** Also consume (default true; false for a relay-only process). */
  readonly consume?: boolean;
  readonly clientName?: string;
}

/** A running NATS worker. */
export interface NatsWorker extends Worker {
  /** Resolves once connected, the stream and consumers exist and consuming started. */
  readonly ready: Promise<void>;
  /** What the consumer did so far (zeros until it started). */
  stats(): ConsumerStats;
  /** The connection, once connected. */
  connection(): NatsConnection | undefined;
}

function stopped(): never {
  throw new LifecycleError('SHUTTING_DOWN', 'the NATS worker was stopped before it was ready');
}

/** Ensures the streams and (when consuming) the partition consumers, retrying with back-off until JetStream answers. */
async function ensureTopology(nc: NatsConnection, options: NatsWorkerOptions, logger: QueueLogger, signal: AbortSignal): Promise<void> {
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
          ...(options.maxAckPending === undefined ? {} : { maxAckPending: options.maxAckPending }),
          ...(options.subjectPrefix === undefined ? {} : { subjectPrefix: options.subjectPrefix }),
          ...(options.stream?.subjects === undefined ? {} : { topics: options.stream.subjects }),
        });
      }
      return;
    } catch (error) {
      if (signal.aborted) stopped();
      if (error instanceof LifecycleError && error.code === 'INVALID_CONFIGURATION') throw error;
      const delay = backoffDelay(attempt, options.backoff);
      logger.warn(`waiting for JetStream at ${options.url} (attempt ${attempt}, next in ${formatDelay(delay)}): ${messageOf(error)}`);
      await sleep(delay, signal);
      if (signal.aborted) stopped();
    }
  }
}

/**
 * The outbox relay of the engine's store to JetStream, with the worker's relay settings. It is woken
 * after every commit of the engine, so what a commit wrote goes out at once; the interval is the
 * fallback for rows other processes wrote (and the pace while idle).
 */
function startRelay(options: NatsWorkerOptions, js: JetStreamClient, logger: QueueLogger): Worker {
  const settings = typeof options.relay === 'object' ? options.relay : {};
  const relay = startJetStreamRelay(options.engine.store, js, {
    ...(options.subjectPrefix === undefined ? {} : { subjectPrefix: options.subjectPrefix }),
    ...(settings.intervalMs === undefined ? {} : { intervalMs: settings.intervalMs }),
    ...(settings.batchSize === undefined ? {} : { batchSize: settings.batchSize }),
    ...(settings.claimLeaseMs === undefined ? {} : { claimLeaseMs: settings.claimLeaseMs }),
    onError: (error) => logger.warn(`outbox relay to JetStream failed, will retry: ${messageOf(error)}`),
  });
  const unsubscribe = options.engine.subscribe?.(() => relay.wake());
  return {
    stop: async () => {
      unsubscribe?.();
      await relay.stop();
    },
  };
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
  const empty: ConsumerStats = { applied: 0, duplicates: 0, skipped: 0, deadLettered: 0, deferred: 0, naks: 0, retries: 0, groups: 0 };

  const start = async (): Promise<void> => {
    nc = await connectNats(options.url, {
      logger,
      signal: abort.signal,
      ...(options.backoff === undefined ? {} : { backoff: options.backoff }),
      ...(options.clientName === undefined ? {} : { name: options.clientName }),
    });
    if (abort.signal.aborted) stopped();
    const streamName = options.stream?.name ?? DEFAULT_STREAM;
    await ensureTopology(nc, options, logger, abort.signal);
    const js = jetstream(nc);
    if (options.consume !== false) {
      consumer = startJetStreamConsumer(options.engine, js, {
        ...options,
        stream: streamName,
        ...(options.stream?.subjects === undefined ? {} : { topics: options.stream.subjects }),
      });
    }
    if (options.relay !== false) relay = startRelay(options, js, logger);
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
