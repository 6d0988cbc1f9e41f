/**
 * lifecycle-gen-tests: transition-coverage paths from @xstate/graph, written as vitest
 * files, with a coverage report per machine.
 *
 * - The library's machines: every path is replayed through the durable engine on SQLite
 *   (each step produced by its real envelope or timer; status, value and context checked).
 * - A user's machine (`--machine file.ts[#export]`): every path is replayed through the
 *   pure machine. The event types come from the machine itself; the module may export payload
 *   samples as `events` (or `sampleEvents`): an array, or `(snapshot) => events`; optionally
 *   `input` (or `seeds: [{ name, input }]`), `serializeState(snapshot) => string` and
 *   `assertions: { context, output, emitted }`.
 * - With `--real-system model.ts[#export]` the paths of the user's machine drive the user's real
 *   system instead (executors and assertions of a RealSystemModel; gen-tests-real.ts).
 */
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import type { AnyMachineSnapshot, EventObject } from 'xstate';
import {
  findPaths,
  inStates,
  isComplete,
  planPaths,
  sampleEvents,
  type EventSamples,
  type GeneratedPath,
  type PathPlan,
  type PathSeed,
  type PathSubject,
  type RecordOptions,
} from '../../adapters/visual/index.js';
import { canonicalJson } from '../../adapters/visual/replay.js';
import { projectSubjects } from '../../adapters/visual/samples.js';
import { EXIT_USAGE, fileNameOf, loadMachineModule, parseCli, UsageError, writeOutput, type CliIo, type LoadedMachineModule } from './cli.js';
import { coverageReport, engineTestFile, importSpecifier, PACKAGE_NAME, pathsFile, pureTestFile, realSystemTestFile, summaryLine, type CoverageReport } from './gen-tests-files.js';
import { loadRealSystemModule, realSystemFailures, type RealSystemModule } from './gen-tests-real.js';

export { coverageReport, engineTestFile, importSpecifier, pureTestFile, summaryLine, type CoverageReport } from './gen-tests-files.js';

/** Usage of the gen-tests command (every flag with its default). */
export const GEN_TESTS_USAGE = `usage: lifecycle-gen-tests [--out <dir>] [--report <dir>] [--only <machine id>]...
       lifecycle-gen-tests --machine <file.ts>[#export] [--real-system <file.ts>[#export]] [--out <dir>]
                           [--report <dir>] [--assert <what>] [--to-state <state>]... [--strategy shortest|simple]

  --machine      a machine module of yours; the export is "default", else "machine". Event types
                 come from the machine (invoke done/error and after events included); the module
                 may export payload samples as "events" (or "sampleEvents"): an array, or
                 (snapshot) => events; optionally "input" (or "seeds": [{ name, input }]),
                 "serializeState(snapshot) => string" and "assertions": { context, output, emitted }.
                 Paths replay through the pure machine (default: the library's machines, each path
                 replayed through the durable engine on SQLite)
  --real-system  with --machine: a module of yours exporting the model of your real system ("default",
                 else "realSystem"): { setup(seed), teardown?(system), events: { <TYPE>: (system, event)
                 => ... }, states: { <state or *>: (system, snapshot) => ... } }. The generated tests
                 drive your system along every path through these executors and run the assertions
                 after the start and every step (docs/model-based-testing.md). A missing executor or
                 assertion is a FAILURE line (default off: paths replay through the pure machine)
  --assert       with --machine: also assert after every step (comma-separated): context, output,
                 emitted (default none: the state value only)
  --to-state     with --machine: paths to this state (dotted path, repeatable) instead of transition
                 coverage (default none: transition coverage)
  --strategy     with --machine: shortest: one shortest path per state reached; simple: every simple
                 path (with --to-state, or alone for all of them; simple paths grow fast)
                 (default shortest)
  --out          folder of the generated vitest files (default ./test/generated)
  --report       folder of the coverage reports <id>.json (default ./coverage/paths)
  --only         restrict the library's machines (repeatable): batch, essay, batch_tracker,
                 associations (default: all four)
  --help, -h     this text

The generated files import ${PACKAGE_NAME}/visual by name: write them inside your project (where
${PACKAGE_NAME} and vitest are installed) and run them with npx vitest run <dir>.
Exit code: 0 when every state and transition is reached (or, with --to-state / --strategy, a path
was found) and, with --real-system, the model can drive every path; 1 when not (named); 2 for bad
arguments.`;

