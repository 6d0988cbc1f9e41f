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
import { parseArgs } from 'node:util';
import { LifecycleEngine } from '../adapters/engine/engine.js';
import { startTimerScheduler, type Worker } from '../adapters/engine/workers.js';
import { isLifecycleError } from '../adapters/errors.js';
import { DEFAULT_ACK_WAIT_MS, DEFAULT_DURABLE, DEFAULT_STREAM } from '../adapters/queue/nats/names.js';
import { messageOf, type QueueLogger } from '../adapters/queue/support.js';
import type { SnapshotStore } from '../adapters/store.js';
import { EXIT_MISSING_PACKAGE, missingPackageMessage, missingPackageOf } from './lib/bin.js';

const USAGE = `usage: lifecycle-worker [--store sqlite:<path> | postgres://...] [--queue embedded | nats://host:port]
                        [--concurrency <n>] [--partitions <n>] [--owned <k,k,...>] [--standby <k,k,...>] [--ack-wait <ms>]
                        [--batch-size <n>] [--interval-ms <n>] [--stream <name>] [--durable <name>]
                        [--subject-prefix <prefix>] [--schema <name>] [--no-relay] [--outbox-internal] [--no-timers] [--verbose]
       lifecycle-worker dead list|show <id>|redrive <id>|redrive --all   (dead letters; see lifecycle-worker dead --help)

  --store           where the state lives (default sqlite:./data/lifecycle.db)
  --queue           embedded: the queue table of the SQLite store (default); nats://host:port: JetStream
  --concurrency     NATS: messages applied at once by this process (default: one per owned partition)
  --partitions      NATS: partitions P of the batch-id space, one consumer each (default 1; all workers must agree)
  --owned           NATS: partitions this process consumes (default all, or none with --standby); one process at a
                    time holds a partition (a lease in NATS), overlapping owners are hot standbys
  --standby         NATS: partitions this process takes over only when their holder is gone (stopped and not
                    replaced, silent, or absent since the start), and hands back when an owner returns;
                    e.g. worker i: --owned i --standby <the others>
  --ack-wait        NATS: ms before the server redelivers a message nobody acked (1000 to 600000, default 5000;
                    all workers must agree). A live worker reports progress every third of it, so only a worker
                    that died holds messages this long (a takeover waits ack-wait + 2 s).
  --batch-size      embedded: rows per transaction; outbox rows per relay round (default 100)
  --interval-ms     pause of an idle poll (default 200)
  --stream          NATS stream (default ${DEFAULT_STREAM}); --durable consumer name (default ${DEFAULT_DURABLE})
  --subject-prefix  NATS: put in front of every subject (default none)
  --schema          PostgreSQL schema (default public)
  --no-relay        NATS: do not relay the outbox to JetStream (default: relay)
  --outbox-internal also write the messages the engine applies to its own machines to the outbox, so the NATS
                    relay publishes them on lifecycle.internal.<topic> for observers (default off: they are
                    stored once, in the audit log, which /stream and the replay tools read)
  --no-timers       do not fire due timers in this process (default: fire them)
  --verbose         print a debug line per applied group of rows (default off)
  --help, -h        this text

Drivers are optional peer dependencies, installed only for what the flags use: better-sqlite3
(sqlite: store, embedded queue), pg (postgres://), @nats-io/jetstream and @nats-io/transport-node (nats://).`;

class UsageError extends Error {}

type StoreSetting = { readonly kind: 'sqlite'; readonly path: string } | { readonly kind: 'postgres'; readonly url: string };
type QueueSetting = { readonly kind: 'embedded' } | { readonly kind: 'nats'; readonly url: string };

interface Options {
  readonly store: StoreSetting;
  readonly queue: QueueSetting;
  readonly concurrency: number | undefined;
  readonly partitions: number;
  readonly owned: number[] | undefined;
  readonly standby: number[] | undefined;
  readonly ackWaitMs: number;
  readonly batchSize: number;
  readonly intervalMs: number;
  readonly stream: string;
  readonly durable: string;
  readonly subjectPrefix: string;
  readonly schema: string | undefined;
  readonly relay: boolean;
  readonly outboxInternal: boolean;
  readonly timers: boolean;
  readonly verbose: boolean;
}

function intOption(name: string, raw: string | undefined, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  return Number(raw);
}

function parseStore(raw: string): StoreSetting {
  if (/^postgres(ql)?:\/\//i.test(raw)) return { kind: 'postgres', url: raw };
  const match = /^sqlite:(.+)$/.exec(raw);
  if (match?.[1] === undefined) throw new UsageError(`--store must be sqlite:<path> or postgres://..., got "${raw}"`);
  return { kind: 'sqlite', path: match[1] };
}

function parseQueue(raw: string): QueueSetting {
  if (raw === 'embedded') return { kind: 'embedded' };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`--queue must be "embedded" or nats://host:port, got "${raw}"`);
  }
  if (url.protocol !== 'nats:' || url.hostname === '' || (url.pathname !== '' && url.pathname !== '/') || url.search !== '') {
    throw new UsageError(`--queue must be "embedded" or nats://host:port, got "${raw}"`);
  }
  if (url.username !== '' || url.password !== '') throw new UsageError('--queue: credentials in the NATS URL are not supported');
  return { kind: 'nats', url: `nats://${url.host}` };
}

