/**
 * Child process of the property tests: an engine (invariants `refuse`) on a SQLite file
 * (synchronous FULL) that applies property-test commands when told to, and can kill itself with
 * SIGKILL at a chosen commit. Started by workers.ts; one process can open one file after another.
 *
 * stdin, one JSON object a line:
 *   {"open": {"db": path, "commands": path of a JSON Command[], "crash"?: CrashPoint, "acceptInternalEvents"?: boolean}}
 *   {"run": [index, ...]}      applies these commands in order, each at its positional clock (steps.ts)
 *   {"close": true}
 * stdout, one line each:
 *   ready | opened | ok <index> <outcome> | idle | closed | err <index> <json>
 * `ok` is printed only after the command's commits returned: a command without its `ok` line may
 * or may not be committed (the one in flight at a crash).
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { LifecycleEngine } from '../../adapters/engine/index.js';
import { openSqliteStore, type SqliteStore } from '../../adapters/sqlite/index.js';
import type { SnapshotStore } from '../../adapters/store.js';
import type { Command } from './commands.js';
import { applyCommand, clockTimes, START } from './steps.js';

/**
 * Where a worker kills itself: at its `commit`-th call of the store's commit (1-based, counted
 * from `open`), `before` the call, `inside` its transaction (at the first row written) or `after`
 * it returned (committed, not yet confirmed).
 */
export interface CrashPoint {
  readonly commit: number;
  readonly mode: 'before' | 'inside' | 'after';
}

/** One line of the worker's stdin. */
export type WorkerRequest =
  | { readonly open: { readonly db: string; readonly commands: string; readonly crash?: CrashPoint; readonly acceptInternalEvents?: boolean } }
  | { readonly run: readonly number[] }
  | { readonly close: true };

function print(text: string): void {
  process.stdout.write(`${text}\n`);
}

function die(): never {
  process.kill(process.pid, 'SIGKILL');
  throw new Error('SIGKILL did not end the process');
}

/** Arms a crash inside a commit: a temporary trigger on the audit table calls back into this process. */
function armInsideCrash(store: SqliteStore): { arm: () => void } {
  let armed = false;
  store.db.function('property_crash_point', () => {
    if (armed) die();
    return null;
  });
  store.db.exec('CREATE TEMP TRIGGER property_crash_point AFTER INSERT ON main.audit BEGIN SELECT property_crash_point(); END');
  return { arm: () => (armed = true) };
}

/** The store as the engine sees it: counts commit calls and crashes at the chosen one. */
function crashing(store: SqliteStore, crash: CrashPoint | undefined): SnapshotStore {
  if (crash === undefined) return store;
  const inside = crash.mode === 'inside' ? armInsideCrash(store) : undefined;
  let calls = 0;
  const commit: SnapshotStore['commit'] = async (batch) => {
    calls += 1;
    if (calls !== crash.commit) return store.commit(batch);
    if (crash.mode === 'before') die();
    inside?.arm();
    await store.commit(batch).catch(() => undefined);
    return die();
  };
  return new Proxy(store, {
    get(target, property) {
      if (property === 'commit') return commit;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** An open file with its engine and commands. */
interface Session {
  readonly store: SqliteStore;
  readonly engine: LifecycleEngine;
  readonly commands: readonly Command[];
  readonly times: readonly number[];
  setClock(ms: number): void;
}

function open(request: Extract<WorkerRequest, { open: unknown }>['open']): Session {
  let now = START;
  const clock = (): Date => new Date(now);
  const store = openSqliteStore({ path: request.db, synchronous: 'FULL', now: clock });
  const engine = new LifecycleEngine({ store: crashing(store, request.crash), clock, invariants: 'refuse', acceptInternalEvents: request.acceptInternalEvents === true });
  const commands = JSON.parse(readFileSync(request.commands, 'utf8')) as Command[];
  return { store, engine, commands, times: clockTimes(commands), setClock: (ms) => (now = ms) };
}

/** The command being applied (named by the `err` line when one throws). */
let current = -1;

async function run(session: Session, indices: readonly number[]): Promise<void> {
  for (const index of indices) {
    current = index;
    const command = session.commands[index];
    if (command === undefined) throw new Error(`no command ${index}`);
    session.setClock(session.times[index]!);
    print(`ok ${index} ${await applyCommand(session.engine, command)}`);
  }
  current = -1;
}

async function main(): Promise<void> {
  print('ready');
  let session: Session | undefined;
  for await (const text of createInterface({ input: process.stdin })) {
    if (text.trim() === '') continue;
    const request = JSON.parse(text) as WorkerRequest;
    if ('open' in request) {
      await session?.store.close();
      session = open(request.open);
      print('opened');
    } else if ('run' in request) {
      if (session === undefined) throw new Error('run before open');
      await run(session, request.run);
      print('idle');
    } else {
      await session?.store.close();
      session = undefined;
      print('closed');
    }
  }
  await session?.store.close();
}

main().catch((error: unknown) => {
  const failure = error instanceof Error ? { message: error.message, name: error.name, stack: error.stack, ...('code' in error ? { code: error.code } : {}), ...('details' in error ? { details: error.details } : {}) } : { message: String(error) };
  print(`err ${current} ${JSON.stringify(failure)}`);
  process.exit(1);
});
