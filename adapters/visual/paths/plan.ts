/**
 * Planning transition-coverage paths from the explorations of every seed: the best candidate path
 * for every transition, state and history restore, a greedy selection in the model's document order
 * without paths that are prefixes of others, and a second run of each selected path through the
 * real machine. When the subject's key leaves something unreached, the seeds are explored again
 * with distinct snapshots (see explore.ts) and the plan says which context facts the key lacked.
 */
import type { EventObject } from 'xstate';
import { machineGraph, type MachineGraph } from '../graph.js';
import { coverageOf, isComplete, type Reached } from './coverage.js';
import { explore, type Exploration } from './explore.js';
import { possibleRestores } from './history.js';
import { mergeHints } from './hints.js';
import { runPath } from './run.js';
import { serializeEvent, type Trace } from './tracer.js';
import type { PathPlan, PathSubject, PlanOptions } from './types.js';

interface Candidate {
  readonly seedIndex: number;
  readonly events: readonly EventObject[];
  readonly traces: readonly Trace[];
  readonly order: number;
}

/** The best candidate per coverage item (transition, state or restore) over all seeds, and what the exploration reached. */
export interface Candidates {
  readonly best: ReadonlyMap<string, Candidate>;
  readonly reached: Reached;
  /** Transition id -> topics emitted by the macrosteps that took it. */
  readonly emits: ReadonlyMap<string, ReadonlySet<string>>;
  readonly vertices: number;
  readonly edges: number;
}

function isPrefix(shorter: readonly string[], longer: readonly string[]): boolean {
  return shorter.length <= longer.length && shorter.every((item, index) => item === longer[index]);
}

/** Coverage items of a trace: `t:<transition>`, `s:<state>`, `h:<restore>`. */
function itemsOf(trace: Trace): string[] {
  return [...trace.transitions.map((id) => `t:${id}`), ...trace.states.map((id) => `s:${id}`), ...trace.restores.map((id) => `h:${id}`)];
}

const better = (a: Candidate, b: Candidate | undefined): boolean =>
  b === undefined || a.events.length < b.events.length || (a.events.length === b.events.length && (a.seedIndex < b.seedIndex || (a.seedIndex === b.seedIndex && a.order < b.order)));

/** Every candidate path: a path to a vertex plus one explored event from it. */
export function collectCandidates(explorations: readonly Exploration[]): Candidates {
  const best = new Map<string, Candidate>();
  const reached = { states: new Set<string>(), transitions: new Set<string>(), restores: new Set<string>() };
  const emits = new Map<string, Set<string>>();
  let order = 0;
  let vertices = 0;
  let edgeCount = 0;
  const see = (candidate: Candidate, trace: Trace): void => {
    trace.states.forEach((id) => reached.states.add(id));
    trace.transitions.forEach((id) => reached.transitions.add(id));
    trace.restores.forEach((id) => reached.restores.add(id));
    for (const item of itemsOf(trace)) if (better(candidate, best.get(item))) best.set(item, candidate);
  };
  explorations.forEach((exploration, seedIndex) => {
    vertices += exploration.reach.size;
    see({ seedIndex, events: [], traces: [], order: order++ }, exploration.startTrace);
    for (const [key, vertex] of exploration.reach) {
      for (const { event, trace } of exploration.edges.get(key)?.values() ?? []) {
        edgeCount += 1;
        see({ seedIndex, events: [...vertex.events, event], traces: [...vertex.traces, trace], order: order++ }, trace);
        for (const id of trace.transitions) {
          const topics = emits.get(id) ?? new Set<string>();
          trace.emitted.forEach((topic) => topics.add(topic));
          emits.set(id, topics);
        }
      }
    }
  });
  return { best, reached, emits, vertices, edges: edgeCount };
}

