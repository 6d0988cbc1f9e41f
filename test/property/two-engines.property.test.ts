/**
 * Two engines on one SQLite file (engines.ts): two worker processes share the file and take
 * interleaved parts of generated sequences (GUEST and REGULAR batches, duplicates, late and
 * malformed envelopes, timer advances), a batch moving between them from segment to segment.
 * Every command is answered as one engine alone answers it; afterwards every invariant holds and
 * the file equals that engine's store: nothing accepted lost, no effect duplicated.
 * Runs: PROPERTY_RUNS (default 100 here; the two processes serve every run; test:deep 2,000).
 */
import fc from 'fast-check';
import { afterAll, describe, it } from 'vitest';
import { removeTempDirs } from '../support/reliability-kit.js';
import { scenarioArbitrary } from './commands.js';
import { checkTwoEngines, segmentsOf, splitArbitrary } from './engines.js';
import { assertProperty } from './fixtures.js';
import { propertyRuns } from './runs.js';
import { WorkerPair } from './workers.js';

const pair = new WorkerPair();
afterAll(async () => {
  await pair.close();
  removeTempDirs();
});

describe('two engines (two processes) on one SQLite file', () => {
  it('interleaved parts of a generated sequence are answered as by one engine alone and leave its state, with every invariant holding', async () => {
    // How much the engines overlapped (printed, never asserted): segments, and those both engines had commands in.
    const shape = { segments: 0, both: 0 };
    const { runs, seconds } = await assertProperty({
      name: 'two-engines',
      arbitrary: fc.tuple(scenarioArbitrary, splitArbitrary),
      check: async ([commands, split]) => {
        const segments = segmentsOf(commands, split);
        shape.segments += segments.length;
        shape.both += segments.filter(([first, second]) => first.length > 0 && second.length > 0).length;
        await checkTwoEngines(commands, segments, pair);
      },
      toFixture: ([commands, split], error) => ({ found: `TO FILL IN (what went wrong, the fix): ${error}`, kind: 'two-engines', commands, segments: segmentsOf(commands, split) }),
      runs: propertyRuns(100),
    });
    console.info(`two-engine properties: ${runs} runs in ${seconds.toFixed(1)} s (${(runs / seconds).toFixed(1)} runs/s); ${shape.segments} segments, ${shape.both} with both engines at work`);
  }, 600_000);
});
