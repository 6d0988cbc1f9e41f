/**
 * Model-based testing of a user's real system: generated paths drive the real implementation (an
 * HTTP service, a UI, an engine) through executors the user supplies per event type, and after the
 * start and every step each state assertion whose state the model is in checks the real system.
 * What the pure replay (`replayPath`) checks of the machine, this checks of the system it models.
 */
import type { AnyMachineSnapshot, AnyStateMachine, EventObject, StateValue } from 'xstate';
import { Tracer } from './paths/tracer.js';
import type { GeneratedPath, PathSeed } from './paths/types.js';

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
