/**
 * `lifecycle-gen-tests --machine ... --real-system ...`: the generated test drives the example's
 * express order service (examples/model-based-testing.ts) along every path of its machine. The
 * generated file is written and imported while this file is collected, so its tests run as tests
 * of this file; it imports the package by name. A model that lacks an executor or an assertion
 * is named (exit 1); bad combinations are usage errors (exit 2).
 */
import { readFileSync, renameSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { testRealSystemPath, type GeneratedPath } from '../../adapters/visual/index.js';
import type { CliIo } from '../../scripts/lib/cli.js';
import { runGenTests } from '../../scripts/lib/gen-tests-cli.js';
import * as example from '../../examples/model-based-testing.js';
import { scratchFolder } from './support.js';

const ROOT = join(import.meta.dirname, '../..');
const EXAMPLE = 'examples/model-based-testing.ts';
const scratch = scratchFolder('real-system-cli');
afterAll(() => scratch.remove());

function captureIo(): CliIo & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, out: (line) => lines.push(line), err: (line) => errors.push(line), progress: () => undefined, cwd: ROOT };
}

const out = join(scratch.dir, 'generated');
const generation = captureIo();
const exitCode = await runGenTests(['--machine', `${EXAMPLE}#orderMachine`, '--real-system', EXAMPLE, '--out', out, '--report', join(scratch.dir, 'reports')], generation);
const testFile = join(out, 'order.real-system.test.ts');
// Renamed so no later run collects it; imported here, its describe/it blocks are tests of this file.
const source = readFileSync(testFile, 'utf8');
const importable = join(out, 'order.real-system.generated.ts');
renameSync(testFile, importable);
await import(pathToFileURL(importable).href);
const { paths } = JSON.parse(readFileSync(join(out, 'order.paths.json'), 'utf8')) as { paths: GeneratedPath[] };

describe('lifecycle-gen-tests --real-system', () => {
  it('writes a test that drives the real service along every path, importing the package by name, and exits 0', () => {
    expect(exitCode, generation.errors.join('\n')).toBe(0);
    expect(generation.lines).toContain(`wrote ${relative(ROOT, testFile)}`);
    expect(generation.lines.find((line) => line.startsWith('order'))).toMatch(/states 4\/4 +transitions 4\/4/);
    expect(source).toContain("import { testRealSystemPath, type GeneratedPath } from 'essay-lifecycle-statecharts/visual';");
    expect(source).toContain("import * as subject from '../../../../examples/model-based-testing.js';");
    expect(source).toContain("import * as realSystem from '../../../../examples/model-based-testing.js';");
    expect(source).not.toMatch(/node_modules|adapters\//);
    expect(paths.map((path) => path.steps.map((step) => step.event.type).join(' > ')).sort()).toEqual(['CANCEL', 'PAY > CANCEL', 'PAY > SHIP']);
  });

  it('fails the path, naming the step and state, when the real service differs from the machine', async () => {
    const pay = paths.find((path) => path.steps[0]?.event.type === 'PAY');
    if (pay === undefined) throw new Error('no path starts with PAY');
    await expect(testRealSystemPath(example, pay, { realSystem: example.orderRealSystem({ bug: 'pay-keeps-pending' }) }, { exportName: 'orderMachine' })).rejects.toThrow(
      /step 1 \(PAY\): the real system is not in "paid": GET \/orders\/order-1 says "pending"/,
    );
  });

  it('names every event without an executor and every state without an assertion, and exits 1', async () => {
    const io = captureIo();
    const code = await runGenTests(['--machine', `${EXAMPLE}#orderMachine`, '--real-system', 'test/visual/fixtures/order-model-gaps.ts', '--out', join(scratch.dir, 'gaps'), '--report', join(scratch.dir, 'gaps-report')], io);
    expect(code).toBe(1);
    expect(io.lines).toContain('  FAILURE no executor for event SHIP (add it to "events" of the real-system model)');
    expect(io.lines).toContain('  FAILURE no state assertion covers "shipped" (add one to "states", or "*")');
    expect(io.errors).toContain('lifecycle-gen-tests: the real-system model cannot drive every path (see FAILURE lines)');
  });

  it.each([
    [['--real-system', EXAMPLE], /--real-system applies to --machine/],
    [['--machine', `${EXAMPLE}#orderMachine`, '--real-system', EXAMPLE, '--assert', 'context'], /--assert applies to the pure replay/],
    [['--machine', `${EXAMPLE}#orderMachine`, '--real-system', 'no/such/model.ts'], /--real-system: no such file/],
    [['--machine', `${EXAMPLE}#orderMachine`, '--real-system', `${EXAMPLE}#orderMachine`], /exports no real-system model \{ setup, events, states \} as "orderMachine"/],
  ])('exits with code 2 for %j', async (argv, message) => {
    const io = captureIo();
    expect(await runGenTests([...argv, '--out', join(scratch.dir, 'unused'), '--report', join(scratch.dir, 'unused')], io)).toBe(2);
    expect(io.errors[0]).toMatch(message);
  });
});
