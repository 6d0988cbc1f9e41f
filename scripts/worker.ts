#!/usr/bin/env node
/**
 * lifecycle-worker: takes lifecycle events from a queue and applies them through the durable
 * engine; also fires due timers and (with NATS) relays the outbox to JetStream.
 *
 *   lifecycle-worker --store sqlite:./data/lifecycle.db --queue embedded
 *   lifecycle-worker --store postgres://user@host/db --queue nats://127.0.0.1:4222 --partitions 4
 *
 * SIGINT / SIGTERM stop it gracefully: in-flight commits finish and are acked, the connection
 * is drained and closed, the store is closed; exit code 0. Bad arguments: exit code 2.
 * Anything that fails at run time (store cannot be opened): exit code 1.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { LifecycleEngine } from '../adapters/engine/engine.js';
import { startTimerScheduler, type Worker } from '../adapters/engine/workers.js';
import { isLifecycleError } from '../adapters/errors.js';
import { messageOf, type QueueLogger } from '../adapters/queue/support.js';
import type { SnapshotStore } from '../adapters/store.js';
import { EXIT_MISSING_PACKAGE, missingPackageMessage, missingPackageOf } from './lib/bin.js';
import { parseQueue, parseStore, parseWorkerOptions, UsageError, WORKER_USAGE, type StoreSetting, type WorkerOptions as Options } from './lib/worker-args.js';

type WorkerLogger = QueueLogger & { debug(message: string): void };

function consoleLogger(verbose: boolean): WorkerLogger {
  const line = (level: string, message: string): void => {
    console.error(`lifecycle-worker: ${level}: ${message}`);
  };
  return {
    debug: (message) => {
      if (verbose) line('debug', message);
    },
    info: (message) => line('info', message),
    warn: (message) => line('warn', message),
    error: (message) => line('error', message),
  };
}

function describeStore(setting: StoreSetting): string {
  if (setting.kind === 'sqlite') return `sqlite:${setting.path}`;
  const url = new URL(setting.url);
  if (url.password !== '') url.password = '***';
  return url.toString();
}

async function openStore(options: Pick<Options, 'store' | 'schema'>): Promise<SnapshotStore> {
  // Each store and queue is loaded only when asked for, so an installation needs only the
  // optional peers of what it uses (better-sqlite3, pg, @nats-io/*).
  if (options.store.kind === 'sqlite') {
    if (options.store.path !== ':memory:') mkdirSync(dirname(resolve(options.store.path)), { recursive: true });
    const { openSqliteStore } = await import('../adapters/sqlite/store.js');
    return openSqliteStore({ path: options.store.path });
  }
  const { openPostgresStore } = await import('../adapters/postgres/store.js');
  return openPostgresStore({ connectionString: options.store.url, ...(options.schema === undefined ? {} : { schema: options.schema }) });
}

/** A started consumer: the worker, and what to say about it when it stops. */
interface Running {
  readonly worker: Worker;
  readonly summary?: () => string;
  readonly ready?: Promise<void>;
}

/** Drains the embedded queue (SQLite store only), logging when it runs empty. */
async function startEmbedded(engine: LifecycleEngine, store: SnapshotStore, options: Options, log: WorkerLogger, stopping: () => boolean): Promise<Running> {
  const { SqliteStore } = await import('../adapters/sqlite/store.js');
  const { EmbeddedQueue, startEmbeddedWorker } = await import('../adapters/queue/embedded.js');
  if (!(store instanceof SqliteStore)) throw new Error('the embedded queue needs the SQLite store');
  const queue = new EmbeddedQueue(store, { logger: log });
  let busy = false;
  let total = 0;
  const worker = startEmbeddedWorker(engine, queue, {
    intervalMs: options.intervalMs,
    batchSize: options.batchSize,
    onError: (error) => log.warn(`queue drain failed, will retry: ${messageOf(error)}`),
    onDrained: (report) => {
      busy = true;
      total += report.taken;
      log.debug(`applied ${report.taken} rows (accepted ${report.accepted}, refused ${report.refused}, duplicate ${report.duplicate}, invalid ${report.invalid}, dead ${report.dead})`);
    },
  });
  const watchIdle = (): void => {
    void worker.idle().then(async () => {
      if (stopping()) return;
      if (busy) {
        const counts = await queue.counts();
        log.info(`queue empty: ${total} rows applied since start (${counts.done} done, ${counts.invalid} invalid, ${counts.dead} dead in all)`);
        busy = false;
      }
      watchIdle();
    });
  };
  watchIdle();
  return { worker };
}

