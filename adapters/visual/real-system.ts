/**
 * Model-based testing of a user's real system: generated paths drive the real implementation (an
 * HTTP service, a UI, an engine) through executors the user supplies per event type, and after the
 * start and every step each state assertion whose state the model is in checks the real system.
 * What the pure replay (`replayPath`) checks of the machine, this checks of the system it models.
 */
import { matchesState, type AnyMachineSnapshot, type AnyStateMachine, type EventObject, type StateValue } from 'xstate';
import { Tracer } from './paths/tracer.js';
import type { GeneratedPath, PathSeed } from './paths/types.js';
import { machineModuleSubject } from './pure-replay.js';

/** How to drive and check one real system. `TSystem` is whatever one path needs (a base URL, a client). */
export interface RealSystemModel<TSystem> {
  /** A fresh real system for one path, from its seed. */
  readonly setup: (seed: PathSeed) => Promise<TSystem> | TSystem;
  /** Releases it (called after every path, passed or failed). */
  readonly teardown?: (system: TSystem) => Promise<void> | void;
  /** Per event type: performs the event on the real system. */
  readonly events: Readonly<Record<string, (system: TSystem, event: EventObject) => Promise<void> | void>>;
  /**
   * Per state (a dotted path, `gameOver.winner`; `*` for every state): checks the real system
   * while the model is in that state. Throw (or fail an `expect`) when it is not.
   */
  readonly states: Readonly<Record<string, (system: TSystem, snapshot: AnyMachineSnapshot) => Promise<void> | void>>;
}

/** What one path checked: the steps performed and, per step (0 = start), the states asserted. */
export interface RealSystemReport {
  readonly path: string;
  readonly steps: number;
  readonly asserted: ReadonlyArray<readonly string[]>;
}

function stateValueOf(path: string): StateValue {
  const keys = path.split('.');
  const last = keys.pop() ?? '';
  return keys.reduceRight<StateValue>((inner, key) => ({ [key]: inner }), last);
}

/** Runs every state assertion the snapshot matches; answers the states asserted. */
async function assertStates<TSystem>(model: RealSystemModel<TSystem>, system: TSystem, snapshot: AnyMachineSnapshot, where: string): Promise<string[]> {
  const asserted: string[] = [];
  for (const [state, check] of Object.entries(model.states)) {
    if (state !== '*' && !snapshot.matches(stateValueOf(state))) continue;
    try {
      await check(system, snapshot);
    } catch (error) {
      throw new Error(`${where}: the real system is not in "${state}": ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    asserted.push(state);
  }
  return asserted;
}

/**
 * Drives the real system along `path` of `machine`: `setup` from the path's seed, then each event
 * through its executor, the model advanced alongside, and the state assertions run after the start
 * and every step. Throws an Error naming the path and step at the first event without an executor
 * or failed assertion; a state the model reaches with no assertion at all is an error too.
 */
export async function testRealSystem<TSystem>(machine: AnyStateMachine, seed: PathSeed, path: GeneratedPath, model: RealSystemModel<TSystem>): Promise<RealSystemReport> {
  const tracer = new Tracer(machine, seed.input);
  let snapshot = tracer.initial(seed.input).next;
  const system = await model.setup(seed);
  const asserted: string[][] = [];
  try {
    const check = async (where: string): Promise<void> => {
      const states = await assertStates(model, system, snapshot, where);
      if (states.length === 0) throw new Error(`${where}: no state assertion covers ${JSON.stringify(snapshot.value)} (add one to "states")`);
      asserted.push(states);
    };
    await check(`${path.id} start`);
    for (const [index, step] of path.steps.entries()) {
      const where = `${path.id} step ${index + 1} (${step.event.type})`;
      const perform = model.events[step.event.type];
      if (perform === undefined) throw new Error(`${where}: no executor for ${step.event.type} (add one to "events")`);
      await perform(system, step.event);
      snapshot = tracer.step(snapshot, step.event).next;
      await check(where);
    }
  } finally {
    await model.teardown?.(system);
  }
  return { path: path.id, steps: path.steps.length, asserted };
}

/** True for an object shaped like a RealSystemModel (`setup` a function, `events` and `states` objects). */
function isRealSystemModel(value: unknown): value is RealSystemModel<unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const { setup, events, states } = value as Record<string, unknown>;
  return typeof setup === 'function' && typeof events === 'object' && events !== null && typeof states === 'object' && states !== null;
}

/**
 * The real-system model a module exports: the export `exportName`, or (without it) `default`, else
 * `realSystem`. Throws an Error naming the exports tried when none is a `{ setup, events, states }`.
 */
export function realSystemModelOf(module: Readonly<Record<string, unknown>>, exportName?: string): RealSystemModel<unknown> {
  const names = exportName === undefined ? ['default', 'realSystem'] : [exportName];
  const model = names.map((name) => module[name]).find(isRealSystemModel);
  if (model === undefined) throw new Error(`the module exports no real-system model { setup, events, states } as "${names.join('" or "')}"`);
  return model;
}

/** What a model lacks for some paths: executors of event types they take, assertions of states they reach. */
export interface RealSystemGaps {
  readonly missingExecutors: readonly string[];
  readonly uncoveredStates: readonly string[];
}

/**
 * Checks, before anything runs, that `model` can drive `paths`: an executor for every event type
 * they take and an assertion for every state value they reach (answered as JSON text).
 */
export function realSystemGaps(model: RealSystemModel<unknown>, paths: readonly GeneratedPath[]): RealSystemGaps {
  const types = new Set(paths.flatMap((path) => path.steps.map((step) => step.event.type)));
  const values = new Map<string, StateValue>();
  for (const path of paths) for (const value of [path.start, ...path.steps.map((step) => step.value)]) values.set(JSON.stringify(value), value);
  const keys = Object.keys(model.states);
  const covered = (value: StateValue): boolean => keys.some((key) => key === '*' || matchesState(stateValueOf(key), value));
  return {
    missingExecutors: [...types].filter((type) => model.events[type] === undefined).sort(),
    uncoveredStates: [...values].filter(([, value]) => !covered(value)).map(([text]) => text).sort(),
  };
}

/** Options of {@link testRealSystemPath}. */
export interface RealSystemPathOptions {
  /** The export of the machine module holding the machine (default `default`, else `machine`). */
  readonly exportName?: string;
  /** The export of the model module holding the model (default `default`, else `realSystem`). */
  readonly modelExport?: string;
}

/**
 * `testRealSystem` for the files `lifecycle-gen-tests --real-system` writes: the machine and the
 * path's seed come from a machine module (the `--machine` convention), the model from a model
 * module. Throws like `testRealSystem`, and when either module lacks its export or the seed.
 */
export async function testRealSystemPath(
  machineModule: Readonly<Record<string, unknown>>,
  path: GeneratedPath,
  modelModule: Readonly<Record<string, unknown>>,
  options: RealSystemPathOptions = {},
): Promise<RealSystemReport> {
  const { machine, seeds } = machineModuleSubject(machineModule, options.exportName);
  const seed = seeds.find((candidate) => candidate.name === path.seed);
  if (seed === undefined) throw new Error(`${path.id}: the machine module has no seed "${path.seed}"`);
  return testRealSystem(machine, seed, path, realSystemModelOf(modelModule, options.modelExport));
}
