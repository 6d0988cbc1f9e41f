/**
 * Child process of the reliability suite. Opens a SQLite file (synchronous FULL), optionally
 * dispatches a JSONL file of envelopes in order (one awaited `dispatch` each), optionally
 * fires due timers, and reports every CONFIRMED step on stdout, one line each:
 *
 *   ready                         store open (with --wait-go: now waiting for "go" on stdin)
 *   ok <index> <outcome>          envelope <index> (0-based line of the file) is committed
 *   err <index> <json>            dispatch of <index> threw (code, message, stack, details)
 *   timer <outcome> <event_id> <entity_id>   one answer of fireDueTimers
 *   stats <json>                  commits and VERSION_CONFLICTs seen by this process's store
 *   done
 *
 *   node --import tsx test/support/reliability-producer.ts --db <file> [--events <jsonl>]
 *        [--from <n>] [--now <iso>] [--wait-go] [--keep-going] [--fire-timers]
 *
 * Without --keep-going the first error ends the process with exit code 1.
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { LifecycleEngine } from '../../adapters/engine/engine.js';
import { isLifecycleError, LifecycleError } from '../../adapters/errors.js';
import { openSqliteStore } from '../../adapters/sqlite/store.js';
import type { SnapshotStore } from '../../adapters/store.js';

const { values } = parseArgs({
  options: {
    db: { type: 'string' },
    events: { type: 'string' },
    from: { type: 'string', default: '0' },
    now: { type: 'string', default: '2026-01-01T12:00:00.000Z' },
    'wait-go': { type: 'boolean', default: false },
    'keep-going': { type: 'boolean', default: false },
    'fire-timers': { type: 'boolean', default: false },
  },
});

function line(text: string): void {
  // stdout is a pipe: writes are synchronous on Linux, so a printed line is never lost once written.
  process.stdout.write(`${text}\n`);
}

function describeError(error: unknown): Record<string, unknown> {
  if (error instanceof LifecycleError) {
    const cause = error.cause instanceof Error ? { name: error.cause.name, message: error.cause.message, stack: error.cause.stack } : error.cause;
    return { code: error.code, message: error.message, stack: error.stack, details: error.details, cause };
  }
  if (error instanceof Error) return { message: error.message, stack: error.stack, name: error.name };
  return { message: String(error) };
}

async function waitForGo(): Promise<void> {
  const rl = createInterface({ input: process.stdin });
  for await (const text of rl) {
    if (text.trim() === 'go') break;
  }
  rl.close();
}

/** Counts commits and VERSION_CONFLICTs (lost compare-and-sets and inbox duplicates) of a store. */
function counting(store: SnapshotStore, stats: { commits: number; conflicts: number; duplicateConflicts: number }): SnapshotStore {
  return new Proxy(store, {
    get(target, property) {
      if (property === 'commit') {
        return async (...args: Parameters<SnapshotStore['commit']>) => {
          stats.commits += 1;
          try {
            return await target.commit(...args);
          } catch (error) {
            if (isLifecycleError(error, 'VERSION_CONFLICT')) {
              if (error.details.duplicate === true) stats.duplicateConflicts += 1;
              else stats.conflicts += 1;
            }
            throw error;
          }
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

async function main(): Promise<number> {
  if (values.db === undefined) throw new Error('--db is required');
  const now = new Date(values.now);
  const raw = openSqliteStore({ path: values.db, synchronous: 'FULL', now: () => now });
  const stats = { commits: 0, conflicts: 0, duplicateConflicts: 0 };
  const store = counting(raw, stats);
  const engine = new LifecycleEngine({ store, clock: () => now, invariants: 'refuse' });
  const envelopes =
    values.events === undefined
      ? []
      : readFileSync(values.events, 'utf8')
          .split('\n')
          .filter((text) => text.trim() !== '')
          .map((text) => JSON.parse(text) as unknown);
  line('ready');
  if (values['wait-go']) await waitForGo();
  let failed = false;
  for (let index = Number(values.from); index < envelopes.length; index += 1) {
    try {
      const result = await engine.dispatch(envelopes[index]);
      line(`ok ${index} ${result.outcome}`);
    } catch (error) {
      line(`err ${index} ${JSON.stringify(describeError(error))}`);
      failed = true;
      if (!values['keep-going']) break;
    }
  }
  if (values['fire-timers'] && !(failed && !values['keep-going'])) {
    try {
      for (let answers = await engine.fireDueTimers(); answers.length > 0; answers = await engine.fireDueTimers()) {
        for (const answer of answers) line(`timer ${answer.outcome} ${answer.event_id} ${answer.entity?.entity_id ?? '-'}`);
        if (answers.every((answer) => answer.outcome === 'duplicate')) break;
      }
    } catch (error) {
      line(`err -1 ${JSON.stringify(describeError(error))}`);
      failed = true;
    }
  }
  line(`stats ${JSON.stringify(stats)}`);
  await raw.close();
  line('done');
  return failed ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    line(`err -1 ${JSON.stringify(describeError(error))}`);
    process.exitCode = 2;
  },
);
