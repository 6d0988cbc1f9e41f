/**
 * The scaffolding of a NATS test suite: one connection, a fresh stream / subject prefix / durable
 * per test, workers and other resources stopped after each test, every stream deleted at the end.
 * Call `natsTestBed` inside the suite's `describe` (it registers the hooks).
 */
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { deadLetterStreamOf, leaseStreamOf, startNatsWorker, type NatsWorker } from '../../adapters/queue/nats.js';
import { runId } from './support.js';

type WorkerOptions = Omit<Parameters<typeof startNatsWorker>[0], 'url'> & { url?: string };

export interface NatsTestBed {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  /** Run (in reverse order) after each test. */
  readonly stops: Array<() => Promise<void> | void>;
  /** A fresh stream name (deleted at the end, with its dead-letter and lease streams), subject prefix and durable. */
  readonly names: () => { stream: string; subjectPrefix: string; durable: string };
  /** A worker on `url` with the suite's fast settings, stopped after the test. */
  readonly worker: (options: WorkerOptions) => NatsWorker;
}

/** `tag` names this suite's streams (`<TAG>_<run>_<n>`), subjects (`<tag>.<run>.<n>.`) and durables (`<tag><n>`). */
export function natsTestBed(url: string, tag: string, fast: Partial<WorkerOptions>): NatsTestBed {
  const run = runId();
  const streams: string[] = [];
  const stops: Array<() => Promise<void> | void> = [];
  let counter = 0;
  let connection: { nc: NatsConnection; js: JetStreamClient; jsm: JetStreamManager } | undefined;
  const connected = (): NonNullable<typeof connection> => {
    if (connection === undefined) throw new Error('the NATS test bed is used before its beforeAll connected');
    return connection;
  };

  beforeAll(async () => {
    const nc = await connect({ servers: url });
    connection = { nc, js: jetstream(nc), jsm: await jetstreamManager(nc) };
  });
  afterEach(async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
  });
  afterAll(async () => {
    if (connection === undefined) return;
    for (const stream of streams) await connection.jsm.streams.delete(stream).catch(() => undefined);
    await connection.nc.drain();
  });

  return {
    get nc() {
      return connected().nc;
    },
    get js() {
      return connected().js;
    },
    get jsm() {
      return connected().jsm;
    },
    stops,
    names: () => {
      counter += 1;
      const stream = `${tag.toUpperCase()}_${run}_${counter}`;
      streams.push(stream, deadLetterStreamOf(stream), leaseStreamOf(stream));
      return { stream, subjectPrefix: `${tag}.${run}.${counter}.`, durable: `${tag}${counter}` };
    },
    worker: (options) => {
      const started = startNatsWorker({ url, ...fast, ...options });
      stops.push(() => started.stop());
      return started;
    },
  };
}
