/** Coverage of a machine's graph model: the states and transitions some paths reach, and what they miss. */
import { describeTransition, type MachineGraph } from '../graph.js';
import type { Coverage } from './types.js';

export function coverageOf(graph: MachineGraph, states: ReadonlySet<string>, transitions: ReadonlySet<string>): Coverage {
  const missingTransitions = graph.transitions.filter((transition) => !transitions.has(transition.id));
  return {
    states: {
      total: graph.states.length,
      reached: graph.states.filter((state) => states.has(state.id)).length,
      missing: graph.states.filter((state) => !states.has(state.id)).map((state) => state.path.join('.')),
    },
    transitions: {
      total: graph.transitions.length,
      taken: graph.transitions.length - missingTransitions.length,
      missing: missingTransitions.map((transition) => describeTransition(graph, transition)),
      missingIds: missingTransitions.map((transition) => transition.id),
    },
  };
}

/** True when a plan reaches every state and every transition of the model. */
export function isComplete(coverage: Coverage): boolean {
  return coverage.states.missing.length === 0 && coverage.transitions.missingIds.length === 0;
}
