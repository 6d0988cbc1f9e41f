/**
 * Two engines on one SQLite file, in two worker processes (worker.ts), fed interleaved parts of a
 * generated command sequence. The sequence is cut into segments; inside a segment each batch's
 * commands go to one engine (chosen per segment, so a batch moves between the engines and each
 * engine's entity cache goes stale) and the two engines run their parts at the same time; a timer
 * advance is a segment of its own. A batch's commands keep their order, so every command must be
 * answered as one engine alone answers it, and the file must end equal to that engine's store.
 */
import fc from 'fast-check';
import { join } from 'node:path';
import { deterministicUuid } from '../../adapters/engine/ids.js';
import { openSqliteStore } from '../../adapters/sqlite/index.js';
import { tempDir } from '../support/reliability-kit.js';
import type { Command } from './commands.js';
import { duplicatedEffects, dumpDifferences, dumpStore } from './dump.js';
import { checkStore, referenceRun, writtenEventIds } from './harness.js';
import { batchKeyOf, type StepOutcome } from './steps.js';
import type { PropertyWorker, WorkerPair } from './workers.js';

/** The command indices each engine applies in one segment (engine 0, engine 1). */
export type Segment = readonly [readonly number[], readonly number[]];

/**
 * Where the sequence is cut (after a command whose entry, cycled over the commands, is 0: about one
 * in six, so a segment holds several batches' commands) and the seed of the batch-to-engine choice.
 */
export const splitArbitrary = fc.record({
  cuts: fc.array(fc.nat({ max: 5 }), { minLength: 1, maxLength: 20 }),
  seed: fc.nat(),
});

/** The engine that starts a segment: a bit of a hash of the seed and the segment's number. */
function firstEngine(segment: number, seed: number): 0 | 1 {
  return Number.parseInt(deterministicUuid(`split:${seed}:${segment}`).slice(0, 2), 16) % 2 === 0 ? 0 : 1;
}

/**
 * The segments of a split of `commands`. Inside a segment the batches alternate between the engines
 * in the order they appear (so two batches keep both engines at work), starting with a generated one.
 */
export function segmentsOf(commands: readonly Command[], split: { cuts: readonly number[]; seed: number }): Segment[] {
  const segments: Segment[] = [];
  let current: [number[], number[]] = [[], []];
  let sides = new Map<string, 0 | 1>();
  const flush = (): void => {
    if (current[0].length + current[1].length > 0) segments.push(current);
    current = [[], []];
    sides = new Map();
  };
  const sideOf = (key: string): 0 | 1 => {
    const side = sides.get(key) ?? (((firstEngine(segments.length, split.seed) + sides.size) % 2) as 0 | 1);
    sides.set(key, side);
    return side;
  };
  commands.forEach((command, index) => {
    if (command.kind === 'advance') {
      flush();
      current[sideOf('clock')].push(index);
      flush();
      return;
    }
    current[sideOf(batchKeyOf(command))].push(index);
    if (split.cuts[index % split.cuts.length] === 0) flush();
  });
  flush();
  return segments;
}

function fail(message: string): never {
  throw new Error(message);
}

/** Runs the segments on the two workers, sharing the file at `path`; answers each command's outcome. */
async function runSegments(path: string, commands: readonly Command[], segments: readonly Segment[], workers: readonly [PropertyWorker, PropertyWorker]): Promise<Array<StepOutcome | undefined>> {
  for (const worker of workers) await worker.open({ db: path, commands });
  const outcomes: Array<StepOutcome | undefined> = [];
  for (const segment of segments) {
    const answers = await Promise.all(workers.map((worker, side) => worker.run(segment[side]!)));
    for (const answer of answers) {
      if (answer.end !== 'idle') fail(`a worker ended: ${JSON.stringify(answer.end)}`);
      for (const [index, outcome] of answer.confirmed) outcomes[index] = outcome;
    }
  }
  for (const worker of workers) await worker.close();
  return outcomes;
}

/** Runs the segments on a pair of workers sharing a fresh file; throws at the first thing that does not hold. */
export async function checkTwoEngines(commands: readonly Command[], segments: readonly Segment[], pair: WorkerPair): Promise<void> {
  const reference = await referenceRun(commands);
  const path = join(tempDir('property-engines-'), 'shared.db');
  let outcomes: Array<StepOutcome | undefined>;
  try {
    outcomes = await runSegments(path, commands, segments, await pair.get());
  } catch (error) {
    pair.discard();
    throw error;
  }
  commands.forEach((_, index) => {
    if (outcomes[index] !== reference.outcomes[index]) fail(`command ${index} (${batchKeyOf(commands[index]!)}): answered ${outcomes[index]}, one engine alone ${reference.outcomes[index]}`);
  });
  const store = openSqliteStore({ path });
  try {
    const written = writtenEventIds(commands, outcomes);
    await checkStore(store, written, 'after both engines');
    const [actual, expected] = [await dumpStore(store, written), await dumpStore(reference.bed.store, written)];
    const differences = dumpDifferences(actual, expected);
    if (differences.length > 0) fail(`the shared file differs from one engine's store:\n${differences.join('\n')}`);
    const [duplicated, workload] = [duplicatedEffects(actual.outbox), duplicatedEffects(expected.outbox)];
    if (JSON.stringify(duplicated) !== JSON.stringify(workload)) fail(`effects written twice: ${duplicated.join('; ')}`);
  } finally {
    await store.close();
  }
}
