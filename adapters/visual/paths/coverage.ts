/** Coverage of a machine's graph model: the states, transitions and history restores some paths reach, and what they miss. */
import type { AnyStateMachine } from 'xstate';
import { describeTransition, type MachineGraph } from '../graph.js';
import { possibleRestores } from './history.js';
import type { Coverage } from './types.js';

/** What some paths reached: state ids, transition ids and history restore items. */
export interface Reached {
  readonly states: ReadonlySet<string>;
  readonly transitions: ReadonlySet<string>;
  readonly restores: ReadonlySet<string>;
}

export function coverageOf(machine: AnyStateMachine, graph: MachineGraph, reached: Reached): Coverage {
  const missingTransitions = graph.transitions.filter((transition) => !reached.transitions.has(transition.id));
  const restores = possibleRestores(machine);
  return {
    states: {
      total: graph.states.length,
      reached: graph.states.filter((state) => reached.states.has(state.id)).length,
      missing: graph.states.filter((state) => !reached.states.has(state.id)).map((state) => state.path.join('.')),
    },
    transitions: {
      total: graph.transitions.length,
      taken: graph.transitions.length - missingTransitions.length,
      missing: missingTransitions.map((transition) => describeTransition(graph, transition)),
      missingIds: missingTransitions.map((transition) => transition.id),
    },
    history: {
      total: restores.length,
      restored: restores.filter((item) => reached.restores.has(item)).length,
      missing: restores.filter((item) => !reached.restores.has(item)),
    },
  };
}

/** True when a plan reaches every state and every transition of the model (history restores are reported, not required). */
export function isComplete(coverage: Coverage): boolean {
  return coverage.states.missing.length === 0 && coverage.transitions.missingIds.length === 0;
}
