/**
 * `lifecycle-gen-tests --machine <module> --real-system <module>`: the model module of the user's
 * real system (executors per event type, assertions per state; RealSystemModel), loaded and checked
 * against the generated paths before anything is written. The generated test drives the real
 * system along every path through `testRealSystemPath` (docs/model-based-testing.md).
 */
import { existsSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { realSystemGaps, realSystemModelOf, type GeneratedPath, type RealSystemModel } from '../../adapters/visual/index.js';
import { importModule, UsageError } from './cli.js';

/** A loaded model module. */
export interface RealSystemModule {
  /** As given on the command line. */
  readonly spec: string;
  /** Absolute path of the module file. */
  readonly file: string;
  /** The export named after `#`, or undefined for the default lookup (`default`, else `realSystem`). */
  readonly exportName: string | undefined;
  readonly model: RealSystemModel<unknown>;
}

/**
 * Loads `spec` (`./path/to/model.ts` or `./path/to/model.ts#exportName`, relative to `cwd`). A
 * missing file, a module that fails to load or an export that is not a model is a UsageError.
 */
export async function loadRealSystemModule(spec: string, cwd: string): Promise<RealSystemModule> {
  const hash = spec.lastIndexOf('#');
  const path = hash > 0 ? spec.slice(0, hash) : spec;
  const exportName = hash > 0 ? spec.slice(hash + 1) : undefined;
  if (path === '' || exportName === '') throw new UsageError(`--real-system needs <file>[#export], got "${spec}"`);
  const file = isAbsolute(path) ? path : resolve(cwd, path);
  if (!existsSync(file) || !statSync(file).isFile()) throw new UsageError(`--real-system: no such file: ${file}`);
  let exports: Record<string, unknown>;
  try {
    exports = await importModule(file);
  } catch (error) {
    if (error instanceof UsageError) throw new UsageError(error.message.replace(/^--machine/, '--real-system'));
    throw new UsageError(`--real-system: cannot load ${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
  try {
    return { spec, file, exportName, model: realSystemModelOf(exports, exportName) };
  } catch (error) {
    throw new UsageError(`--real-system: ${file}: ${error instanceof Error ? error.message : String(error)} (exports: ${Object.keys(exports).join(', ') || 'none'})`);
  }
}

/** FAILURE lines for what the model lacks to drive `paths` (none when it can drive them all). */
export function realSystemFailures(model: RealSystemModel<unknown>, paths: readonly GeneratedPath[]): string[] {
  const gaps = realSystemGaps(model, paths);
  return [
    ...gaps.missingExecutors.map((type) => `no executor for event ${type} (add it to "events" of the real-system model)`),
    ...gaps.uncoveredStates.map((value) => `no state assertion covers ${value} (add one to "states", or "*")`),
  ];
}