/** Consumes (and relays to) NATS JetStream; `failed` is called when it cannot start. */
async function startNats(engine: LifecycleEngine, url: string, options: Options, log: QueueLogger, failed: () => void): Promise<Running> {
  const { startNatsWorker } = await import('../adapters/queue/nats.js');
  const worker = startNatsWorker({
    url,
    engine,
    logger: log,
    partitions: options.partitions,
    ackWaitMs: options.ackWaitMs,
    stream: { name: options.stream },
    durable: options.durable,
    subjectPrefix: options.subjectPrefix,
    relay: options.relay ? { batchSize: options.batchSize } : false,
    ...(options.owned === undefined ? {} : { owned: options.owned }),
    ...(options.standby === undefined ? {} : { standby: options.standby }),
    ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
  });
  const ready = worker.ready.catch((error: unknown) => {
    if (!isLifecycleError(error, 'SHUTTING_DOWN')) {
      log.error(`cannot start the NATS worker: ${messageOf(error)}`);
      failed();
    }
    throw error;
  });
  const summary = (): string => {
    const s = worker.stats();
    const traffic = worker.connection()?.stats();
    const nats = traffic === undefined ? '' : `; nats: in ${traffic.inMsgs} msgs, out ${traffic.outMsgs} msgs`;
    return `consumed: applied ${s.applied}, duplicates ${s.duplicates}, skipped ${s.skipped}, dead-lettered ${s.deadLettered}, handed back ${s.naks}, retries ${s.retries}, in ${s.groups} groups${nats}`;
  };
  return { worker, summary, ready };
}

/** Graceful shutdown, once: consumers first (they finish their commit and ack), then the timer scheduler, then the store. */
class Shutdown {
  readonly workers: Worker[] = [];
  /** A summary line for the end (what the NATS consumer did). */
  summary: (() => string) | undefined;
  private running: Promise<void> | undefined;
  private exitCode = 0;
  private finish: (code: number) => void = () => undefined;
  /** Resolves with the exit code once stopped. */
  readonly done = new Promise<number>((resolve) => (this.finish = resolve));

  constructor(
    private readonly store: SnapshotStore,
    private readonly log: WorkerLogger,
  ) {}

  get stopping(): boolean {
    return this.running !== undefined;
  }

  /** SIGINT / SIGTERM stop gracefully; a second one exits at once. */
  onSignals(): void {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.on(signal, () => {
        if (this.stopping) {
          this.log.warn(`${signal} again: exiting at once`);
          process.exit(1);
        }
        void this.stop(signal, 0);
      });
    }
  }

  stop(reason: string, code: number): Promise<void> {
    if (this.running !== undefined) return this.running;
    this.exitCode = code;
    this.log.info(`stopping (${reason}): finishing in-flight work`);
    this.running = (async () => {
      for (const worker of this.workers) {
        try {
          await worker.stop();
        } catch (error) {
          this.log.error(`while stopping: ${messageOf(error)}`);
        }
      }
      await this.store.close().catch((error: unknown) => this.log.error(`closing the store: ${messageOf(error)}`));
      if (this.summary !== undefined) this.log.info(this.summary());
      this.log.info('stopped');
      this.finish(this.exitCode);
    })();
    return this.running;
  }
}

/** `lifecycle-worker dead ...`: the dead letters of either queue (scripts/lib/dead-cli.ts). */
async function deadLetters(argv: readonly string[]): Promise<number> {
  const { deadLetterCommand } = await import('./lib/dead-cli.js');
  const storeOpener = (raw: string, schema: string | undefined) => {
    const store = parseStore(raw);
    if (schema !== undefined && store.kind !== 'postgres') throw new UsageError('--schema applies to a postgres:// store only');
    return () => openStore({ store, schema });
  };
  return deadLetterCommand(argv, { storeOpener, parseQueue, out: (line) => console.log(line), err: (line) => console.error(line) });
}

async function main(argv: readonly string[]): Promise<number> {
  if (argv[0] === 'dead') return deadLetters(argv.slice(1));
  let options: Options;
  try {
    options = parseWorkerOptions(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    if (error.message === '') {
      console.log(WORKER_USAGE);
      return 0;
    }
    console.error(`lifecycle-worker: ${error.message}\n(lifecycle-worker --help lists the options)`);
    return 2;
  }
  const log = consoleLogger(options.verbose);
  let store: SnapshotStore;
  try {
    store = await openStore(options);
  } catch (error) {
    const missing = missingPackageOf(error);
    if (missing !== undefined) {
      console.error(missingPackageMessage('lifecycle-worker', missing, false));
      return EXIT_MISSING_PACKAGE;
    }
    log.error(`cannot open the store ${describeStore(options.store)}: ${messageOf(error)}`);
    return 1;
  }
  const engine = new LifecycleEngine({ store, outboxInternal: options.outboxInternal });
  const control = new Shutdown(store, log);
  control.onSignals();

  const where = `store ${describeStore(options.store)}, queue ${options.queue.kind === 'embedded' ? 'embedded' : options.queue.url}`;
  const running =
    options.queue.kind === 'embedded'
      ? await startEmbedded(engine, store, options, log, () => control.stopping)
      : await startNats(engine, options.queue.url, options, log, () => void control.stop('start failed', 1));
  control.workers.push(running.worker);
  control.summary = running.summary;
  if (options.queue.kind === 'embedded') log.info(`ready: ${where}; the outbox is not relayed with the embedded queue`);
  else {
    const owned = options.owned === undefined ? '' : ` (owned ${options.owned.join(',')})`;
    const standby = options.standby === undefined ? '' : ` (standby ${options.standby.join(',')})`;
    running.ready?.then(() => log.info(`ready: ${where}, partitions ${options.partitions}${owned}${standby}`), () => undefined);
  }
  if (options.timers) {
    control.workers.push(startTimerScheduler(engine, { intervalMs: 1000, onError: (error) => log.warn(`timer scheduler: ${messageOf(error)}`) }));
  }
  return control.done;
}

process.exitCode = await main(process.argv.slice(2));
