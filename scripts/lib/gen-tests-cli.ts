/**
 * lifecycle-gen-tests: transition-coverage paths from @xstate/graph, written as vitest
 * files, with a coverage report per machine.
 *
 * - The library's machines: every path is replayed through the durable engine on SQLite
 *   (each step produced by its real envelope or timer; status, value and context checked).
 * - A user's machine (`--machine file.ts[#export]`): every path is replayed through the
 *   pure machine (`initialTransition` / `transition`). The module exports its sample
 *   events as `events` (or `sampleEvents`): an array, or `(snapshot) => events`; optionally
 *   `input` (or `seeds: [{ name, input }]`) and `serializeState(snapshot) => string`.
 */
import { join, relative, resolve } from 'node:path';
import type { AnyMachineSnapshot, EventObject } from 'xstate';
import { isComplete, machineGraph, planPaths, type PathPlan, type PathSeed, type PathSubject } from '../../adapters/visual/index.js';
import { canonicalJson } from '../../adapters/visual/replay.js';
import { projectSubjects } from '../../adapters/visual/samples.js';
import { CODE_ROOT, EXIT_USAGE, fileNameOf, loadMachineModule, parseCli, UsageError, writeOutput, type CliIo, type LoadedMachineModule } from './cli.js';

/** Usage of the gen-tests command. */
export const GEN_TESTS_USAGE = `usage: lifecycle-gen-tests [--out <dir>] [--report <dir>] [--only <machine id>]...
       lifecycle-gen-tests --machine <file.ts>[#export] [--out <dir>] [--report <dir>]

  (default)   the library's machines; each path is replayed through the durable engine on SQLite
  --machine   a machine module of yours; the export is "default", else "machine". The module
              exports its sample events as "events" (or "sampleEvents"): an array, or
              (snapshot) => events; optionally "input" (or "seeds": [{ name, input }]) and
              "serializeState(snapshot) => string". Paths replay through the pure machine.
  --out       folder of the generated vitest files (default ./test/generated)
  --report    folder of the coverage reports <id>.json (default ./coverage/paths)
  --only      restrict the library's machines (repeatable): batch, essay, batch_tracker, associations

Exit code: 0 when every state and transition is reached, 1 when one is not (named), 2 for bad arguments.`;

/** The coverage report of one machine (written as JSON). */
export interface CoverageReport {
  readonly machine: string;
  readonly states: { readonly total: number; readonly reached: number; readonly missing: readonly string[] };
  readonly transitions: { readonly total: number; readonly taken: number; readonly missing: readonly string[] };
  readonly paths: number;
  readonly steps: number;
  readonly vertices: number;
  readonly edges: number;
  readonly ms: number;
  /** For every transition id: the generated paths that take it. */
  readonly taken_by: Readonly<Record<string, readonly string[]>>;
  /** Topics seen emitted per transition id while exploring. */
  readonly emits: Readonly<Record<string, readonly string[]>>;
}

/** The coverage report of a plan. */
export function coverageReport(subject: PathSubject, plan: PathPlan): CoverageReport {
  const takenBy: Record<string, string[]> = Object.fromEntries(machineGraph(subject.machine).transitions.map((transition) => [transition.id, []]));
  for (const path of plan.paths) {
    for (const id of new Set(path.steps.flatMap((step) => step.transitions))) (takenBy[id] ??= []).push(path.id);
  }
  return {
    machine: plan.machine,
    states: plan.coverage.states,
    transitions: { total: plan.coverage.transitions.total, taken: plan.coverage.transitions.taken, missing: plan.coverage.transitions.missing },
    paths: plan.paths.length,
    steps: plan.stats.steps,
    vertices: plan.stats.vertices,
    edges: plan.stats.edges,
    ms: plan.stats.ms,
    taken_by: takenBy,
    emits: plan.emits,
  };
}

