/**
 * `export` and `gen-tests` on machines nobody here wrote (test/visual/corpus, written from the XState
 * examples, tests and docs; each names its source). For every machine: full coverage, the generated
 * tests pass (they are imported here and run as tests of this file), and the exported modules load
 * with createActor and take the same states and transitions as the original on every generated path
 * once the real implementations are provided. Then one test per defect of issue 19.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createActor, createMachine, type AnyStateMachine } from 'xstate';

type Config = Parameters<typeof createMachine>[0];
import { exportDefinition, implementationsFor, machineGraph, toDot, toMermaid, type GeneratedPath } from '../../adapters/visual/index.js';
import { runPath } from '../../adapters/visual/paths/run.js';
import { loadMachineModule, writeOutput } from '../../scripts/lib/cli.js';
import { exportFiles } from '../../scripts/lib/export-cli.js';
import { generateTests, summaryLine, type CoverageReport } from '../../scripts/lib/gen-tests-cli.js';
import { scratchFolder } from './support.js';

const ROOT = join(import.meta.dirname, '../..');
const scratch = scratchFolder('corpus');
afterAll(() => scratch.remove());

interface Entry {
  readonly name: string;
  readonly machine: AnyStateMachine;
  readonly exports: Readonly<Record<string, unknown>>;
  readonly report: CoverageReport;
  readonly paths: readonly GeneratedPath[];
  readonly exported: Readonly<Record<string, string>>;
}

const names = readdirSync(join(import.meta.dirname, 'corpus')).filter((file) => file.endsWith('.ts')).map((file) => file.slice(0, -3)).sort();
const entries: Entry[] = [];
for (const name of names) {
  const spec = `test/visual/corpus/${name}.ts`;
  const loaded = await loadMachineModule(spec, ROOT);
  const assertions = (loaded.exports.assertions ?? {}) as { context?: boolean; output?: boolean; emitted?: boolean };
  const out = join(scratch.dir, name);
  const result = generateTests({ out, report: out, module: { ...loaded, spec }, record: assertions, testFileName: (id) => `${id}.paths.generated.ts` });
  for (const file of result.files) writeOutput(file.path, file.content, scratch.dir);
  const base = loaded.machine.id;
  await import(pathToFileURL(join(out, `${base}.paths.generated.ts`)).href);
  const exported: Record<string, string> = {};
  for (const file of await exportFiles(loaded.machine, spec)) {
    if (file.name.endsWith('.svg')) continue;
    exported[file.name.slice(base.length + 1)] = writeOutput(join(out, 'exported', file.name), file.content, scratch.dir);
  }
  const { paths } = JSON.parse(readFileSync(join(out, `${base}.paths.json`), 'utf8')) as { paths: GeneratedPath[] };
  const report = result.reports[0];
  if (report === undefined) throw new Error(`no report for ${name}`);
  entries.push({ name, machine: loaded.machine, exports: loaded.exports, report, paths, exported });
}

const byName = (name: string): Entry => {
  const entry = entries.find((candidate) => candidate.name === name);
  if (entry === undefined) throw new Error(`no corpus machine ${name}`);
  return entry;
};

/** `value` at a dotted config path (`states.paying.invoke[0].input`), reading single invokes as lists. */
function valueAt(config: unknown, path: string): unknown {
  return path.split(/\.|(?=\[)/).reduce<unknown>((current, part) => {
    const index = /^\[(\d+)\]$/.exec(part);
    if (index !== null) return (Array.isArray(current) ? current : [current])[Number(index[1])];
    return (current as Record<string, unknown> | undefined)?.[part];
  }, config);
}

/** A copy of a config: plain objects and arrays copied, functions and machines kept as they are. */
function copyConfig(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(copyConfig);
  if (typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, copyConfig(item)]));
  }
  return value;
}

