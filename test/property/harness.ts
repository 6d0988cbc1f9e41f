/**
 * Runs property-test commands against an engine and checks, after every step, what must always
 * hold: every invariant over the whole store, nothing accepted lost, no effect duplicated; at the
 * end, the persisted state equals a replay of the accepted events alone on a fresh engine.
 */
import { defaultMachines, LifecycleEngine } from '../../adapters/engine/index.js';
import { createMemoryStore } from '../../adapters/memory/index.js';
import type { SnapshotStore } from '../../adapters/store.js';
import { storeViolations } from '../support/invariant-worlds.js';
import type { Command } from './commands.js';
import { duplicatedEffects, dumpStore, entityRows } from './dump.js';
import { applyCommand, clockTimes, eventIdOf, START, wroteEvent, type StepOutcome } from './steps.js';

export { entityRows };

/** An engine on a fresh memory store, with its clock; `commits` counts the store's commit calls. */
export interface TestBed {
  readonly store: SnapshotStore;
  readonly engine: LifecycleEngine;
  setClock(ms: number): void;
  readonly commits: { count: number };
}

/**
 * An engine on a fresh memory store with a clock the commands move. `acceptInternalEvents`: for a
 * fixture whose commands play a sibling machine (an internal event sent directly).
 */
export function testBed(acceptInternalEvents = false): TestBed {
  let now = START;
  const store = createMemoryStore({ now: () => new Date(now) });
  const commits = { count: 0 };
  const counted = new Proxy(store, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      const bound = (value as (...args: unknown[]) => unknown).bind(target);
      if (property !== 'commit') return bound;
      return (...args: unknown[]) => {
        commits.count += 1;
        return bound(...args);
      };
    },
  });
  const engine = new LifecycleEngine({ store: counted, clock: () => new Date(now), invariants: 'refuse', acceptInternalEvents });
  return { store, engine, setClock: (ms) => (now = ms), commits };
}

/** An uninterrupted run of `commands` on one engine: the store and each command's outcome. */
export interface ReferenceRun {
  readonly bed: TestBed;
  readonly outcomes: readonly StepOutcome[];
}

/** What runs after each step of a reference run. */
export type AfterStep = (index: number, outcome: StepOutcome, bed: TestBed) => Promise<void>;

/** Runs `commands` in order on a fresh memory engine, calling `afterStep` after each. */
export async function referenceRun(commands: readonly Command[], acceptInternalEvents = false, afterStep?: AfterStep): Promise<ReferenceRun> {
  const bed = testBed(acceptInternalEvents);
  const times = clockTimes(commands);
  const outcomes: StepOutcome[] = [];
  for (const [index, command] of commands.entries()) {
    bed.setClock(times[index]!);
    outcomes.push(await applyCommand(bed.engine, command));
    await afterStep?.(index, outcomes[index]!, bed);
  }
  return { bed, outcomes };
}

/** The event ids of the commands that wrote their event, by the outcomes of a run. */
export function writtenEventIds(commands: readonly Command[], outcomes: ReadonlyArray<StepOutcome | undefined>): string[] {
  return commands.flatMap((command, index) => {
    const id = eventIdOf(command);
    const outcome = outcomes[index];
    return id !== undefined && outcome !== undefined && wroteEvent(outcome) ? [id] : [];
  });
}

/** Throws when `store` breaks an invariant or lost one of `written` (ids whose events it answered as written). */
export async function checkStore(store: SnapshotStore, written: readonly string[], where: string): Promise<void> {
  const violations = await storeViolations(store, defaultMachines());
  if (violations.length > 0) throw new Error(`${where}: ${JSON.stringify(violations)}`);
  const inbox = await store.findInbox(written);
  const lost = written.filter((id) => !inbox.has(id));
  if (lost.length > 0) throw new Error(`${where}: accepted events lost: ${lost.join(', ')}`);
}

/** Fails (throws) at the first step after which something that must hold does not. */
export async function checkScenario(commands: readonly Command[], acceptInternalEvents = false): Promise<void> {
  const written: string[] = [];
  const { bed, outcomes } = await referenceRun(commands, acceptInternalEvents, async (index, outcome, { store }) => {
    const id = eventIdOf(commands[index]!);
    if (id !== undefined && wroteEvent(outcome)) written.push(id);
    await checkStore(store, written, `step ${index}`);
  });
  const outbox = await bed.store.pendingOutbox(1000);
  const ids = outbox.map((row) => row.event_id);
  if (new Set(ids).size !== ids.length) throw new Error('an outbox message was written twice');
  const dump = await dumpStore(bed.store, written);
  const duplicated = duplicatedEffects(dump.outbox);
  if (duplicated.length > 0) throw new Error(`an effect was written twice: ${duplicated.join('; ')}`);
  const taken = commands.filter((command, index) => command.kind === 'advance' || wroteEvent(outcomes[index]!));
  const replay = await referenceRun(taken, acceptInternalEvents);
  const [actual, expected] = [await entityRows(bed.store), await entityRows(replay.bed.store)];
  if (JSON.stringify(actual) !== JSON.stringify(expected)) throw new Error('the persisted state differs from a replay of the accepted events');
}
