/**
 * Paths chosen by their end, as @xstate/graph offers them: the shortest path to every vertex (or
 * every simple path) from each seed, only to snapshots `toState` accepts and never through those
 * `stopWhen` accepts. Each path is run again through the real machine, like coverage paths.
 */
import type { AnyMachineSnapshot, StateValue } from 'xstate';
import { explore } from './explore.js';
import { runPath } from './run.js';
import type { GeneratedPath, PathSubject, RecordOptions } from './types.js';

/** Options of {@link findPaths}. */
export interface FindPathsOptions {
  /** `shortest` (default): one shortest path per vertex; `simple`: every path that visits no vertex twice. */
  readonly strategy?: 'shortest' | 'simple';
  /** Keep only paths ending in a snapshot it accepts (exploration stops there too). */
  readonly toState?: (snapshot: AnyMachineSnapshot) => boolean;
  /** Do not explore beyond snapshots it accepts. */
  readonly stopWhen?: (snapshot: AnyMachineSnapshot) => boolean;
  /** Record contexts, outputs and emitted events on the steps. */
  readonly record?: RecordOptions;
}

/** A `toState` predicate from dotted state paths (`gameOver.winner`): true when the snapshot is in any of them. */
export function inStates(paths: readonly string[]): (snapshot: AnyMachineSnapshot) => boolean {
  const values: StateValue[] = paths.map((path) => {
    const keys = path.split('.');
    const last = keys.pop() ?? '';
    return keys.reduceRight<StateValue>((inner, key) => ({ [key]: inner }), last);
  });
  return (snapshot) => values.some((value) => snapshot.matches(value));
}

/** The paths of `subject` that `options` choose, from every seed, numbered `<machine>/<seed>/<n>`. */
export function findPaths(subject: PathSubject, options: FindPathsOptions = {}): GeneratedPath[] {
  const paths: GeneratedPath[] = [];
  for (const seed of subject.seeds) {
    const exploration = explore(subject, seed, {
      generator: options.strategy ?? 'shortest',
      ...(options.toState === undefined ? {} : { toState: options.toState }),
      ...(options.stopWhen === undefined ? {} : { stopWhen: options.stopWhen }),
    });
    exploration.found.forEach((found, index) => {
      paths.push(runPath(subject.machine, seed, found.events, `${subject.machine.id}/${seed.name}/${index}`, options.record).path);
    });
  }
  return paths;
}