/** The exported setup() module with the original's implementations provided and its unnamed functions put back. */
async function providedExport(entry: Entry): Promise<AnyStateMachine> {
  const module = (await import(pathToFileURL(join(scratch.dir, entry.exported.ts ?? '')).href)) as { machine: AnyStateMachine; config: Config };
  const unnamed = exportDefinition(entry.machine).unnamed;
  if (unnamed.length === 0) return module.machine.provide(implementationsFor(entry.machine));
  const config = copyConfig(module.config) as Record<string, unknown>;
  for (const { path } of unnamed) {
    const keys = path.split(/\.|(?=\[)/);
    const last = keys.pop() ?? '';
    const holder = (keys.length === 0 ? config : valueAt(config, keys.join('.').replace(/\.\[/g, '['))) as Record<string, unknown> | unknown[];
    const index = /^\[(\d+)\]$/.exec(last);
    if (index !== null) (holder as unknown[])[Number(index[1])] = valueAt(entry.machine.config, path);
    else (holder as Record<string, unknown>)[last] = valueAt(entry.machine.config, path);
  }
  return (createMachine(config as Config) as AnyStateMachine).provide(implementationsFor(entry.machine));
}

const seedInput = (entry: Entry): unknown => entry.exports.input;

describe.each(names)('corpus: %s', (name) => {
  it('gen-tests reaches every state and transition', () => {
    const { report } = byName(name);
    expect(report.states.missing, summaryLine(report)).toEqual([]);
    expect(report.transitions.missing, summaryLine(report)).toEqual([]);
    expect(report.history.missing).toEqual([]);
  });

  it('the JSON and the Stately form load back as the same structure', async () => {
    const entry = byName(name);
    const json = JSON.parse(readFileSync(join(scratch.dir, entry.exported.json ?? ''), 'utf8')) as Config;
    expect(machineGraph(createMachine(json) as AnyStateMachine)).toEqual(machineGraph(entry.machine));
    const bare = (await import(pathToFileURL(join(scratch.dir, entry.exported['stately.ts'] ?? '')).href)) as { machine: AnyStateMachine };
    expect(machineGraph(bare.machine)).toEqual(machineGraph(entry.machine));
  });

  it('the exported module, with the real implementations provided, starts with createActor and takes the same steps on every path', async () => {
    const entry = byName(name);
    const provided = await providedExport(entry);
    const errors: unknown[] = [];
    const actor = createActor(provided, { input: seedInput(entry) });
    actor.subscribe({ error: (error) => errors.push(error) });
    actor.start();
    expect(errors).toEqual([]);
    expect(actor.getSnapshot().value).toEqual(entry.paths[0]?.start);
    actor.stop();
    for (const path of entry.paths) {
      const seed = { name: path.seed, input: seedInput(entry) };
      const original = runPath(entry.machine, seed, path.steps.map((step) => step.event), path.id);
      const exported = runPath(provided, seed, path.steps.map((step) => step.event), path.id);
      expect(exported.path.steps.map(({ value, transitions }) => ({ value, transitions }))).toEqual(original.path.steps.map(({ value, transitions }) => ({ value, transitions })));
    }
  });
});

describe('issue 19 defects, on the corpus', () => {
  it('1: a machine with systemId is explored without "Actor with system ID already exists"', () => {
    expect(byName('system-id').report.transitions.taken).toBe(machineGraph(byName('system-id').machine).transitions.length);
  });

  it('2: history states count as reached, every restore is tested, and diagrams mark them H / H* inside their parent', () => {
    const fan = byName('fan-history');
    expect(fan.report.states.missing).toEqual([]);
    expect(fan.report.history).toMatchObject({ total: 10, restored: 10 });
    const restoresBoosted = fan.paths.some((path) => path.steps.some((step, index) => step.event.type === 'DEEP_POWER' && index > 0 && JSON.stringify(step.value) === JSON.stringify({ fanOn: { third: 'boosted' } })));
    expect(restoresBoosted).toBe(true);
    const dot = toDot(fan.machine);
    expect(dot).toContain('"fan.fanOn.deepHist" [shape=circle, label="H*"');
    expect(dot).toContain('"fan.fanOn.hist" [shape=circle, label="H"');
    const mermaid = toMermaid(fan.machine);
    expect(mermaid.slice(mermaid.indexOf('state fanOn {'))).toMatch(/^state fanOn \{\n {4}\[\*\] --> fanOn__first\n {4}state "H" as fanOn__hist\n/);
  });

  it('3: one undefined context value no longer takes the whole context out of the export, and it is named', () => {
    const game = byName('tic-tac-toe');
    const { definition, losses } = exportDefinition(game.machine);
    expect(definition.context).toEqual({ board: Array(9).fill(null), moves: 0, player: 'x' });
    expect(losses).toEqual([{ path: 'context.winner', found: 'undefined' }]);
    expect(readFileSync(join(scratch.dir, game.exported.ts ?? ''), 'utf8')).toMatch(/"winner": undefined/);
  });

  it('4: the exported module does not pretend: a stub guard throws "not implemented" instead of returning true', async () => {
    const dieHard = byName('die-hard');
    const module = (await import(pathToFileURL(join(scratch.dir, dieHard.exported.ts ?? '')).href)) as { machine: AnyStateMachine };
    const errors: unknown[] = [];
    const actor = createActor(module.machine);
    actor.subscribe({ error: (error) => errors.push(error) });
    actor.start();
    expect(actor.getSnapshot().status).toBe('error');
    expect(String(errors[0])).toMatch(/not implemented: guard "weHave4Gallons"/);
    const real = createActor(module.machine.provide(implementationsFor(dieHard.machine))).start();
    expect(real.getSnapshot().value).toBe('pending');
    real.stop();
  });

  it('5: a key of derived facts (five === 4, count < limit) no longer hides reachable states, and the hint names the raw facts', () => {
    expect(byName('die-hard').report.hints.join('\n')).toMatch(/context facts that tell them apart: five/);
    expect(byName('counter').report.hints.join('\n')).toMatch(/context facts that tell them apart: count/);
  });

  it('6: generated tests import the package and the user module only, never node_modules paths or xstate', () => {
    for (const entry of entries) {
      const test = readFileSync(join(scratch.dir, entry.name, `${entry.machine.id}.paths.generated.ts`), 'utf8');
      const imports = [...test.matchAll(/from '([^']+)'/g)].map((match) => match[1]);
      expect(imports).toEqual(['node:fs', 'vitest', 'essay-lifecycle-statecharts/visual', `../../corpus/${entry.name}.js`]);
    }
  });

  it('7: invokes are exported as invoke { onDone, onError, input } and drawn with readable labels', () => {
    const fetch = exportDefinition(byName('fetch').machine);
    const loading = (fetch.definition.states as Record<string, Record<string, unknown>>).loading;
    expect(loading?.on).toBeUndefined();
    expect(loading?.invoke).toEqual([{ src: 'fetchUser', onDone: { target: 'success', actions: ['assign:0'] }, onError: { target: 'failure' } }]);
    expect(fetch.unnamed).toEqual([{ path: 'states.loading.invoke[0].input', found: 'a function' }]);
    const checkout = exportDefinition(byName('checkout').machine);
    expect((checkout.definition.states as Record<string, { invoke?: Array<{ id?: string }> }>).paying?.invoke?.[0]?.id).toBe('charge');
    for (const entry of entries) {
      const drawings = `${toMermaid(entry.machine)}${toDot(entry.machine)}`;
      expect(drawings, entry.name).not.toMatch(/xstate\.done\.actor|xstate\.error\.actor|inline:\d/);
    }
    expect(toMermaid(byName('fetch').machine)).toContain('loading --> success : done#58; fetchUser / assign');
  });
});