/** Greedy selection in document order of the model (transitions, then states, then history restores), then drop prefixes. */
function selectCandidates(subject: PathSubject, graph: MachineGraph, explorations: readonly Exploration[], candidates: Candidates): Candidate[] {
  const chosen: Candidate[] = [];
  const covered = new Set<string>();
  const take = (candidate: Candidate): void => {
    chosen.push(candidate);
    const exploration = explorations[candidate.seedIndex];
    if (exploration !== undefined) itemsOf(exploration.startTrace).forEach((item) => covered.add(item));
    for (const trace of candidate.traces) itemsOf(trace).forEach((item) => covered.add(item));
  };
  const items = [
    ...graph.transitions.map((transition) => `t:${transition.id}`),
    ...graph.states.map((state) => `s:${state.id}`),
    ...possibleRestores(subject.machine).map((restore) => `h:${restore}`),
  ];
  for (const item of items) {
    const candidate = candidates.best.get(item);
    if (candidate !== undefined && !covered.has(item)) take(candidate);
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

/** Each kept path is run again from its seed (see run.ts); paths are numbered per seed. */
function runPaths(subject: PathSubject, graph: MachineGraph, explorations: readonly Exploration[], kept: readonly Candidate[], options: PlanOptions): { paths: PathPlan['paths']; reached: Reached } {
  const counters = new Map<string, number>();
  const reached = { states: new Set<string>(), transitions: new Set<string>(), restores: new Set<string>() };
  const paths = kept.map((candidate) => {
    const exploration = explorations[candidate.seedIndex];
    if (exploration === undefined) throw new Error('unreachable: candidate without exploration');
    const n = counters.get(exploration.seed.name) ?? 0;
    counters.set(exploration.seed.name, n + 1);
    const run = runPath(subject.machine, exploration.seed, candidate.events, `${graph.id}/${exploration.seed.name}/${n}`, options.record);
    run.states.forEach((state) => reached.states.add(state));
    run.transitions.forEach((transition) => reached.transitions.add(transition));
    run.restores.forEach((restore) => reached.restores.add(restore));
    return run.path;
  });
  return { paths, reached };
}

/** At most this many distinct snapshots are expanded per seed by the second exploration (a bound on its time). */
export const DISTINCT_SNAPSHOTS_PER_SEED = 1000;

/** The explorations of every seed: by the subject's key, then (when that leaves something unreached) by distinct snapshots. */
function exploreAll(subject: PathSubject, graph: MachineGraph, options: PlanOptions): { explorations: Exploration[]; candidates: Candidates; hints: string[] } {
  const coarse = subject.seeds.map((seed) => explore(subject, seed, options.onProgress === undefined ? {} : { onProgress: options.onProgress }));
  const first = collectCandidates(coarse);
  const perKey = subject.snapshotsPerKey ?? 64;
  if (perKey <= 0 || isComplete(coverageOf(subject.machine, graph, first.reached))) return { explorations: coarse, candidates: first, hints: [] };
  const fine = subject.seeds.map((seed) => explore(subject, seed, { distinct: { perKey, total: DISTINCT_SNAPSHOTS_PER_SEED }, ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }) }));
  const explorations = [...coarse, ...fine];
  const candidates = collectCandidates(explorations);
  return { explorations, candidates, hints: mergeHints(subject, graph, { coarse, fine, before: first.reached, after: candidates.reached, perKey, total: DISTINCT_SNAPSHOTS_PER_SEED }) };
}

/**
 * Plans transition-coverage paths for `subject`: for every transition of the graph model
 * the shortest explored path that takes it (paths that are prefixes of others dropped),
 * plus a path to every state and history restore no such path visits. Deterministic for a
 * deterministic subject.
 */
export function planPaths(subject: PathSubject, options: PlanOptions = {}): PathPlan {
  const began = performance.now();
  const graph = machineGraph(subject.machine);
  if (subject.seeds.length === 0) throw new Error(`machine "${graph.id}": no seed to start from`);
  const { explorations, candidates, hints } = exploreAll(subject, graph, options);
  const kept = selectCandidates(subject, graph, explorations, candidates);
  const { paths, reached } = runPaths(subject, graph, explorations, kept, options);
  return {
    machine: graph.id,
    paths,
    explored: coverageOf(subject.machine, graph, candidates.reached),
    coverage: coverageOf(subject.machine, graph, reached),
    stats: {
      vertices: candidates.vertices,
      edges: candidates.edges,
      steps: paths.reduce((sum, path) => sum + path.steps.length, 0),
      ms: Math.round(performance.now() - began),
    },
    emits: Object.fromEntries([...candidates.emits].map(([id, topics]) => [id, [...topics].sort()])),
    hints,
  };
}
