/**
 * The command line of lifecycle-worker (scripts/worker.ts): its usage, its flags and their
 * parsing into options. Kept apart from the worker itself, which runs on import, so the usage and
 * the flags can be checked against each other (test/cli/help.test.ts).
 */
import { parseArgs } from 'node:util';
import { DEFAULT_ACK_WAIT_MS, DEFAULT_DURABLE, DEFAULT_STREAM } from '../../adapters/queue/nats/names.js';
import { messageOf } from '../../adapters/queue/support.js';

/** Usage of lifecycle-worker (every flag with its default). */
export const WORKER_USAGE = `usage: lifecycle-worker [--store sqlite:<path> | postgres://...] [--queue embedded | nats://host:port]
                        [--concurrency <n>] [--partitions <n>] [--owned <k,k,...>] [--standby <k,k,...>] [--ack-wait <ms>]
                        [--batch-size <n>] [--interval-ms <n>] [--stream <name>] [--durable <name>]
                        [--subject-prefix <prefix>] [--schema <name>] [--no-relay] [--outbox-internal] [--no-timers] [--verbose]
       lifecycle-worker dead list|show <id>|redrive <id>|redrive --all   (dead letters; see lifecycle-worker dead --help)

  --store           where the state lives (default sqlite:./data/lifecycle.db)
  --queue           embedded: the queue table of the SQLite store; nats://host:port: JetStream (default embedded)
  --concurrency     NATS: messages applied at once by this process (default: one per owned partition)
  --partitions      NATS: partitions P of the batch-id space, one consumer each (default 1; all workers must agree)
  --owned           NATS: partitions this process consumes (default all, or none with --standby); one process at a
                    time holds a partition (a lease in NATS), overlapping owners are hot standbys
  --standby         NATS: partitions this process takes over only when their holder is gone (stopped and not
                    replaced, silent, or absent since the start), and hands back when an owner returns;
                    e.g. worker i: --owned i --standby <the others> (default none)
  --ack-wait        NATS: ms before the server redelivers a message nobody acked (1000 to 600000, default 5000;
                    all workers must agree). A live worker reports progress every third of it, so only a worker
                    that died holds messages this long (a takeover waits ack-wait + 2 s).
  --batch-size      embedded: rows per transaction; outbox rows per relay round (default 100)
  --interval-ms     embedded: pause of an idle poll of the queue (default 200). The NATS relay is woken by
                    the worker's own commits and polls every 1000 ms for rows other processes wrote
  --stream          NATS stream (default ${DEFAULT_STREAM})
  --durable         NATS durable consumer name (default ${DEFAULT_DURABLE})
  --subject-prefix  NATS: put in front of every subject (default none)
  --schema          PostgreSQL schema (default public)
  --no-relay        NATS: do not relay the outbox to JetStream (default: relay)
  --outbox-internal
                    also write the messages the engine applies to its own machines to the outbox, so the NATS
                    relay publishes them on lifecycle.internal.<topic> for observers (default off: they are
                    stored once, in the audit log, which /stream and the replay tools read)
  --no-timers       do not fire due timers in this process (default: fire them)
  --verbose         print a debug line per applied group of rows (default off)
  --help, -h        this text

Drivers are optional peer dependencies, installed only for what the flags use: better-sqlite3
(sqlite: store, embedded queue), pg (postgres://), @nats-io/jetstream and @nats-io/transport-node (nats://).`;

/** A bad command line: the worker prints the message (empty for --help: the usage) and exits 2. */
export class UsageError extends Error {}

/** Where the worker's state lives. */
export type StoreSetting = { readonly kind: 'sqlite'; readonly path: string } | { readonly kind: 'postgres'; readonly url: string };
/** Which queue the worker consumes. */
export type QueueSetting = { readonly kind: 'embedded' } | { readonly kind: 'nats'; readonly url: string };

/** The worker's parsed command line. */
export interface WorkerOptions {
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

/** `--store`: sqlite:<path> or postgres://...; UsageError otherwise. */
export function parseStore(raw: string): StoreSetting {
  if (/^postgres(ql)?:\/\//i.test(raw)) return { kind: 'postgres', url: raw };
  const match = /^sqlite:(.+)$/.exec(raw);
  if (match?.[1] === undefined) throw new UsageError(`--store must be sqlite:<path> or postgres://..., got "${raw}"`);
  return { kind: 'sqlite', path: match[1] };
}

/** `--queue`: embedded or nats://host:port (no credentials); UsageError otherwise. */
export function parseQueue(raw: string): QueueSetting {
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

/** The flags of lifecycle-worker (each is in WORKER_USAGE with its default). */
export const WORKER_FLAGS = {
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

/** The options of `argv`; UsageError('') for --help, UsageError(message) for a bad command line. */
export function parseWorkerOptions(argv: readonly string[]): WorkerOptions {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], allowPositionals: false, strict: true, options: WORKER_FLAGS });
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
