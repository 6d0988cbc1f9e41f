/**
 * Crash points (crash.ts): a worker process applying a generated sequence to a SQLite file is
 * killed with SIGKILL at a random commit (before it, inside its transaction, or after it returned),
 * the file is opened again and fed the rest plus redeliveries of what was confirmed before the
 * command in flight. Every invariant holds on the recovered file and at the end, the answers are
 * an uninterrupted run's, and the file equals that run: nothing accepted lost, no effect duplicated.
 * Runs: PROPERTY_PROCESS_RUNS (default 10 here, one process each; `npm run test:deep` runs 100).
 */
import fc from 'fast-check';
import { afterAll, describe, it } from 'vitest';
import { removeTempDirs } from '../support/reliability-kit.js';
import { scenarioArbitrary } from './commands.js';
import { checkCrashRun, crashChoiceArbitrary, resolveCrash } from './crash.js';
import { assertProperty } from './fixtures.js';
import { processRuns } from './runs.js';
import { WorkerSupply } from './workers.js';

const supply = new WorkerSupply();
afterAll(async () => {
  await supply.close();
  removeTempDirs();
});

describe('crash points (SIGKILL of a worker process at a random commit)', () => {
  it('a worker killed at any commit and restarted with redeliveries ends where an uninterrupted run ends, with every invariant holding', async () => {
    // Where the kills fell (printed, never asserted).
    const modes = { before: 0, inside: 0, after: 0 };
    const { runs, seconds } = await assertProperty({
      name: 'crash',
      arbitrary: fc.tuple(scenarioArbitrary, crashChoiceArbitrary),
      check: async ([commands, choice]) => {
        const plan = await resolveCrash(commands, choice);
        if (plan === undefined) return;
        modes[plan.mode] += 1;
        await checkCrashRun(commands, plan, supply);
      },
      toFixture: async ([commands, choice], error) => {
        const plan = await resolveCrash(commands, choice);
        if (plan === undefined) throw new Error('a failing crash run without a commit');
        return { found: `TO FILL IN (what went wrong, the fix): ${error}`, kind: 'crash', commands, crash: plan };
      },
      runs: processRuns(10),
    });
    console.info(`crash properties: ${runs} runs in ${seconds.toFixed(1)} s (${(runs / seconds).toFixed(2)} runs/s); kills before/inside/after a commit: ${modes.before}/${modes.inside}/${modes.after}`);
  }, 600_000);
});
