/**
 * What to tell the user when the subject's key proved coarser than the guards need: which states
 * and transitions only the exploration of distinct snapshots reached, and the context facts that
 * tell those snapshots apart from the one the key kept.
 */
import { describeTransition, type MachineGraph } from '../graph.js';
import type { Reached } from './coverage.js';
import { subjectKey, type Exploration } from './explore.js';
import type { PathSubject } from './types.js';

/** The explorations by key (`coarse`) and by distinct snapshots (`fine`), per seed, and what each reached. */
export interface MergeEvidence {
  readonly coarse: readonly Exploration[];
  readonly fine: readonly Exploration[];
  readonly before: Reached;
  readonly after: Reached;
  readonly perKey: number;
  /** At most this many distinct snapshots expanded per seed. */
  readonly total: number;
}

/** Top-level context fields whose JSON differs between two contexts. */
function differingFields(a: unknown, b: unknown): string[] {
  const left = (typeof a === 'object' && a !== null ? a : {}) as Record<string, unknown>;
  const right = (typeof b === 'object' && b !== null ? b : {}) as Record<string, unknown>;
  return [...new Set([...Object.keys(left), ...Object.keys(right)])].filter((key) => JSON.stringify(left[key]) !== JSON.stringify(right[key]));
}

/** The context fields telling apart the fine vertices whose steps reached something new from the coarse vertex of the same key. */
function missingFacts(subject: PathSubject, evidence: MergeEvidence, isNew: (transitions: readonly string[], states: readonly string[]) => boolean): string[] {
  const key = subjectKey(subject);
  const fields = new Set<string>();
  evidence.fine.forEach((exploration, index) => {
    const coarse = evidence.coarse[index];
    for (const [vertexKey, vertex] of exploration.reach) {
      const steps = [...(exploration.edges.get(vertexKey)?.values() ?? [])];
      if (!steps.some(({ trace }) => isNew(trace.transitions, trace.states))) continue;
      const kept = coarse?.reach.get(key(vertex.snapshot))?.snapshot;
      if (kept !== undefined) differingFields(vertex.snapshot.context, kept.context).forEach((field) => fields.add(field));
    }
  });
  return [...fields].sort();
}

/** The hints of a second exploration (empty when the key reached everything the second one did and it reached everything). */
export function mergeHints(subject: PathSubject, graph: MachineGraph, evidence: MergeEvidence): string[] {
  const newTransitions = graph.transitions.filter((transition) => evidence.after.transitions.has(transition.id) && !evidence.before.transitions.has(transition.id));
  const newStates = graph.states.filter((state) => evidence.after.states.has(state.id) && !evidence.before.states.has(state.id));
  const keyName = subject.serializeState === undefined ? 'the default key (the state value)' : 'serializeState';
  if (newTransitions.length === 0 && newStates.length === 0) {
    return [`exploring up to ${evidence.perKey} distinct snapshots under each key of ${keyName} (at most ${evidence.total.toLocaleString('en')} per seed) reached nothing more`];
  }
  const ids = new Set(newTransitions.map((transition) => transition.id));
  const stateIds = new Set(newStates.map((state) => state.id));
  const facts = missingFacts(subject, evidence, (transitions, states) => transitions.some((id) => ids.has(id)) || states.some((id) => stateIds.has(id)));
  const reached = [...newStates.map((state) => `state ${state.path.join('.')}`), ...newTransitions.map((transition) => describeTransition(graph, transition))];
  return [
    `${keyName} merges snapshots that behave differently: ${reached.join('; ')} ` +
      `reached only by exploring distinct snapshots under one key` +
      (facts.length === 0 ? '' : `; the context facts that tell them apart: ${facts.join(', ')} (key on their raw values)`),
  ];
}
