/**
 * `lifecycle-worker dead list|show <id>|redrive <id>|redrive --all`: the dead letters of the
 * embedded queue (rows set aside as dead or invalid) or of the NATS dead-letter stream, listed,
 * shown and redriven through the engine (see adapters/queue/dead-letters.ts). Exit codes: 0 done;
 * 1 a failure, an unknown id, or a redrive the engine still answered `invalid` (its cause is not
 * fixed); 2 bad arguments.
 */
import { parseArgs } from 'node:util';
import { LifecycleEngine } from '../../adapters/engine/engine.js';
import type { DeadLetter, DeadLetterQueue, RedriveResult } from '../../adapters/queue/dead-letters.js';
import { DEFAULT_STREAM } from '../../adapters/queue/nats/names.js';
import { messageOf } from '../../adapters/queue/support.js';
import type { SnapshotStore } from '../../adapters/store.js';

/** Usage of `lifecycle-worker dead` (every flag with its default). */
export const DEAD_USAGE = `usage: lifecycle-worker dead list [--limit <n>] [--after <id>] [--json]
       lifecycle-worker dead show <id>
       lifecycle-worker dead redrive <id> | --all
  with [--store sqlite:<path> | postgres://...] [--queue embedded | nats://host:port] [--stream <name>] [--schema <name>]

  list      the dead letters in id order with their error, and whether their event has taken effect since
            ("applied": redriven, or applied before) or is "pending"
  show      one dead letter, with its stored envelope, as JSON
  redrive   sends the dead letter's envelope through the engine again: "duplicate" when it already took
            effect, "invalid" (exit code 1) when its cause is not fixed yet
  --store   where the state lives (default sqlite:./data/lifecycle.db)
  --queue   embedded: the rows of the SQLite store's queue; nats://host:port: the stream <stream>_DEAD
            (default embedded)
  --stream  NATS: the workers' stream (default ${DEFAULT_STREAM})
  --schema  PostgreSQL schema (default public)
  --limit   list: at most this many dead letters (default 100, at most 1000)
  --after   list: only dead letters with a greater id (default 0: from the first)
  --all     redrive: every pending dead letter instead of one id (default off)
  --json    list: the counts and dead letters as JSON (default: one line per dead letter)
  --help    this text`;

/** What the dead-letter command needs from the worker CLI. */
export interface DeadCliDeps {
  /** Checks `--store` (and `--schema`), throwing for a bad value, and answers how to open that store. */
  readonly storeOpener: (store: string, schema: string | undefined) => () => Promise<SnapshotStore>;
  /** Checks `--queue` and answers 'embedded' or the NATS URL; throws for a bad value. */
  readonly parseQueue: (queue: string) => { kind: 'embedded' } | { kind: 'nats'; url: string };
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

/** The flags of `lifecycle-worker dead` (each is in DEAD_USAGE with its default). */
export const DEAD_FLAGS = {
  store: { type: 'string' },
  queue: { type: 'string' },
  stream: { type: 'string' },
  schema: { type: 'string' },
  limit: { type: 'string' },
  after: { type: 'string' },
  all: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean' },
} as const;

interface Command {
  readonly verb: 'list' | 'show' | 'redrive';
  readonly id: string | undefined;
  readonly values: { store?: string; queue?: string; stream?: string; schema?: string; limit?: string; after?: string; all?: boolean; json?: boolean };
}

class DeadUsageError extends Error {}

function parseCommand(argv: readonly string[]): Command | 'help' {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: DEAD_FLAGS, strict: true, allowPositionals: true });
  } catch (error) {
    throw new DeadUsageError(messageOf(error));
  }
  if (parsed.values.help === true) return 'help';
  const [verb, id, ...rest] = parsed.positionals;
  if (verb !== 'list' && verb !== 'show' && verb !== 'redrive') throw new DeadUsageError(`dead needs list, show <id> or redrive <id>|--all, got "${verb ?? ''}"`);
  if (rest.length > 0) throw new DeadUsageError(`unexpected argument "${rest[0]}"`);
  if (verb === 'list' && id !== undefined) throw new DeadUsageError('dead list takes no id');
  if (verb === 'show' && id === undefined) throw new DeadUsageError('dead show needs the id of a dead letter');
  if (verb === 'redrive' && (id === undefined) === (parsed.values.all !== true)) throw new DeadUsageError('dead redrive needs either an id or --all');
  for (const name of ['limit', 'after'] as const) {
    const value = parsed.values[name];
    if (value !== undefined && !/^\d{1,9}$/.test(value)) throw new DeadUsageError(`--${name} must be a whole number, got "${value}"`);
  }
  if (parsed.values.stream !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(parsed.values.stream)) throw new DeadUsageError(`--stream must be 1 to 64 letters, digits, _ or -, got "${parsed.values.stream}"`);
  return { verb, id, values: parsed.values };
}

