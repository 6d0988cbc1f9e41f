/**
 * lifecycle-export: writes what Stately imports and the diagrams of the project's machines
 * (or of a user's machine), and the README diagrams under docs/diagrams.
 */
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import type { AnyStateMachine } from 'xstate';
import { defaultMachines } from '../../adapters/engine/registry.js';
import { bareMachineSource, definitionNotes, exportDefinition, machineSource, renderSvg, toMermaid } from '../../adapters/visual/index.js';
import { EXIT_USAGE, fileNameOf, loadMachineModule, parseCli, PROJECT_ROOT, UsageError, writeOutput, type CliIo } from './cli.js';

/** Usage of the export command (every flag with its default). */
export const EXPORT_USAGE = `usage: lifecycle-export [--out <dir>] [--machine <file.ts>[#export]]

  --machine   a machine module of yours; the export is "default", else "machine" (default: every
              machine of the library: batch, essay, batch_tracker, associations)
  --out       output folder (default ./exported): <id>.json (the config as JSON, structure
              only), <id>.stately.ts (createMachine({...}), the form Stately's "Import from
              code" takes), <id>.ts (setup() module whose stubs throw "not implemented" until
              you machine.provide() the real ones), <id>.mmd (Mermaid), <id>.svg
  --help, -h  this text

What JSON cannot hold (undefined values, functions XState gives no name) is printed as a
note on stderr. The .ts files import "xstate": write them where it resolves.`;

/** The flags of the export command (each is in EXPORT_USAGE with its default). */
export const EXPORT_FLAGS = {
  out: { type: 'string' },
  machine: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** One output file: path relative to its folder, and content. */
export interface OutputFile {
  readonly name: string;
  readonly content: string;
}

/** The five files of one machine: `<id>.json`, `<id>.stately.ts`, `<id>.ts`, `<id>.mmd`, `<id>.svg`. */
export async function exportFiles(machine: AnyStateMachine, origin: string): Promise<OutputFile[]> {
  const base = fileNameOf(machine.id);
  const notes = definitionNotes(exportDefinition(machine));
  const left = notes.length === 0 ? '' : `\nLeft out or renamed:\n${notes.map((note) => `  - ${note}`).join('\n')}`;
  return [
    { name: `${base}.json`, content: `${JSON.stringify(exportDefinition(machine).definition, null, 2)}\n` },
    {
      name: `${base}.stately.ts`,
      content: bareMachineSource(machine, {
        header: `The "${machine.id}" machine exported by lifecycle-export from ${origin}.\nPaste into Stately Studio (Import from code). Structure only: implementations are named, not defined.${left}`,
      }),
    },
    {
      name: `${base}.ts`,
      content: machineSource(machine, {
        header:
          `The "${machine.id}" machine exported by lifecycle-export from ${origin}.\n` +
          'Every implementation is a stub that throws "not implemented" when used. Put the real ones back:\n' +
          '  const real = machine.provide({ actions: { ... }, guards: { ... }, actors: { ... }, delays: { ... } });' +
          left,
      }),
    },
    { name: `${base}.mmd`, content: toMermaid(machine) },
    { name: `${base}.svg`, content: await renderSvg(machine) },
  ];
}

/** True when `specifier` resolves from a module in `dir` (the exported sources import `xstate`). */
export function resolvesFrom(dir: string, specifier: string): boolean {
  try {
    createRequire(join(dir, 'noop.js')).resolve(specifier);
    return true;
  } catch {
    return false;
  }
}

/** Folder of the README diagrams, relative to the repository root. */
export const DOCS_DIAGRAMS_DIR = 'docs/diagrams';

/** Machines drawn in the README. */
const DOCS_MACHINES = ['batch', 'essay'] as const;

/** The README diagrams as they should be committed: `docs/diagrams/<id>.svg` and `.mmd` for batch and essay. */
export async function docsDiagrams(): Promise<Array<{ path: string; content: string }>> {
  const machines = defaultMachines();
  const files: Array<{ path: string; content: string }> = [];
  for (const id of DOCS_MACHINES) {
    const logic = machines[id]?.logic;
    if (logic === undefined) throw new Error(`no machine "${id}" in the registry`);
    files.push({ path: `${DOCS_DIAGRAMS_DIR}/${id}.mmd`, content: toMermaid(logic) });
    files.push({ path: `${DOCS_DIAGRAMS_DIR}/${id}.svg`, content: await renderSvg(logic) });
  }
  return files;
}

/**
 * Writes the README diagrams into this repository's docs/diagrams (`npm run export -- --docs`,
 * scripts/export.ts; not part of the published command, which must not write into its own
 * package folder). Returns the paths written, relative to `cwd`.
 */
export async function writeDocsDiagrams(cwd: string): Promise<string[]> {
  const written: string[] = [];
  for (const file of await docsDiagrams()) written.push(writeOutput(join(PROJECT_ROOT, file.path), file.content, cwd));
  return written;
}

/** Runs the export command; returns the exit code (0 done, 2 bad arguments). */
export async function runExport(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    const options = parseCli(argv, EXPORT_FLAGS);
    if (options.help === true) {
      io.out(EXPORT_USAGE);
      return 0;
    }
    const out = resolve(io.cwd, options.out ?? './exported');
    const machines: Array<{ machine: AnyStateMachine; origin: string }> = [];
    if (options.machine !== undefined) {
      const loaded = await loadMachineModule(options.machine, io.cwd);
      machines.push({ machine: loaded.machine, origin: `${options.machine.split('#')[0] ?? options.machine}#${loaded.exportName}` });
    } else {
      for (const lifecycle of Object.values(defaultMachines())) machines.push({ machine: lifecycle.logic, origin: 'the library (defaultMachines())' });
    }
    for (const { machine, origin } of machines) {
      for (const file of await exportFiles(machine, origin)) io.out(`wrote ${writeOutput(join(out, file.name), file.content, io.cwd)}`);
      for (const note of definitionNotes(exportDefinition(machine))) io.err(`note: ${machine.id}: ${note}`);
    }
    if (!resolvesFrom(out, 'xstate')) {
      io.err(`note: "xstate" does not resolve from ${out}: the exported .ts files import it; write them inside a project that has xstate installed (npm install xstate), or --out into one`);
    }
    return 0;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.err(`lifecycle-export: ${error.message}`);
    io.err(EXPORT_USAGE);
    return EXIT_USAGE;
  }
}