/** One line of the summary: `batch  states 12/12  transitions 71/71  paths 62 (153 steps)  138 ms`. */
export function summaryLine(report: CoverageReport): string {
  const complete = report.states.missing.length === 0 && report.transitions.missing.length === 0;
  return [
    report.machine.padEnd(14),
    `states ${report.states.reached}/${report.states.total}`.padEnd(14),
    `transitions ${report.transitions.taken}/${report.transitions.total}`.padEnd(20),
    `paths ${report.paths} (${report.steps} steps)`.padEnd(24),
    `${report.ms} ms`,
    complete ? '' : '  FAILURE',
  ]
    .join('')
    .trimEnd();
}

/** An import specifier from a file in `fromDir` to `target` (`.ts` written as `.js`, as NodeNext wants). */
export function importSpecifier(fromDir: string, target: string): string {
  const path = relative(fromDir, target).split('\\').join('/').replace(/\.ts$/, '.js').replace(/\.mts$/, '.mjs');
  return path.startsWith('.') ? path : `./${path}`;
}

/** The JSON data file of a plan (deterministic: no timings). */
export function pathsFile(plan: PathPlan, origin: string): string {
  return `${JSON.stringify({ machine: plan.machine, origin, generated_by: 'lifecycle-gen-tests', paths: plan.paths }, null, 2)}\n`;
}

/** A vitest file that replays the paths of a library machine through the durable engine on SQLite. */
export function engineTestFile(machineId: string, dataFile: string, outDir: string): string {
  const lib = (path: string): string => importSpecifier(outDir, join(CODE_ROOT, path));
  return `// Generated by lifecycle-gen-tests: paths taking every transition of the "${machineId}" machine,
// replayed through the durable engine on SQLite. Regenerate, do not edit: npm run gen-tests
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { openSqliteStore } from '${lib('adapters/sqlite/store.ts')}';
import type { GeneratedPath } from '${lib('adapters/visual/paths.ts')}';
import { replayOnEngine } from '${lib('adapters/visual/replay.ts')}';
import { projectSubjects } from '${lib('adapters/visual/samples.ts')}';

const { paths } = JSON.parse(readFileSync(new URL('./${dataFile}', import.meta.url), 'utf8')) as { paths: GeneratedPath[] };
const subject = projectSubjects().find((candidate) => candidate.id === ${JSON.stringify(machineId)});

describe(${JSON.stringify(`${machineId}: generated paths through the engine`)}, () => {
  it.each(paths.map((path) => [\`\${path.id}: \${path.steps.map((step) => step.event.type).join(' > ')}\`, path] as const))('%s', async (_title, path) => {
    if (subject === undefined) throw new Error(${JSON.stringify(`no path subject "${machineId}"`)});
    const store = openSqliteStore({ path: ':memory:' });
    try {
      await expect(replayOnEngine(subject, path, { store })).resolves.toMatchObject({ path: path.id });
    } finally {
      await store.close();
    }
  });
});
`;
}

/** A vitest file that replays the paths of a user's machine through the pure machine. */
export function pureTestFile(machineId: string, moduleSpecifier: string, exportName: string, dataFile: string): string {
  return `// Generated by lifecycle-gen-tests: paths taking every transition of the "${machineId}" machine,
// replayed through the pure machine (initialTransition / transition). Regenerate, do not edit.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { initialTransition, transition, type AnyStateMachine, type EventObject, type StateValue } from 'xstate';
import * as subject from '${moduleSpecifier}';

interface Step {
  readonly event: EventObject;
  readonly value: StateValue;
}
interface Path {
  readonly id: string;
  readonly seed: string;
  readonly start: StateValue;
  readonly steps: readonly Step[];
}

const { paths } = JSON.parse(readFileSync(new URL('./${dataFile}', import.meta.url), 'utf8')) as { paths: Path[] };
const exports = subject as Record<string, unknown>;
const machine = exports[${JSON.stringify(exportName)}] as AnyStateMachine;
const seeds = (exports.seeds as Array<{ name: string; input?: unknown }> | undefined) ?? [{ name: 'default', input: exports.input }];

describe(${JSON.stringify(`${machineId}: generated paths`)}, () => {
  it.each(paths.map((path) => [\`\${path.id}: \${path.steps.map((step) => step.event.type).join(' > ')}\`, path] as const))('%s', (_title, path) => {
    const seed = seeds.find((candidate) => candidate.name === path.seed);
    expect(seed, \`seed "\${path.seed}"\`).toBeDefined();
    let [snapshot] = initialTransition(machine, seed?.input);
    expect(snapshot.value).toEqual(path.start);
    path.steps.forEach((step, index) => {
      expect(snapshot.can(step.event), \`step \${index + 1}: \${step.event.type} is accepted\`).toBe(true);
      [snapshot] = transition(machine, snapshot, step.event);
      expect(snapshot.value, \`after step \${index + 1} (\${step.event.type})\`).toEqual(step.value);
    });
  });
});
`;
}

