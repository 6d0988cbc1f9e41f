/**
 * Crash points: a worker process (worker.ts) applies a generated command sequence to a SQLite file
 * and is killed with SIGKILL at a chosen commit (before it, inside its transaction, or after it
 * returned but before the command was confirmed). The file is then opened again by a new engine
 * (in this process: a restart) and fed the rest, from a few confirmed commands before the one in
 * flight (redeliveries, as after acknowledgements lost with the process). Checked: the recovered
 * file keeps every invariant and everything that was confirmed; the answers match an uninterrupted
 * run's; at the end the file equals that run (entities, outbox, per-entity audit, inbox), so
 * nothing accepted is lost and no effect is written twice.
 */
import fc from 'fast-check';
import { join } from 'node:path';
import { LifecycleEngine } from '../../adapters/engine/index.js';
import { openSqliteStore } from '../../adapters/sqlite/index.js';
import { tempDir } from '../support/reliability-kit.js';
import type { Command } from './commands.js';
import { duplicatedEffects, dumpDifferences, dumpStore } from './dump.js';
import { checkStore, referenceRun, writtenEventIds } from './harness.js';
import { applyCommand, clockTimes, eventIdOf, START, wroteEvent, type StepOutcome } from './steps.js';
import type { CrashPoint } from './worker.js';
import type { RunAnswer, WorkerSupply } from './workers.js';

/** Where a run crashes and how many confirmed commands the restart delivers again. */
export interface CrashPlan extends CrashPoint {
  readonly redeliver: number;
}

/** The generated choice of a crash: `at` picks a commit among those the sequence makes. */
export const crashChoiceArbitrary = fc.record({
  at: fc.nat(),
  mode: fc.constantFrom<CrashPoint['mode']>('before', 'inside', 'after'),
  redeliver: fc.nat({ max: 3 }),
});

/** The plan of a choice for `commands` (undefined when the sequence commits nothing). */
export async function resolveCrash(commands: readonly Command[], choice: { at: number; mode: CrashPoint['mode']; redeliver: number }): Promise<CrashPlan | undefined> {
  const { bed } = await referenceRun(commands);
  const commits = bed.commits.count;
  return commits === 0 ? undefined : { commit: 1 + (choice.at % commits), mode: choice.mode, redeliver: choice.redeliver };
}

function fail(message: string): never {
  throw new Error(message);
}

/**
 * What the restart is fed: every command from `redeliver` confirmed ones before the one in flight,
 * except those confirmed `invalid`: a queue settles those by dead-lettering them and never hands
 * them again (and an envelope refused for a missing entity would be taken once the entity exists).
 */
function restartIndices(commands: readonly Command[], confirmed: RunAnswer['confirmed'], redeliver: number): number[] {
  const from = Math.max(0, confirmed.length - redeliver);
  return commands.flatMap((_, index) => (index < from || confirmed[index]?.[1] === 'invalid' ? [] : [index]));
}

/** The restart: a new engine on the recovered file, fed the commands at `indices`. */
async function restart(path: string, commands: readonly Command[], indices: readonly number[]): Promise<{ outcomes: Map<number, StepOutcome>; store: ReturnType<typeof openSqliteStore> }> {
  let now = START;
  const store = openSqliteStore({ path, synchronous: 'FULL', now: () => new Date(now) });
  const engine = new LifecycleEngine({ store, clock: () => new Date(now), invariants: 'refuse' });
  const times = clockTimes(commands);
  const outcomes = new Map<number, StepOutcome>();
  for (const index of indices) {
    now = times[index]!;
    outcomes.set(index, await applyCommand(engine, commands[index]!));
  }
  return { outcomes, store };
}

