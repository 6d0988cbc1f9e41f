/**
 * Planning transition-coverage paths from the explorations of every seed: the best candidate path
 * for every transition and state, a greedy selection in the model's document order without paths
 * that are prefixes of others, and a second run of each selected path through the real machine.
 */
import type { AnyStateMachine, EventObject, StateValue } from 'xstate';
import { machineGraph, type MachineGraph } from '../graph.js';
import { coverageOf } from './coverage.js';
import { explore, type Exploration } from './explore.js';
import { serializeEvent, Tracer, type Trace } from './tracer.js';
import type { GeneratedPath, PathPlan, PathSeed, PathStep, PathSubject, PlanOptions } from './types.js';

interface Candidate {
  readonly seedIndex: number;
  readonly events: readonly EventObject[];
  readonly traces: readonly Trace[];
  readonly order: number;
}

/** The best candidate per transition and per state over all seeds, and what the exploration reached. */
interface Candidates {
  readonly bestFor: ReadonlyMap<string, Candidate>;
  readonly stateBest: ReadonlyMap<string, Candidate>;
  readonly exploredStates: ReadonlySet<string>;
  readonly exploredTransitions: ReadonlySet<string>;
  /** Transition id -> topics emitted by the macrosteps that took it. */
  readonly emits: ReadonlyMap<string, ReadonlySet<string>>;
  readonly vertices: number;
  readonly edges: number;
}

/**
 * Runs `events` from the seed's initial snapshot with the real machine. Throws when a step
 * is refused: the serializer merged two snapshots that behave differently.
 */
function executePath(
  machine: AnyStateMachine,
  seed: PathSeed,
  events: readonly EventObject[],
  id: string,
): Array<PathStep & { states: readonly string[] }> {
  const tracer = new Tracer(machine, seed.input);
  let snapshot = tracer.initial(seed.input).next;
  return events.map((event, index) => {
    if (!snapshot.can(event)) {
      throw new Error(
        `path ${id}: step ${index + 1} (${event.type}) is refused in ${JSON.stringify(snapshot.value)} when the path is run again; ` +
          'the state serializer merges snapshots that behave differently (add the deciding context fact to it)',
      );
    }
    const trace = tracer.step(snapshot, event);
    snapshot = trace.next;
    return { event, value: snapshot.value as StateValue, transitions: trace.transitions, states: trace.states };
  });
}

function isPrefix(shorter: readonly string[], longer: readonly string[]): boolean {
  return shorter.length <= longer.length && shorter.every((item, index) => item === longer[index]);
}

/** Every candidate path: a shortest path to a vertex plus one explored event from it. */
function collectCandidates(explorations: readonly Exploration[]): Candidates {
  const bestFor = new Map<string, Candidate>();
  const stateBest = new Map<string, Candidate>();
  const exploredStates = new Set<string>();
  const exploredTransitions = new Set<string>();
  const emits = new Map<string, Set<string>>();
  let order = 0;
  let vertices = 0;
  let edgeCount = 0;
  const better = (a: Candidate, b: Candidate | undefined): boolean =>
    b === undefined || a.events.length < b.events.length || (a.events.length === b.events.length && (a.seedIndex < b.seedIndex || (a.seedIndex === b.seedIndex && a.order < b.order)));
  explorations.forEach((exploration, seedIndex) => {
    vertices += exploration.reach.size;
    const startCandidate: Candidate = { seedIndex, events: [], traces: [], order: order++ };
    for (const id of exploration.startTrace.transitions) {
      exploredTransitions.add(id);
      if (better(startCandidate, bestFor.get(id))) bestFor.set(id, startCandidate);
    }
    for (const state of exploration.startTrace.states) {
      exploredStates.add(state);
      if (better(startCandidate, stateBest.get(state))) stateBest.set(state, startCandidate);
    }
    for (const [key, vertex] of exploration.reach) {
      for (const { event, trace } of exploration.edges.get(key)?.values() ?? []) {
        edgeCount += 1;
        const candidate: Candidate = { seedIndex, events: [...vertex.events, event], traces: [...vertex.traces, trace], order: order++ };
        for (const state of trace.states) {
          exploredStates.add(state);
          if (better(candidate, stateBest.get(state))) stateBest.set(state, candidate);
        }
        for (const id of trace.transitions) {
          exploredTransitions.add(id);
          if (better(candidate, bestFor.get(id))) bestFor.set(id, candidate);
          const topics = emits.get(id) ?? new Set<string>();
          trace.emitted.forEach((topic) => topics.add(topic));
          emits.set(id, topics);
        }
      }
    }
  });
  return { bestFor, stateBest, exploredStates, exploredTransitions, emits, vertices, edges: edgeCount };
}