/** The path subject of a user's module, following the documented export convention. */
export function userSubject(loaded: LoadedMachineModule): PathSubject {
  const { exports, machine } = loaded;
  const samples = exports.events ?? exports.sampleEvents;
  if (samples === undefined) {
    throw new UsageError(
      `--machine: ${loaded.file} exports no sample events; export "events" (or "sampleEvents"): an array of events with valid payloads, or (snapshot) => events`,
    );
  }
  let events: (snapshot: AnyMachineSnapshot) => readonly EventObject[];
  if (typeof samples === 'function') {
    events = (snapshot) => (samples as (snapshot: AnyMachineSnapshot) => readonly EventObject[])(snapshot);
  } else if (Array.isArray(samples) && samples.every((event) => typeof (event as { type?: unknown } | null)?.type === 'string')) {
    const list = samples as EventObject[];
    events = () => list;
  } else {
    throw new UsageError(`--machine: "events" of ${loaded.file} must be an array of { type, ... } objects or a function returning one`);
  }
  const seeds = exports.seeds;
  if (seeds !== undefined && !(Array.isArray(seeds) && seeds.every((seed) => typeof (seed as { name?: unknown } | null)?.name === 'string'))) {
    throw new UsageError(`--machine: "seeds" of ${loaded.file} must be an array of { name, input }`);
  }
  const serializeState = exports.serializeState;
  if (serializeState !== undefined && typeof serializeState !== 'function') {
    throw new UsageError(`--machine: "serializeState" of ${loaded.file} must be a function (snapshot) => string`);
  }
  return {
    machine,
    seeds: (seeds as PathSeed[] | undefined) ?? [{ name: 'default', input: exports.input }],
    events,
    ...(serializeState === undefined ? {} : { serializeState: serializeState as (snapshot: AnyMachineSnapshot) => string }),
  };
}

/** Throws a UsageError when an event of a path does not survive JSON (the generated file stores paths as JSON). */
function checkJsonSafe(plan: PathPlan): void {
  for (const path of plan.paths) {
    for (const step of path.steps) {
      const copy: unknown = JSON.parse(JSON.stringify(step.event));
      if (canonicalJson(copy) !== canonicalJson(step.event) || typeof step.event.type !== 'string') {
        throw new UsageError(`sample event ${step.event.type} is not plain JSON (the generated tests store events as JSON)`);
      }
    }
  }
}

/** One file the command writes. */
export interface GeneratedFile {
  readonly path: string;
  readonly content: string;
}

/** Everything one run produces, before anything is written. */
export interface GenerationResult {
  readonly files: readonly GeneratedFile[];
  readonly reports: readonly CoverageReport[];
  readonly complete: boolean;
}

/** Options of {@link generateTests}. */
export interface GenerateOptions {
  /** Absolute folder of the test files. */
  readonly out: string;
  /** Absolute folder of the coverage reports. */
  readonly report: string;
  /** A user's machine module; undefined for the library's machines. */
  readonly module?: LoadedMachineModule & { readonly spec: string };
  /** Library machine ids to keep (all when empty or undefined). */
  readonly only?: readonly string[];
  /** File name of a generated test file from the machine's file-name-safe id (default `<id>.paths.test.ts`). */
  readonly testFileName?: (id: string) => string;
  readonly onProgress?: (text: string) => void;
}