/** Checks the answers of the crashed worker and of the restart against the uninterrupted run's. */
function checkAnswers(expected: readonly StepOutcome[], confirmed: ReadonlyArray<readonly [number, StepOutcome]>, resent: ReadonlyMap<number, StepOutcome>): void {
  confirmed.forEach(([index, outcome], n) => {
    if (index !== n) fail(`the worker confirmed command ${index} as its ${n}th: confirmations must be the prefix in order`);
    if (outcome !== expected[index]) fail(`command ${index}: the worker answered ${outcome}, an uninterrupted run ${expected[index]}`);
  });
  const inFlight = confirmed.length;
  for (const [index, outcome] of resent) {
    if (index === inFlight) continue; // may have committed (all or, for timers, some) before the kill
    const want = index < inFlight && (expected[index] === 'accepted' || expected[index] === 'refused') ? 'duplicate' : index < inFlight && expected[index]!.startsWith('fired:') ? 'fired:0' : expected[index];
    if (outcome !== want) fail(`command ${index} after the restart: answered ${outcome}, expected ${want}`);
  }
}

/**
 * The file as the kill left it: intact, every invariant holding, every confirmed event in it, none
 * after the one in flight; the one in flight (when it writes its event) in it exactly when the
 * kill came after its commit returned.
 */
async function checkRecovered(path: string, commands: readonly Command[], expected: readonly StepOutcome[], confirmed: RunAnswer['confirmed'], plan: CrashPlan): Promise<void> {
  const inFlight = confirmed.length;
  const recovered = openSqliteStore({ path });
  try {
    if (recovered.db.pragma('integrity_check', { simple: true }) !== 'ok') fail('the file is damaged after the kill');
    await checkStore(recovered, writtenEventIds(commands, confirmed.map(([, outcome]) => outcome)), `after the kill in command ${inFlight}`);
    const seen = new Set(commands.slice(0, inFlight).map(eventIdOf));
    const future = writtenEventIds(commands.slice(inFlight + 1), expected.slice(inFlight + 1)).filter((id) => !seen.has(id) && id !== eventIdOf(commands[inFlight]!));
    const early = await recovered.findInbox(future);
    if (early.size > 0) fail(`events after the one in flight are in the inbox: ${[...early.keys()].join(', ')}`);
    const id = eventIdOf(commands[inFlight]!);
    if (id === undefined || seen.has(id) || !wroteEvent(expected[inFlight]!)) return;
    const committed = (await recovered.findInbox([id])).has(id);
    if (committed !== (plan.mode === 'after')) fail(`command ${inFlight}, in flight at a kill ${plan.mode} its commit, is ${committed ? '' : 'not '}in the file`);
  } finally {
    await recovered.close();
  }
}

/** One crash run; throws at the first thing that does not hold. */
export async function checkCrashRun(commands: readonly Command[], plan: CrashPlan, supply: WorkerSupply): Promise<void> {
  const reference = await referenceRun(commands);
  const path = join(tempDir('property-crash-'), 'crash.db');
  const worker = await supply.take();
  let answer;
  try {
    await worker.open({ db: path, commands, crash: plan });
    answer = await worker.run(commands.map((_, index) => index));
  } finally {
    worker.kill();
  }
  if (answer.end === 'idle' || answer.end.signal !== 'SIGKILL') fail(`the worker was to die at commit ${plan.commit} (${plan.mode}) but ended ${JSON.stringify(answer.end)}`);
  await checkRecovered(path, commands, reference.outcomes, answer.confirmed, plan);
  const { outcomes, store } = await restart(path, commands, restartIndices(commands, answer.confirmed, plan.redeliver));
  try {
    checkAnswers(reference.outcomes, answer.confirmed, outcomes);
    const written = writtenEventIds(commands, reference.outcomes);
    await checkStore(store, written, 'at the end');
    const [actual, expected] = [await dumpStore(store, written), await dumpStore(reference.bed.store, written)];
    const differences = dumpDifferences(actual, expected);
    if (differences.length > 0) fail(`the file differs from an uninterrupted run:\n${differences.join('\n')}`);
    const [duplicated, workload] = [duplicatedEffects(actual.outbox), duplicatedEffects(expected.outbox)];
    if (JSON.stringify(duplicated) !== JSON.stringify(workload)) fail(`effects written twice: ${duplicated.join('; ')}`);
  } finally {
    await store.close();
  }
}
