/**
 * Replays a generated path through the pure machine of a user's module (the module convention of
 * `lifecycle-gen-tests --machine`): the seed's initial snapshot, then every event, checking that each
 * is accepted and leads to the recorded state value, and, where the path recorded them, to the same
 * context, output and emitted events. Generated test files call it by the package name.
 */
import type { AnyMachineSnapshot, AnyStateMachine } from 'xstate';
import { Tracer } from './paths/tracer.js';
import type { GeneratedPath, PathSeed, PathStep } from './paths/types.js';
import { canonicalJson } from './replay.js';

/** Options of {@link replayPath}. */
export interface PathReplayOptions {
  /** The export holding the machine (default `default`, else `machine`). */
  readonly exportName?: string;
}

function isMachine(value: unknown): value is AnyStateMachine {
  return typeof value === 'object' && value !== null && typeof (value as { transition?: unknown }).transition === 'function' && typeof (value as { root?: unknown }).root === 'object';
}

/**
 * The machine and seeds of a module, by the `lifecycle-gen-tests --machine` convention: the machine
 * is the export `exportName` (default `default`, else `machine`); the seeds are `seeds`, else
 * `input` as the seed "default". Throws when the module exports no machine there.
 */
export function machineModuleSubject(module: Readonly<Record<string, unknown>>, exportName: string | undefined): { machine: AnyStateMachine; seeds: readonly PathSeed[] } {
  const machine = [exportName ?? 'default', ...(exportName === undefined ? ['machine'] : [])].map((name) => module[name]).find(isMachine);
  if (machine === undefined) throw new Error(`the module exports no XState machine as "${exportName ?? 'default" or "machine'}"`);
  const seeds = Array.isArray(module.seeds) ? (module.seeds as PathSeed[]) : [{ name: 'default', input: module.input }];
  return { machine, seeds };
}

/** JSON as the path file holds it (actor references as `{ xstate$$type, id }`, undefined dropped). */
const asJson = (value: unknown): string => canonicalJson(value === undefined ? undefined : JSON.parse(JSON.stringify(value)));

/** Throws when `snapshot` after step `index` differs from what the path recorded. */
function check(path: GeneratedPath, index: number, step: PathStep, snapshot: AnyMachineSnapshot, emitted: readonly unknown[]): void {
  const where = `${path.id} step ${index + 1} (${step.event.type})`;
  const differs = (what: string, expected: unknown, actual: unknown): void => {
    if (asJson(expected) !== asJson(actual)) throw new Error(`${where}: ${what} ${asJson(actual)}, the path expects ${asJson(expected)}`);
  };
  differs('the machine reaches', step.value, snapshot.value);
  if ('context' in step) differs('the context is', step.context, snapshot.context);
  if ('output' in step) differs('the output is', step.output, snapshot.output);
  if ('emitted' in step) differs('the emitted events are', step.emitted, emitted);
}

/**
 * Replays `path` on the machine of `module`; throws an Error naming the path and step at the first
 * refused event or difference. Answers the number of steps replayed.
 */
export function replayPath(module: Readonly<Record<string, unknown>>, path: GeneratedPath, options: PathReplayOptions = {}): number {
  const { machine, seeds } = machineModuleSubject(module, options.exportName);
  const seed = seeds.find((candidate) => candidate.name === path.seed);
  if (seed === undefined) throw new Error(`${path.id}: the module has no seed "${path.seed}"`);
  const tracer = new Tracer(machine, seed.input);
  let snapshot = tracer.initial(seed.input).next;
  if (asJson(snapshot.value) !== asJson(path.start)) throw new Error(`${path.id}: the seed starts in ${asJson(snapshot.value)}, the path in ${asJson(path.start)}`);
  if ('startContext' in path && asJson(snapshot.context) !== asJson(path.startContext)) {
    throw new Error(`${path.id}: the initial context is ${asJson(snapshot.context)}, the path expects ${asJson(path.startContext)}`);
  }
  path.steps.forEach((step, index) => {
    if (!snapshot.can(step.event)) throw new Error(`${path.id} step ${index + 1}: the machine refuses ${step.event.type} in ${asJson(snapshot.value)}`);
    const trace = tracer.step(snapshot, step.event);
    snapshot = trace.next;
    check(path, index, step, snapshot, trace.emittedEvents);
  });
  return path.steps.length;
}
