/**
 * The export and gen-tests commands: their files, their exit codes, and the generated test
 * files themselves (imported here, so their tests run as part of this file).
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createMachine } from 'xstate';
import { machineGraph } from '../../adapters/visual/index.js';
import { writeOutput, type CliIo } from '../../scripts/lib/cli.js';
import { runExport } from '../../scripts/lib/export-cli.js';
import { generateTests, runGenTests, summaryLine } from '../../scripts/lib/gen-tests-cli.js';
import { loadMachineModule } from '../../scripts/lib/cli.js';
import { machine as documentMachine } from './fixtures/document-machine.js';
import { scratchFolder } from './support.js';

const FIXTURE = 'test/visual/fixtures/document-machine.ts';
const scratch = scratchFolder('cli');
afterAll(() => scratch.remove());

function captureIo(): CliIo & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, out: (line) => lines.push(line), err: (line) => errors.push(line), progress: () => undefined, cwd: join(import.meta.dirname, '../..') };
}

// The generated files are written and imported while this file is collected: their
// describe/it blocks become tests of this file. Their names do not end in .test.ts.
const generated = generateTests({
  out: join(scratch.dir, 'generated'),
  report: join(scratch.dir, 'reports'),
  module: { ...(await loadMachineModule(FIXTURE, join(import.meta.dirname, '../..'))), spec: FIXTURE },
  testFileName: (id) => `${id}.paths.generated.ts`,
});
const library = generateTests({
  out: join(scratch.dir, 'generated'),
  report: join(scratch.dir, 'reports'),
  only: ['associations'],
  testFileName: (id) => `${id}.paths.generated.ts`,
});
for (const file of [...generated.files, ...library.files]) writeOutput(file.path, file.content, scratch.dir);
await import(pathToFileURL(join(scratch.dir, 'generated', 'document.paths.generated.ts')).href);
await import(pathToFileURL(join(scratch.dir, 'generated', 'associations.paths.generated.ts')).href);

describe('lifecycle-export', () => {
  it('writes JSON, source, Mermaid and SVG of a user machine', async () => {
    const io = captureIo();
    const out = join(scratch.dir, 'export-user');
    expect(await runExport(['--machine', FIXTURE, '--out', out], io)).toBe(0);
    for (const extension of ['json', 'ts', 'mmd', 'svg']) {
      expect(existsSync(join(out, `document.${extension}`)), extension).toBe(true);
      expect(io.lines).toContain(`wrote ${relative(io.cwd, join(out, `document.${extension}`))}`);
    }
    const json = JSON.parse(readFileSync(join(out, 'document.json'), 'utf8')) as Parameters<typeof createMachine>[0];
    expect(machineGraph(createMachine(json))).toEqual(machineGraph(documentMachine));
  });

  it('writes the four library machines by default', async () => {
    const io = captureIo();
    const out = join(scratch.dir, 'export-all');
    expect(await runExport(['--out', out], io)).toBe(0);
    for (const id of ['batch', 'essay', 'batch_tracker', 'associations']) expect(existsSync(join(out, `${id}.svg`)), id).toBe(true);
    expect(io.lines).toHaveLength(20);
  });

  it.each([
    [['--bogus'], /Unknown option '--bogus'/],
    [['--machine', 'no/such/file.ts'], /no such file/],
    [['--machine', `${FIXTURE}#events`], /export "events" of .* is not an XState machine/],
    [['--machine', `${FIXTURE}#nothing`], /has no export "nothing"/],
    [['--machine', 'test/visual/support.ts'], /exports no XState machine as "default" or "machine"/],
    [['--docs'], /Unknown option '--docs'/],
    [['--out'], /argument missing|requires|value/i],
  ])('exits with code 2 for %j', async (argv, message) => {
    const io = captureIo();
    expect(await runExport(argv, io)).toBe(2);
    expect(io.errors[0]).toMatch(message);
    expect(io.errors.join('\n')).toContain('usage: lifecycle-export');
  });
});

describe('lifecycle-gen-tests', () => {
  it('generates pure-machine tests for a user machine with full coverage', async () => {
    const io = captureIo();
    const out = join(scratch.dir, 'gen-user');
    expect(await runGenTests(['--machine', FIXTURE, '--out', out, '--report', join(scratch.dir, 'gen-user-report')], io)).toBe(0);
    expect(io.lines.find((line) => line.startsWith('document'))).toMatch(/states 14\/14 +transitions 12\/12/);
    const source = readFileSync(join(out, 'document.paths.test.ts'), 'utf8');
    expect(source).toContain("import * as subject from '../../fixtures/document-machine.js';");
    expect(source).toContain("from 'essay-lifecycle-statecharts/visual';");
    expect(source).not.toMatch(/node_modules|from '\.\.\/.*adapters/);
    const report = JSON.parse(readFileSync(join(scratch.dir, 'gen-user-report', 'document.json'), 'utf8')) as { transitions: { taken: number } };
    expect(report.transitions.taken).toBe(12);
  });

  it('names what is unreachable and exits with code 1', async () => {
    const io = captureIo();
    const code = await runGenTests(['--machine', 'test/visual/fixtures/unreachable-machine.ts', '--out', join(scratch.dir, 'gen-kiosk'), '--report', join(scratch.dir, 'gen-kiosk-report')], io);
    expect(code).toBe(1);
    expect(io.lines).toContain('  FAILURE unreachable state: maintenance');
    expect(io.lines).toContain('  FAILURE transition never taken: maintenance: START -> running');
  });

  it.each([
    [['--nope'], /Unknown option '--nope'/],
    [['--only', 'tracker'], /unknown machine tracker/],
    [['--machine', FIXTURE, '--only', 'batch'], /cannot be combined/],
    [['--machine', FIXTURE, '--assert', 'context,colour'], /--assert: "colour" is not one of context, output, emitted/],
    [['--to-state', 'done'], /--to-state applies to --machine/],
    [['--machine', FIXTURE, '--strategy', 'longest'], /--strategy: "longest" is not shortest or simple/],
  ])('exits with code 2 for %j', async (argv, message) => {
    const io = captureIo();
    expect(await runGenTests([...argv, '--out', join(scratch.dir, 'unused'), '--report', join(scratch.dir, 'unused')], io)).toBe(2);
    expect(io.errors[0]).toMatch(message);
    rmSync(join(scratch.dir, 'unused'), { recursive: true, force: true });
  });

  it('finds the event types of a module that exports no samples and reaches everything', async () => {
    const io = captureIo();
    const code = await runGenTests(['--machine', 'test/visual/fixtures/no-events-machine.ts', '--out', join(scratch.dir, 'gen-lamp'), '--report', join(scratch.dir, 'gen-lamp-report')], io);
    expect(code).toBe(0);
    expect(io.lines.find((line) => line.startsWith('lamp'))).toMatch(/states 2\/2 +transitions 2\/2/);
  });

  it('keeps the summary columns apart for a long machine id', () => {
    const report = { ...(generated.reports[0] as NonNullable<(typeof generated.reports)[0]>), machine: 'multipleCreditCheck' };
    expect(summaryLine(report)).toMatch(/^multipleCreditCheck {2}states /);
  });

  it('writes the paths to a chosen state, from the command line', async () => {
    const io = captureIo();
    const out = join(scratch.dir, 'gen-to-state');
    expect(await runGenTests(['--machine', FIXTURE, '--to-state', 'published', '--out', out, '--report', join(scratch.dir, 'gen-to-state-report')], io)).toBe(0);
    const { paths } = JSON.parse(readFileSync(join(out, 'document.paths.json'), 'utf8')) as { paths: Array<{ steps: Array<{ value: unknown }> }> };
    expect(paths).toHaveLength(1);
    expect(paths[0]?.steps.at(-1)?.value).toBe('published');
    expect(await runGenTests(['--machine', FIXTURE, '--to-state', 'nowhere', '--out', out, '--report', join(scratch.dir, 'gen-to-state-report')], io)).toBe(1);
    expect(io.errors).toContain('lifecycle-gen-tests: no path reaches nowhere');
  });

  it('wrote the generated suites imported by this file', () => {
    expect(generated.complete && library.complete).toBe(true);
    expect(generated.reports[0]?.paths).toBeGreaterThan(0);
  });
});
