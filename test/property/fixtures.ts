/**
 * Shrunk failures become regression fixtures. `assertProperty` runs a property with fast-check;
 * when it fails, the shrunk counterexample is written as a fixture JSON file (the format
 * `replayFixture` reads) and the failure message prints it with how to keep it. Every file in
 * test/property/fixtures/ is replayed by fixtures.test.ts.
 */
import fc from 'fast-check';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from './commands.js';
import { checkCrashRun, type CrashPlan } from './crash.js';
import { checkTwoEngines, type Segment } from './engines.js';
import { checkScenario } from './harness.js';
import { WorkerPair, WorkerSupply } from './workers.js';

/** The folder of the kept fixtures. */
export const FIXTURES = join(import.meta.dirname, 'fixtures');

interface FixtureBase {
  /** What the sequence found (the defect, the invariant it broke, the fix). */
  readonly found: string;
  readonly commands: Command[];
}

/** A regression fixture: a command sequence and how it is run. */
export type Fixture =
  | (FixtureBase & { readonly kind?: 'lifecycle'; readonly acceptInternalEvents?: boolean })
  | (FixtureBase & { readonly kind: 'crash'; readonly crash: CrashPlan })
  | (FixtureBase & { readonly kind: 'two-engines'; readonly segments: Segment[] });

/** Runs a fixture with the check of its kind; throws what does not hold. */
export async function replayFixture(fixture: Fixture): Promise<void> {
  switch (fixture.kind) {
    case undefined:
    case 'lifecycle':
      return checkScenario(fixture.commands, fixture.acceptInternalEvents === true);
    case 'crash': {
      const supply = new WorkerSupply();
      try {
        return await checkCrashRun(fixture.commands, fixture.crash, supply);
      } finally {
        await supply.close();
      }
    }
    case 'two-engines': {
      const pair = new WorkerPair();
      try {
        return await checkTwoEngines(fixture.commands, fixture.segments, pair);
      } finally {
        await pair.close();
      }
    }
  }
}

/** A property to assert: generated values, the check of one, and the fixture a failing one becomes. */
export interface PropertySpec<T> {
  /** Short name (the fixture file's prefix). */
  readonly name: string;
  readonly arbitrary: fc.Arbitrary<T>;
  readonly check: (value: T) => Promise<void>;
  readonly toFixture: (value: T, error: string) => Fixture | Promise<Fixture>;
  readonly runs: number;
}

/** PROPERTY_SEED (to repeat a reported failure), else fast-check's random seed. */
function seedOption(): { seed?: number } {
  const seed = Number(process.env.PROPERTY_SEED);
  return Number.isInteger(seed) && process.env.PROPERTY_SEED !== undefined ? { seed } : {};
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Asserts a property; on failure throws a message with the shrunk counterexample as a fixture,
 * the file it was written to, and how to keep it. Answers the runs and seconds it took.
 */
export async function assertProperty<T>(spec: PropertySpec<T>): Promise<{ runs: number; seconds: number }> {
  const started = performance.now();
  const details = await fc.check(fc.asyncProperty(spec.arbitrary, spec.check), { numRuns: spec.runs, ...seedOption() });
  const seconds = (performance.now() - started) / 1000;
  if (!details.failed) return { runs: details.numRuns, seconds };
  if (details.counterexample === null) throw new Error(fc.defaultReportMessage(details));
  const [value] = details.counterexample;
  const error = errorText(details.errorInstance);
  const fixture = await spec.toFixture(value, error);
  const file = join(mkdtempSync(join(tmpdir(), 'property-failure-')), `${spec.name}.json`);
  const text = `${JSON.stringify(fixture, null, 2)}\n`;
  writeFileSync(file, text);
  throw new Error(
    [
      `property "${spec.name}" failed after ${details.numRuns} run(s) and ${details.numShrinks} shrink(s) (seed ${details.seed}, path ${details.counterexamplePath}; PROPERTY_SEED=${details.seed} repeats the search):`,
      error,
      '',
      `The shrunk sequence as a regression fixture (written to ${file}):`,
      text,
      `To keep it: cp ${file} ${FIXTURES}/<what-it-found>.json, write in "found" what went wrong and the fix, and commit it;`,
      'test/property/fixtures.test.ts replays every fixture there.',
    ].join('\n'),
  );
}
