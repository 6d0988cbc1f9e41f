/**
 * Two engines (two connections) on one SQLite file take generated scenarios at the same time,
 * each its own batches' commands in order: afterwards every invariant holds over the whole file
 * and every entity equals what one engine alone makes of the same commands.
 */
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultMachines, LifecycleEngine } from '../../adapters/engine/index.js';
import { isLifecycleError } from '../../adapters/errors.js';
import { openSqliteStore } from '../../adapters/sqlite/index.js';
import { storeViolations } from '../support/invariant-worlds.js';
import { batchCommands, type BatchPlan, type Command } from './commands.js';
import { entityRows, propertyRuns, testBed } from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'two-engines-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const plan: fc.Arbitrary<BatchPlan> = fc.record({
  regular: fc.constant(false),
  essays: fc.array(fc.tuple(fc.constant(true), fc.boolean(), fc.boolean()), { minLength: 1, maxLength: 3 }),
  human: fc.constant(true),
  close: fc.boolean(),
});

async function run(engine: LifecycleEngine, commands: readonly Command[]): Promise<void> {
  for (const command of commands) {
    if (command.kind !== 'dispatch') continue;
    try {
      await engine.dispatch(command.envelope);
    } catch (error) {
      if (!isLifecycleError(error, 'INVALID_ENVELOPE', 'UNKNOWN_EVENT_TYPE', 'ENTITY_NOT_FOUND')) throw error;
    }
  }
}

let file = 0;

describe('two engines on one SQLite file', () => {
  it('interleaved commits keep every invariant and end where one engine ends', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(plan, { minLength: 2, maxLength: 4 }), fc.nat(), async (plans, seed) => {
        const path = join(dir, `db-${(file += 1)}.sqlite`);
        const [a, b] = [openSqliteStore({ path }), openSqliteStore({ path })];
        const streams = plans.map((p, index) => batchCommands(p, index, seed));
        try {
          const engines = [new LifecycleEngine({ store: a, invariants: 'refuse' }), new LifecycleEngine({ store: b, invariants: 'refuse' })];
          await Promise.all(engines.map((engine, side) => run(engine, streams.filter((_, index) => index % 2 === side).flat())));
          expect(await storeViolations(a, defaultMachines())).toEqual([]);
          const alone = testBed();
          await run(alone.engine, streams.flat());
          const strip = (rows: string[]) => rows.map((row) => row.replace(/"(event_timestamp|timestamp|suggested_at|started_at|validated_at|confirmed_at)":"[^"]*"/g, ''));
          expect(strip(await entityRows(a))).toEqual(strip(await entityRows(alone.store)));
        } finally {
          await a.close();
          await b.close();
        }
      }),
      { numRuns: propertyRuns(15) },
    );
  }, 600_000);
});