const ASSERTABLE = ['context', 'output', 'emitted'] as const;

/** What to record, from `--assert` and the module's `assertions` export. */
function recordOptions(flag: string | undefined, exported: unknown, file: string): RecordOptions {
  const record: Record<string, boolean> = {};
  if (exported !== undefined) {
    if (typeof exported !== 'object' || exported === null) throw new UsageError(`--machine: "assertions" of ${file} must be { context?, output?, emitted? }`);
    for (const [key, value] of Object.entries(exported)) {
      if (!(ASSERTABLE as readonly string[]).includes(key) || typeof value !== 'boolean') throw new UsageError(`--machine: "assertions.${key}" of ${file} is not one of ${ASSERTABLE.join(', ')} set to true or false`);
      record[key] = value;
    }
  }
  for (const item of flag === undefined ? [] : flag.split(',').map((part) => part.trim())) {
    if (!(ASSERTABLE as readonly string[]).includes(item)) throw new UsageError(`--assert: "${item}" is not one of ${ASSERTABLE.join(', ')}`);
    record[item] = true;
  }
  return record;
}

/** The sample events of a module: undefined, an array of `{ type }` objects, or a function. */
function samplesOf(loaded: LoadedMachineModule): EventSamples | undefined {
  const samples = loaded.exports.events ?? loaded.exports.sampleEvents;
  if (samples === undefined) return undefined;
  if (typeof samples === 'function') return (snapshot) => (samples as (snapshot: AnyMachineSnapshot) => readonly EventObject[])(snapshot);
  if (Array.isArray(samples) && samples.every((event) => typeof (event as { type?: unknown } | null)?.type === 'string')) return samples as EventObject[];
  throw new UsageError(`--machine: "events" of ${loaded.file} must be an array of { type, ... } objects or a function returning one`);
}

/** The path subject of a user's module, following the documented export convention. */
export function userSubject(loaded: LoadedMachineModule): PathSubject {
  const { exports, machine } = loaded;
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
    events: sampleEvents(machine, samplesOf(loaded)),
    ...(serializeState === undefined ? {} : { serializeState: serializeState as (snapshot: AnyMachineSnapshot) => string }),
  };
}