function describe(letter: DeadLetter): string {
  const state = letter.applied ? 'applied' : 'pending';
  const error = (letter.error ?? '').replace(/\s+/g, ' ').slice(0, 160);
  return `${letter.id}\t${state}\t${letter.event_type ?? '(not an envelope)'}\t${letter.partition_key ?? '-'}\t${error}`;
}

function describeRedrive({ id, result }: RedriveResult): string {
  if (result.outcome === 'invalid') return `${id}: invalid (${result.code}: ${result.message})`;
  if (result.outcome === 'deferred') return `${id}: deferred, still dead (${result.code}: ${result.message})`;
  const first = result.outcome === 'duplicate' ? ` (it had already taken effect: ${result.first_outcome ?? 'accepted'})` : '';
  return `${id}: ${result.outcome}${first}${result.to === null ? '' : ` -> ${result.entity?.machine ?? ''} ${result.to}`}`;
}

async function run(source: DeadLetterQueue, command: Command, deps: DeadCliDeps): Promise<number> {
  if (command.verb === 'list') {
    const counts = await source.counts();
    const letters = await source.list({ after: Number(command.values.after ?? 0), limit: Number(command.values.limit ?? 100) });
    if (command.values.json === true) {
      deps.out(JSON.stringify({ counts, dead_letters: letters }));
      return 0;
    }
    deps.out(`${source.kind}: ${counts.total} dead letters, ${counts.pending} pending`);
    for (const letter of letters) deps.out(describe(letter));
    return 0;
  }
  if (command.verb === 'show') {
    deps.out(JSON.stringify(await source.show(command.id ?? ''), null, 2));
    return 0;
  }
  const results = command.id === undefined ? await source.redriveAll() : [await source.redrive(command.id)];
  for (const result of results) deps.out(describeRedrive(result));
  if (command.id === undefined) deps.out(`redriven: ${results.length}`);
  return results.some(({ result }) => result.outcome === 'invalid') ? 1 : 0;
}

async function openSource(command: Command, store: SnapshotStore, deps: DeadCliDeps): Promise<{ source: DeadLetterQueue; close: () => Promise<void> }> {
  const engine = new LifecycleEngine({ store });
  const queue = deps.parseQueue(command.values.queue ?? 'embedded');
  if (queue.kind === 'embedded') {
    const { SqliteStore } = await import('../../adapters/sqlite/store.js');
    const { EmbeddedQueue } = await import('../../adapters/queue/embedded.js');
    const { embeddedDeadLetters } = await import('../../adapters/queue/embedded/dead-letters.js');
    if (!(store instanceof SqliteStore)) throw new DeadUsageError('--queue embedded lives in a SQLite store; with a postgres:// store use --queue nats://host:port');
    return { source: embeddedDeadLetters(new EmbeddedQueue(store), engine), close: () => Promise.resolve() };
  }
  const { connectNats } = await import('../../adapters/queue/nats/connection.js');
  const { natsDeadLetters } = await import('../../adapters/queue/nats/dead-letters.js');
  const signal = AbortSignal.timeout(15_000);
  const nc = await connectNats(queue.url, { signal, name: 'lifecycle-worker dead' });
  const source = await natsDeadLetters(nc, engine, command.values.stream === undefined ? {} : { stream: command.values.stream });
  return { source, close: () => nc.close() };
}

/** Runs `lifecycle-worker dead ...`; resolves with the exit code. */
export async function deadLetterCommand(argv: readonly string[], deps: DeadCliDeps): Promise<number> {
  let command: Command;
  let open: () => Promise<SnapshotStore>;
  try {
    const parsed = parseCommand(argv);
    if (parsed === 'help') {
      deps.out(DEAD_USAGE);
      return 0;
    }
    command = parsed;
    deps.parseQueue(command.values.queue ?? 'embedded');
    open = deps.storeOpener(command.values.store ?? 'sqlite:./data/lifecycle.db', command.values.schema);
  } catch (error) {
    deps.err(`lifecycle-worker dead: ${messageOf(error)}\n(lifecycle-worker dead --help lists the options)`);
    return 2;
  }
  let store: SnapshotStore;
  try {
    store = await open();
  } catch (error) {
    deps.err(`lifecycle-worker dead: cannot open the store: ${messageOf(error)}`);
    return 1;
  }
  try {
    const { source, close } = await openSource(command, store, deps);
    try {
      return await run(source, command, deps);
    } finally {
      await close();
    }
  } catch (error) {
    deps.err(`lifecycle-worker dead: ${messageOf(error)}`);
    return error instanceof DeadUsageError ? 2 : 1;
  } finally {
    await store.close();
  }
}