/** Greedy selection in document order of the model, then drop prefixes. */
function selectCandidates(graph: MachineGraph, explorations: readonly Exploration[], candidates: Candidates): Candidate[] {
  const { bestFor, stateBest } = candidates;
  const chosen: Candidate[] = [];
  const covered = new Set<string>();
  const visited = new Set<string>();
  const take = (candidate: Candidate): void => {
    chosen.push(candidate);
    const exploration = explorations[candidate.seedIndex];
    if (exploration === undefined) return;
    exploration.startTrace.transitions.forEach((id) => covered.add(id));
    exploration.startTrace.states.forEach((id) => visited.add(id));
    for (const trace of candidate.traces) {
      trace.transitions.forEach((id) => covered.add(id));
      trace.states.forEach((id) => visited.add(id));
    }
  };
  for (const transition of graph.transitions) {
    const candidate = bestFor.get(transition.id);
    if (candidate !== undefined && !covered.has(transition.id)) take(candidate);
  }
  for (const state of graph.states) {
    const candidate = stateBest.get(state.id);
    if (candidate !== undefined && !visited.has(state.id)) take(candidate);
  }
  const keyed = chosen.map((candidate) => ({ candidate, keys: candidate.events.map(serializeEvent) }));
  const kept = keyed.filter(
    (entry, index) =>
      !keyed.some(
        (other, otherIndex) =>
          other.candidate.seedIndex === entry.candidate.seedIndex &&
          otherIndex !== index &&
          isPrefix(entry.keys, other.keys) &&
          (entry.keys.length < other.keys.length || otherIndex < index),
      ),
  );
  return kept.map(({ candidate }) => candidate);
}

/**
 * Each kept path is executed again from its seed, so every expected value and transition
 * is what the machine really does on that path (not what a same-keyed vertex did).
 */
function runPaths(
  subject: PathSubject,
  graph: MachineGraph,
  explorations: readonly Exploration[],
  kept: readonly Candidate[],
): { paths: GeneratedPath[]; states: Set<string>; transitions: Set<string> } {
  const counters = new Map<string, number>();
  const pathStates = new Set<string>();
  const pathTransitions = new Set<string>();
  const paths: GeneratedPath[] = kept.map((candidate) => {
    const exploration = explorations[candidate.seedIndex];
    if (exploration === undefined) throw new Error('unreachable: candidate without exploration');
    const n = counters.get(exploration.seed.name) ?? 0;
    counters.set(exploration.seed.name, n + 1);
    const id = `${graph.id}/${exploration.seed.name}/${n}`;
    const steps = executePath(subject.machine, exploration.seed, candidate.events, id);
    exploration.startTrace.transitions.forEach((transition) => pathTransitions.add(transition));
    exploration.startTrace.states.forEach((state) => pathStates.add(state));
    for (const step of steps) {
      step.transitions.forEach((transition) => pathTransitions.add(transition));
      step.states.forEach((state) => pathStates.add(state));
    }
    return {
      id,
      seed: exploration.seed.name,
      start: exploration.start.value as StateValue,
      steps: steps.map(({ event, value, transitions }) => ({ event, value, transitions })),
    };
  });
  return { paths, states: pathStates, transitions: pathTransitions };
}

/**
 * Plans transition-coverage paths for `subject`: for every transition of the graph model
 * the shortest explored path that takes it (paths that are prefixes of others dropped),
 * plus a path to every state no such path visits. Deterministic for a deterministic subject.
 */
export function planPaths(subject: PathSubject, options: PlanOptions = {}): PathPlan {
  const began = performance.now();
  const graph = machineGraph(subject.machine);
  if (subject.seeds.length === 0) throw new Error(`machine "${graph.id}": no seed to start from`);
  const explorations = subject.seeds.map((seed) => explore(subject, seed, 'shortest', options.onProgress));
  const candidates = collectCandidates(explorations);
  const kept = selectCandidates(graph, explorations, candidates);
  const { paths, states, transitions } = runPaths(subject, graph, explorations, kept);

  return {
    machine: graph.id,
    paths,
    explored: coverageOf(graph, candidates.exploredStates, candidates.exploredTransitions),
    coverage: coverageOf(graph, states, transitions),
    stats: {
      vertices: candidates.vertices,
      edges: candidates.edges,
      steps: paths.reduce((sum, path) => sum + path.steps.length, 0),
      ms: Math.round(performance.now() - began),
    },
    emits: Object.fromEntries([...candidates.emits].map(([id, topics]) => [id, [...topics].sort()])),
  };
}