/** Plans the paths and renders the files (pure apart from loading machines; writes nothing). */
export function generateTests(options: GenerateOptions): GenerationResult {
  const files: GeneratedFile[] = [];
  const reports: CoverageReport[] = [];
  let complete = true;
  const testName = options.testFileName ?? ((id: string) => `${id}.paths.test.ts`);
  const plan = (subject: PathSubject, name: string): PathPlan =>
    planPaths(subject, { onProgress: ({ seed, explored }) => options.onProgress?.(`${name} (${seed}): ${explored.toLocaleString('en')} steps explored`) });
  if (options.module !== undefined) {
    const subject = userSubject(options.module);
    const result = plan(subject, subject.machine.id);
    complete &&= isComplete(result.coverage);
    checkJsonSafe(result);
    const base = fileNameOf(result.machine);
    const dataFile = `${base}.paths.json`;
    const specifier = importSpecifier(options.out, options.module.file);
    files.push({ path: join(options.out, dataFile), content: pathsFile(result, options.module.spec) });
    files.push({ path: join(options.out, testName(base)), content: pureTestFile(result.machine, specifier, options.module.exportName, dataFile) });
    const report = coverageReport(subject, result);
    reports.push(report);
    files.push({ path: join(options.report, `${base}.json`), content: `${JSON.stringify(report, null, 2)}\n` });
  } else {
    const known = projectSubjects();
    const unknown = (options.only ?? []).filter((id) => !known.some((subject) => subject.id === id));
    if (unknown.length > 0) throw new UsageError(`--only: unknown machine ${unknown.join(', ')} (known: ${known.map((subject) => subject.id).join(', ')})`);
    for (const subject of known) {
      if (options.only !== undefined && options.only.length > 0 && !options.only.includes(subject.id)) continue;
      const result = plan(subject, subject.id);
      complete &&= isComplete(result.coverage);
      const base = fileNameOf(subject.id);
      const dataFile = `${base}.paths.json`;
      files.push({ path: join(options.out, dataFile), content: pathsFile(result, `the library's ${subject.id} machine`) });
      files.push({ path: join(options.out, testName(base)), content: engineTestFile(subject.id, dataFile, options.out) });
      const report = coverageReport(subject, result);
      reports.push(report);
      files.push({ path: join(options.report, `${base}.json`), content: `${JSON.stringify(report, null, 2)}\n` });
    }
  }
  options.onProgress?.('');
  return { files, reports, complete };
}

/** Runs the gen-tests command; returns the exit code (0 complete, 1 something unreachable, 2 bad arguments). */
export async function runGenTests(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    const options = parseCli(argv, {
      out: { type: 'string' },
      report: { type: 'string' },
      machine: { type: 'string' },
      only: { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h' },
    });
    if (options.help === true) {
      io.out(GEN_TESTS_USAGE);
      return 0;
    }
    if (options.machine !== undefined && options.only !== undefined) throw new UsageError('--only selects library machines; it cannot be combined with --machine');
    const out = resolve(io.cwd, options.out ?? './test/generated');
    const report = resolve(io.cwd, options.report ?? './coverage/paths');
    const loaded = options.machine === undefined ? undefined : { ...(await loadMachineModule(options.machine, io.cwd)), spec: options.machine };
    const result = generateTests({
      out,
      report,
      ...(loaded === undefined ? {} : { module: loaded }),
      ...(options.only === undefined ? {} : { only: options.only }),
      onProgress: (text) => io.progress(text === '' ? undefined : text),
    });
    for (const file of result.files) io.out(`wrote ${writeOutput(file.path, file.content, io.cwd)}`);
    for (const item of result.reports) {
      io.out(summaryLine(item));
      for (const state of item.states.missing) io.out(`  FAILURE unreachable state: ${state}`);
      for (const transition of item.transitions.missing) io.out(`  FAILURE transition never taken: ${transition}`);
    }
    if (!result.complete) io.err('lifecycle-gen-tests: not every state and transition is reachable (see FAILURE lines)');
    return result.complete ? 0 : 1;
  } catch (error) {
    io.progress(undefined);
    if (!(error instanceof UsageError)) throw error;
    io.err(`lifecycle-gen-tests: ${error.message}`);
    io.err(GEN_TESTS_USAGE);
    return EXIT_USAGE;
  }
}