/** Throws a UsageError when an event of a path does not survive JSON (the generated file stores paths as JSON). */
function checkJsonSafe(paths: readonly GeneratedPath[]): void {
  for (const path of paths) {
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
  /** What keeps the generated tests from running as they should (a real-system model's gaps). */
  readonly failures: readonly string[];
  readonly complete: boolean;
}

/** Paths chosen by their end instead of transition coverage (`--to-state`, `--strategy`). */
export interface PathSelection {
  readonly toState?: readonly string[];
  readonly strategy?: 'shortest' | 'simple';
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
  /** What the generated tests assert besides the state value (a user's machine). */
  readonly record?: RecordOptions;
  /** Paths to chosen states, or simple paths, instead of transition coverage (a user's machine). */
  readonly select?: PathSelection;
  /** The model of the user's real system: the generated tests drive it instead of the pure machine. */
  readonly realSystem?: RealSystemModule;
  /** File name of a generated test file from the machine's file-name-safe id (default `<id>.paths.test.ts`). */
  readonly testFileName?: (id: string) => string;
  readonly onProgress?: (text: string) => void;
}

/** The files of a user's machine: its paths (coverage, or chosen by `select`), test file and report. */
function userFiles(options: GenerateOptions & { module: NonNullable<GenerateOptions['module']> }, plan: (subject: PathSubject, name: string) => PathPlan): GenerationResult {
  const subject = userSubject(options.module);
  const base = fileNameOf(subject.machine.id);
  const dataFile = `${base}.paths.json`;
  const testName = options.testFileName ?? ((id: string) => `${id}.paths.test.ts`);
  const selection = options.select;
  let paths: readonly GeneratedPath[];
  let report: CoverageReport | undefined;
  let complete: boolean;
  if (selection?.toState !== undefined || selection?.strategy !== undefined) {
    paths = findPaths(subject, {
      ...(selection.strategy === undefined ? {} : { strategy: selection.strategy }),
      ...(selection.toState === undefined ? {} : { toState: inStates(selection.toState) }),
      ...(options.record === undefined ? {} : { record: options.record }),
    });
    complete = paths.length > 0;
  } else {
    const result = plan(subject, subject.machine.id);
    paths = result.paths;
    report = coverageReport(subject, result);
    complete = isComplete(result.coverage);
  }
  checkJsonSafe(paths);
  const machineSpecifier = importSpecifier(options.out, options.module.file);
  const real = options.realSystem;
  const failures = real === undefined ? [] : realSystemFailures(real.model, paths);
  const testFile =
    real === undefined
      ? { path: join(options.out, testName(base)), content: pureTestFile(subject.machine.id, machineSpecifier, options.module.exportName, dataFile) }
      : {
          path: join(options.out, options.testFileName?.(base) ?? `${base}.real-system.test.ts`),
          content: realSystemTestFile(subject.machine.id, machineSpecifier, options.module.exportName, { specifier: importSpecifier(options.out, real.file), exportName: real.exportName }, dataFile),
        };
  const files: GeneratedFile[] = [{ path: join(options.out, dataFile), content: pathsFile(subject.machine.id, paths, options.module.spec) }, testFile];
  if (report !== undefined) files.push({ path: join(options.report, `${base}.json`), content: `${JSON.stringify(report, null, 2)}\n` });
  return { files, reports: report === undefined ? [] : [report], failures, complete: complete && failures.length === 0 };
}

/** The files of the library's machines (replayed through the engine). */
function libraryFiles(options: GenerateOptions, plan: (subject: PathSubject, name: string) => PathPlan): GenerationResult {
  const known = projectSubjects();
  const unknown = (options.only ?? []).filter((id) => !known.some((subject) => subject.id === id));
  if (unknown.length > 0) throw new UsageError(`--only: unknown machine ${unknown.join(', ')} (known: ${known.map((subject) => subject.id).join(', ')})`);
  const testName = options.testFileName ?? ((id: string) => `${id}.paths.test.ts`);
  const files: GeneratedFile[] = [];
  const reports: CoverageReport[] = [];
  let complete = true;
  for (const subject of known) {
    if (options.only !== undefined && options.only.length > 0 && !options.only.includes(subject.id)) continue;
    const result = plan(subject, subject.id);
    complete &&= isComplete(result.coverage);
    const base = fileNameOf(subject.id);
    const dataFile = `${base}.paths.json`;
    files.push({ path: join(options.out, dataFile), content: pathsFile(result.machine, result.paths, `the library's ${subject.id} machine`) });
    files.push({ path: join(options.out, testName(base)), content: engineTestFile(subject.id, dataFile) });
    const report = coverageReport(subject, result);
    reports.push(report);
    files.push({ path: join(options.report, `${base}.json`), content: `${JSON.stringify(report, null, 2)}\n` });
  }
  return { files, reports, failures: [], complete };
}

/** Plans the paths and renders the files (pure apart from loading machines; writes nothing). */
export function generateTests(options: GenerateOptions): GenerationResult {
  const plan = (subject: PathSubject, name: string): PathPlan =>
    planPaths(subject, {
      onProgress: ({ seed, explored }) => options.onProgress?.(`${name} (${seed}): ${explored.toLocaleString('en')} steps explored`),
      ...(options.record === undefined ? {} : { record: options.record }),
    });
  const module = options.module;
  const result = module !== undefined ? userFiles({ ...options, module }, plan) : libraryFiles(options, plan);
  options.onProgress?.('');
  return result;
}

/** True when `specifier` resolves under Node from a module in `dir`. */
function resolvesFrom(dir: string, specifier: string): boolean {
  try {
    createRequire(join(dir, 'noop.js')).resolve(specifier);
    return true;
  } catch {
    return false;
  }
}

/** Prints the summary: a line per machine, FAILURE lines, history restores never seen and hints. */
function printSummary(result: GenerationResult, io: CliIo): void {
  for (const item of result.reports) {
    io.out(summaryLine(item));
    for (const state of item.states.missing) io.out(`  FAILURE unreachable state: ${state}`);
    for (const transition of item.transitions.missing) io.out(`  FAILURE transition never taken: ${transition}`);
    for (const restore of item.history.missing) io.out(`  note: history never restores: ${restore}`);
    for (const hint of item.hints) io.out(`  note: ${hint}`);
  }
  for (const failure of result.failures) io.out(`  FAILURE ${failure}`);
}

/** The parsed command line of gen-tests. */
function parseGenTests(argv: readonly string[]): ReturnType<typeof parseCli<typeof GEN_TESTS_FLAGS>> {
  const options = parseCli(argv, GEN_TESTS_FLAGS);
  if (options.machine !== undefined && options.only !== undefined) throw new UsageError('--only selects library machines; it cannot be combined with --machine');
  for (const flag of ['assert', 'to-state', 'strategy'] as const) {
    if (options[flag] !== undefined && options.machine === undefined) throw new UsageError(`--${flag} applies to --machine`);
  }
  if (options.strategy !== undefined && options.strategy !== 'shortest' && options.strategy !== 'simple') throw new UsageError(`--strategy: "${options.strategy}" is not shortest or simple`);
  if (options['real-system'] !== undefined && options.machine === undefined) throw new UsageError('--real-system applies to --machine (the model of your system drives the paths of your machine)');
  if (options['real-system'] !== undefined && options.assert !== undefined) {
    throw new UsageError('--assert applies to the pure replay; with --real-system your state assertions receive the model\'s snapshot and check what they choose');
  }
  return options;
}

/** The flags of the gen-tests command (each is in GEN_TESTS_USAGE with its default). */
export const GEN_TESTS_FLAGS = {
  out: { type: 'string' },
  report: { type: 'string' },
  machine: { type: 'string' },
  only: { type: 'string', multiple: true },
  assert: { type: 'string' },
  'to-state': { type: 'string', multiple: true },
  strategy: { type: 'string' },
  'real-system': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Runs the gen-tests command; returns the exit code (0 complete, 1 something unreachable, 2 bad arguments). */
export async function runGenTests(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    const options = parseGenTests(argv);
    if (options.help === true) {
      io.out(GEN_TESTS_USAGE);
      return 0;
    }
    const out = resolve(io.cwd, options.out ?? './test/generated');
    const loaded = options.machine === undefined ? undefined : { ...(await loadMachineModule(options.machine, io.cwd)), spec: options.machine };
    const record = loaded === undefined ? undefined : recordOptions(options.assert, loaded.exports.assertions, loaded.file);
    const realSystem = options['real-system'] === undefined ? undefined : await loadRealSystemModule(options['real-system'], io.cwd);
    const strategy = options.strategy as PathSelection['strategy'];
    const result = generateTests({
      out,
      report: resolve(io.cwd, options.report ?? './coverage/paths'),
      ...(loaded === undefined ? {} : { module: loaded }),
      ...(options.only === undefined ? {} : { only: options.only }),
      ...(record === undefined ? {} : { record }),
      ...(realSystem === undefined ? {} : { realSystem }),
      ...(options['to-state'] === undefined && strategy === undefined ? {} : { select: { ...(options['to-state'] === undefined ? {} : { toState: options['to-state'] }), ...(strategy === undefined ? {} : { strategy }) } }),
      onProgress: (text) => io.progress(text === '' ? undefined : text),
    });
    for (const file of result.files) io.out(`wrote ${writeOutput(file.path, file.content, io.cwd)}`);
    printSummary(result, io);
    for (const specifier of [`${PACKAGE_NAME}/visual`, 'vitest']) {
      if (!resolvesFrom(out, specifier)) io.err(`note: "${specifier}" does not resolve from ${out}: the generated tests import it by name; write them inside a project that has it installed`);
    }
    if (result.reports.length === 0 && !result.complete && result.failures.length === 0) io.err(`lifecycle-gen-tests: no path reaches ${(options['to-state'] ?? []).join(', ') || 'any state'}`);
    if (result.failures.length > 0) io.err('lifecycle-gen-tests: the real-system model cannot drive every path (see FAILURE lines)');
    else if (result.reports.length > 0 && !result.complete) io.err('lifecycle-gen-tests: not every state and transition is reachable (see FAILURE lines)');
    return result.complete ? 0 : 1;
  } catch (error) {
    io.progress(undefined);
    if (!(error instanceof UsageError)) throw error;
    io.err(`lifecycle-gen-tests: ${error.message}`);
    io.err(GEN_TESTS_USAGE);
    return EXIT_USAGE;
  }
}