function parseOwned(name: 'owned' | 'standby', raw: string | undefined, partitions: number): number[] | undefined {
  if (raw === undefined) return undefined;
  const parts = raw.split(',').map((part) => part.trim());
  if (parts.some((part) => !/^\d+$/.test(part) || Number(part) >= partitions)) {
    throw new UsageError(`--${name} must list partitions from 0 to ${partitions - 1} separated by commas, got "${raw}"`);
  }
  return [...new Set(parts.map(Number))];
}

const FLAGS = {
  store: { type: 'string' },
  queue: { type: 'string' },
  concurrency: { type: 'string' },
  partitions: { type: 'string' },
  owned: { type: 'string' },
  standby: { type: 'string' },
  'ack-wait': { type: 'string' },
  'batch-size': { type: 'string' },
  'interval-ms': { type: 'string' },
  stream: { type: 'string' },
  durable: { type: 'string' },
  'subject-prefix': { type: 'string' },
  schema: { type: 'string' },
  'no-relay': { type: 'boolean' },
  'outbox-internal': { type: 'boolean' },
  'no-timers': { type: 'boolean' },
  verbose: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Refuses the flags that make no sense with the embedded queue. */
function checkEmbedded(store: StoreSetting, concurrency: number | undefined, partitions: number, nats: { owned?: number[]; standby?: number[]; ackWait?: string }): void {
  if (store.kind === 'postgres') throw new UsageError('--queue embedded lives in the SQLite store\'s database; with a postgres:// store use --queue nats://host:port');
  if ((concurrency ?? 1) > 1) throw new UsageError('--concurrency > 1 needs --queue nats://...: the embedded queue applies its rows in one SQLite transaction at a time');
  if (partitions > 1 || nats.owned !== undefined || nats.standby !== undefined) throw new UsageError('--partitions, --owned and --standby apply to --queue nats://... only');
  if (nats.ackWait !== undefined) throw new UsageError('--ack-wait applies to --queue nats://... only');
}

/** --stream, --durable and --subject-prefix: names NATS accepts. Returns the subject prefix. */
function checkNames(values: { stream?: string; durable?: string; 'subject-prefix'?: string }): string {
  for (const name of ['stream', 'durable'] as const) {
    const value = values[name];
    if (value !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(value)) throw new UsageError(`--${name} must be 1 to 64 letters, digits, _ or -, got "${value}"`);
  }
  const subjectPrefix = values['subject-prefix'] ?? '';
  if (subjectPrefix !== '' && !/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.$/.test(subjectPrefix)) {
    throw new UsageError(`--subject-prefix must be dot-separated tokens ending with a dot (e.g. "staging."), got "${subjectPrefix}"`);
  }
  return subjectPrefix;
}

function parseOptions(argv: readonly string[]): Options {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], allowPositionals: false, strict: true, options: FLAGS });
  } catch (error) {
    throw new UsageError(messageOf(error));
  }
  const { values } = parsed;
  if (values.help === true) throw new UsageError('');
  const store = parseStore(values.store ?? 'sqlite:./data/lifecycle.db');
  const queue = parseQueue(values.queue ?? 'embedded');
  const concurrency = intOption('concurrency', values.concurrency, 1, 1024);
  const partitions = intOption('partitions', values.partitions, 1, 1024) ?? 1;
  const owned = parseOwned('owned', values.owned, partitions);
  const standby = parseOwned('standby', values.standby, partitions);
  const ackWait = values['ack-wait'];
  if (ackWait !== undefined && (!/^\d+$/.test(ackWait) || Number(ackWait) < 1000 || Number(ackWait) > 600_000)) {
    throw new UsageError(`--ack-wait must be a whole number of milliseconds from 1000 to 600000, got "${ackWait}"`);
  }
  const ackWaitMs = ackWait === undefined ? DEFAULT_ACK_WAIT_MS : Number(ackWait);
  if (queue.kind === 'embedded') {
    checkEmbedded(store, concurrency, partitions, { ...(owned === undefined ? {} : { owned }), ...(standby === undefined ? {} : { standby }), ...(ackWait === undefined ? {} : { ackWait }) });
  }
  const subjectPrefix = checkNames(values);
  if (values.schema !== undefined && store.kind !== 'postgres') throw new UsageError('--schema applies to a postgres:// store only');
  return {
    store,
    queue,
    concurrency,
    partitions,
    owned,
    standby,
    ackWaitMs,
    batchSize: intOption('batch-size', values['batch-size'], 1, 1000) ?? 100,
    intervalMs: intOption('interval-ms', values['interval-ms'], 10, 60_000) ?? 200,
    stream: values.stream ?? DEFAULT_STREAM,
    durable: values.durable ?? DEFAULT_DURABLE,
    subjectPrefix,
    schema: values.schema,
    relay: values['no-relay'] !== true,
    outboxInternal: values['outbox-internal'] === true,
    timers: values['no-timers'] !== true,
    verbose: values.verbose === true,
  };
}

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
    return `consumed: applied ${s.applied}, duplicates ${s.duplicates}, skipped ${s.skipped}, dead-lettered ${s.deadLettered}, handed back ${s.naks}, retries ${s.retries}, in ${s.groups} groups`;
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
    options = parseOptions(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    if (error.message === '') {
      console.log(USAGE);
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
