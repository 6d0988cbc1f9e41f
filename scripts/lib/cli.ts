/**
 * What the export and gen-tests commands share: argument parsing that fails with exit
 * code 2, loading a user's machine module, the project root, output and a progress line.
 */
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type * as TsxApi from 'tsx/esm/api';
import type { AnyStateMachine } from 'xstate';

/** A bad command line: the command prints the message and its usage and exits with code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Exit code of a usage error. */
export const EXIT_USAGE = 2;

/** Where a command writes. Tests pass their own; the scripts use {@link processIo}. */
export interface CliIo {
  /** One line of normal output (stdout). */
  out(line: string): void;
  /** One line of diagnostics (stderr). */
  err(line: string): void;
  /** Replaces the progress line (stderr, TTY only); `undefined` clears it. */
  progress(text: string | undefined): void;
  /** Directory relative paths are resolved against. */
  readonly cwd: string;
}

/** The process's streams; the progress line is drawn only when stderr is a TTY. */
export function processIo(): CliIo {
  let shown = false;
  return {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    progress: (text) => {
      if (!process.stderr.isTTY) return;
      if (text === undefined) {
        if (shown) process.stderr.write('\r\u001b[2K');
        shown = false;
        return;
      }
      process.stderr.write(`\r\u001b[2K${text.slice(0, (process.stderr.columns || 80) - 1)}`);
      shown = true;
    },
    cwd: process.cwd(),
  };
}

/**
 * The folder the library's modules are loaded from: the repository root when the scripts
 * run from source (tsx), `dist/` when they run built. Generated tests import from here.
 */
export const CODE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The repository root: the nearest folder at or above {@link CODE_ROOT} holding package.json. */
export const PROJECT_ROOT = ((): string => {
  for (let dir = CODE_ROOT; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return CODE_ROOT;
  }
})();

/** One command-line flag: a string (repeatable when `multiple`) or a boolean. */
export interface FlagSpec {
  readonly type: 'string' | 'boolean';
  readonly multiple?: boolean;
  readonly short?: string;
}

/** The parsed values of a set of flags (absent flags are undefined). */
export type FlagValues<O extends Record<string, FlagSpec>> = {
  [K in keyof O]?: O[K] extends { type: 'boolean' } ? boolean : O[K] extends { multiple: true } ? string[] : string;
};

/** Parses `argv` strictly: an unknown flag, a missing value or a stray argument is a UsageError. */
export function parseCli<const O extends Record<string, FlagSpec>>(argv: readonly string[], options: O): FlagValues<O> {
  try {
    return parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

/** True for an XState v5 state machine (checked by shape, so a second copy of xstate still counts). */
export function isStateMachine(value: unknown): value is AnyStateMachine {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return (
    typeof candidate.id === 'string' &&
    typeof candidate.transition === 'function' &&
    typeof candidate.getInitialSnapshot === 'function' &&
    typeof candidate.getStateNodeById === 'function' &&
    typeof candidate.root === 'object'
  );
}

/** A user's machine module, loaded. */
export interface LoadedMachineModule {
  /** Absolute path of the module file. */
  readonly file: string;
  /** The export that holds the machine. */
  readonly exportName: string;
  readonly machine: AnyStateMachine;
  /** Every export of the module (sample events, input, serializer...). */
  readonly exports: Readonly<Record<string, unknown>>;
}

/**
 * Imports a module file. A TypeScript file under plain Node (the built commands) is loaded
 * through tsx when it is installed; otherwise the error says how to run the command.
 */
export async function importModule(file: string): Promise<Record<string, unknown>> {
  const url = pathToFileURL(file).href;
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw error;
    let tsx: typeof TsxApi;
    try {
      tsx = await import('tsx/esm/api');
    } catch {
      throw new UsageError(`--machine: ${file} is TypeScript and tsx is not installed; install tsx, run the command with \`npx tsx\`, or point --machine at compiled JavaScript`);
    }
    return (await tsx.tsImport(url, import.meta.url)) as Record<string, unknown>;
  }
}

/**
 * Loads `spec` (`./path/to/machine.ts` or `./path/to/machine.ts#exportName`, relative to
 * `cwd`). Without `#exportName` the machine is the `default` export, else `machine`.
 * A missing file, a module that fails to load or an export that is not a machine is a UsageError.
 */
export async function loadMachineModule(spec: string, cwd: string): Promise<LoadedMachineModule> {
  const hash = spec.lastIndexOf('#');
  const path = hash > 0 ? spec.slice(0, hash) : spec;
  const wanted = hash > 0 ? spec.slice(hash + 1) : undefined;
  if (path === '' || wanted === '') throw new UsageError(`--machine needs <file>[#export], got "${spec}"`);
  const file = isAbsolute(path) ? path : resolve(cwd, path);
  if (!existsSync(file) || !statSync(file).isFile()) throw new UsageError(`--machine: no such file: ${file}`);
  let exports: Record<string, unknown>;
  try {
    exports = await importModule(file);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`--machine: cannot load ${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const candidates = wanted === undefined ? ['default', 'machine'] : [wanted];
  for (const name of candidates) {
    const value = exports[name];
    if (isStateMachine(value)) return { file, exportName: name, machine: value, exports };
    if (wanted !== undefined) {
      throw new UsageError(
        value === undefined
          ? `--machine: ${file} has no export "${name}" (exports: ${Object.keys(exports).join(', ') || 'none'})`
          : `--machine: export "${name}" of ${file} is not an XState machine (got ${typeof value})`,
      );
    }
  }
  throw new UsageError(`--machine: ${file} exports no XState machine as "default" or "machine" (exports: ${Object.keys(exports).join(', ') || 'none'}); name it with ${spec}#<export>`);
}

/** Writes `content` to `file` (folders created), and returns the path relative to `cwd` for printing. */
export function writeOutput(file: string, content: string, cwd: string): string {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, content);
  const shown = relative(cwd, file);
  return shown.startsWith('..') ? file : shown;
}

/** A file-name-safe form of a machine id. */
export function fileNameOf(id: string): string {
  return id.replace(/[^A-Za-z0-9_-]/g, '_');
}
