/**
 * Path generation for transition coverage. @xstate/graph explores the machine from each
 * seed with explicit sample events and a state serializer (the state value plus only the
 * context facts that change behaviour, so the graph stays small); every explored step is
 * traced to the transition definitions XState actually took (eventless ones included).
 * From that exploration we pick, for every transition of the graph model, the shortest
 * path that takes it, and report every state or transition no path reaches.
 */
import { getShortestPaths, getSimplePaths } from '@xstate/graph';
import {
  createActor,
  type ActorLogic,
  type ActorScope,
  type AnyMachineSnapshot,
  type AnyStateMachine,
  type AnyTransitionDefinition,
  type EventObject,
  type InspectionEvent,
  type StateValue,
} from 'xstate';
import { describeTransition, machineGraph, transitionIds, type MachineGraph } from './graph.js';

/** Where a traversal starts: a named machine input (the initial snapshot is computed from it). */
export interface PathSeed {
  /** Short name used in path ids and test titles (`guest`, `regular`, `default`). */
  readonly name: string;
  /** The machine input (undefined for machines without input). */
  readonly input?: unknown;
}

/** Everything the generator needs to explore one machine. */
export interface PathSubject {
  /** The machine explored. */
  readonly machine: AnyStateMachine;
  /** Starting points; every seed is explored and their coverage is merged. */
  readonly seeds: readonly PathSeed[];
  /**
   * The sample events offered in a snapshot (valid payloads). Only the ones the snapshot
   * accepts (`snapshot.can(event)`) are explored, so a path never contains a refused step.
   */
  readonly events: (snapshot: AnyMachineSnapshot) => readonly EventObject[];
  /**
   * The vertex key of a snapshot: two snapshots with equal keys are one vertex. Default:
   * the JSON of the state value. Put only the context facts that change behaviour in it.
   */
  readonly serializeState?: (snapshot: AnyMachineSnapshot) => string;
  /** Upper bound of explored steps per seed (default 200,000): a safety net, not a tuning knob. */
  readonly limit?: number;
}

/** One step of a path: the event sent and what it must lead to. */
export interface PathStep {
  readonly event: EventObject;
  /** The state value after the step. */
  readonly value: StateValue;
  /** Ids of the graph transitions the step takes (eventless follow-ups included). */
  readonly transitions: readonly string[];
}

/** A path from a seed's initial snapshot. */
export interface GeneratedPath {
  /** `<machine id>/<seed>/<n>`. */
  readonly id: string;
  readonly seed: string;
  /** The state value of the seed's initial snapshot. */
  readonly start: StateValue;
  readonly steps: readonly PathStep[];
}

/** States and transitions reached, against the graph model. */
export interface Coverage {
  readonly states: { readonly total: number; readonly reached: number; readonly missing: readonly string[] };
  readonly transitions: {
    readonly total: number;
    readonly taken: number;
    /** Human descriptions (`state: EVENT [guard] -> target`) of the transitions never taken. */
    readonly missing: readonly string[];
    /** Ids of the transitions never taken. */
    readonly missingIds: readonly string[];
  };
}

/** The result of planning paths for one machine. */
export interface PathPlan {
  readonly machine: string;
  readonly paths: readonly GeneratedPath[];
  /** Coverage of the explored graph (what any path could reach). */
  readonly explored: Coverage;
  /**
   * Coverage of the selected paths, from running them again. Equal to `explored` unless the
   * serializer merges snapshots that behave differently.
   */
  readonly coverage: Coverage;
  readonly stats: {
    /** Vertices (distinct serialized states) over all seeds. */
    readonly vertices: number;
    /** Explored (vertex, event) pairs over all seeds. */
    readonly edges: number;
    /** Steps over all selected paths. */
    readonly steps: number;
    readonly ms: number;
  };
  /** Topics emitted by the macrosteps that took each transition (by transition id), as observed while exploring. */
  readonly emits: Readonly<Record<string, readonly string[]>>;
}

/** Options of {@link planPaths}. */
export interface PlanOptions {
  /** Called every 1,000 explored steps (and once per seed at the end) with the running count. */
  readonly onProgress?: (progress: { readonly seed: string; readonly explored: number }) => void;
}

/** What one traced step did. */
interface Trace {
  readonly next: AnyMachineSnapshot;
  readonly transitions: readonly string[];
  /** Every state active at the end of any microstep (transient states included). */
  readonly states: readonly string[];
  readonly emitted: readonly string[];
}

/** Steps `machine` with an inert actor scope that records the transitions and emits of each macrostep. */
class Tracer {
  private sink: AnyTransitionDefinition[][] = [];
  private visited = new Set<string>();
  private emitted: string[] = [];
  private readonly scope: ActorScope<AnyMachineSnapshot, EventObject>;
  private readonly ids: Map<AnyTransitionDefinition, string>;

  constructor(private readonly machine: AnyStateMachine, input: unknown) {
    this.ids = transitionIds(machine);
    const self = createActor(machine, { input });
    self.system.inspect((event: InspectionEvent) => {
      if (event.type !== '@xstate.microstep') return;
      this.sink.push(event._transitions);
      for (const id of activeStates(event.snapshot as AnyMachineSnapshot, machine.root.id)) this.visited.add(id);
    });
    this.scope = {
      self,
      id: '',
      sessionId: '',
      logger: () => undefined,
      defer: () => undefined,
      emit: () => undefined,
      system: self.system,
      stopChild: () => undefined,
      actionExecutor: (action) => {
        if (action.type !== 'xstate.emit') return;
        const event = (action.params as { event?: { type?: unknown } } | undefined)?.event;
        if (typeof event?.type === 'string') this.emitted.push(event.type);
      },
    };
  }

  private collect(next: AnyMachineSnapshot): Trace {
    const transitions = this.sink.flat().map((transition) => this.ids.get(transition) ?? `${transition.source.id}:${String(transition.eventType)}:?`);
    for (const id of activeStates(next, this.machine.root.id)) this.visited.add(id);
    const trace = { next, transitions, states: [...this.visited], emitted: this.emitted };
    this.reset();
    return trace;
  }

  private reset(): void {
    this.sink = [];
    this.visited = new Set();
    this.emitted = [];
  }

  initial(input: unknown): Trace {
    this.reset();
    return this.collect(this.machine.getInitialSnapshot(this.scope, input) as AnyMachineSnapshot);
  }

  step(snapshot: AnyMachineSnapshot, event: EventObject): Trace {
    this.reset();
    return this.collect(this.machine.transition(snapshot, event, this.scope) as AnyMachineSnapshot);
  }
}

const serializeEvent = (event: EventObject): string => JSON.stringify(event);
const serializeValue = (snapshot: AnyMachineSnapshot): string => JSON.stringify(snapshot.value);

/** The state node ids active in a snapshot (root excluded). */
function activeStates(snapshot: AnyMachineSnapshot, rootId: string): string[] {
  return snapshot._nodes.map((node) => node.id).filter((id) => id !== rootId);
}

/** One explored seed: a shortest path to every vertex and every traced (vertex, event). */
interface Exploration {
  readonly seed: PathSeed;
  readonly start: AnyMachineSnapshot;
  readonly startTrace: Trace;
  /** Vertex key -> events of its shortest path and the snapshots after each. */
  readonly reach: Map<string, { events: EventObject[]; traces: Trace[]; snapshot: AnyMachineSnapshot }>;
  /** Vertex key -> event key -> trace, in discovery order. */
  readonly edges: Map<string, Map<string, { event: EventObject; trace: Trace }>>;
}

function explore(
  subject: PathSubject,
  seed: PathSeed,
  generator: 'shortest' | 'simple' = 'shortest',
  onProgress?: PlanOptions['onProgress'],
): Exploration & { simplePaths?: number } {
  const tracer = new Tracer(subject.machine, seed.input);
  const serialize = subject.serializeState ?? serializeValue;
  const startTrace = tracer.initial(seed.input);
  const start = startTrace.next;
  if (start.status === 'error') {
    throw new Error(`machine "${subject.machine.id}": seed "${seed.name}" fails to start: ${String(start.error)}`);
  }
  const edges = new Map<string, Map<string, { event: EventObject; trace: Trace }>>();
  let explored = 0;
  const logic: ActorLogic<AnyMachineSnapshot, EventObject, unknown> = {
    transition: (snapshot, event) => {
      const key = serialize(snapshot);
      const eventKey = serializeEvent(event);
      let out = edges.get(key);
      if (out === undefined) {
        out = new Map();
        edges.set(key, out);
      }
      const known = out.get(eventKey);
      if (known !== undefined) return known.trace.next;
      const trace = tracer.step(snapshot, event);
      explored += 1;
      if (onProgress !== undefined && explored % 1000 === 0) onProgress({ seed: seed.name, explored });
      if (trace.next.status === 'error') {
        throw new Error(`machine "${subject.machine.id}": ${event.type} in ${JSON.stringify(snapshot.value)} failed: ${String(trace.next.error)}`);
      }
      out.set(eventKey, { event, trace });
      return trace.next;
    },
    getInitialSnapshot: () => start,
    getPersistedSnapshot: (snapshot) => snapshot,
  };
  const options = {
    fromState: start,
    events: (snapshot: AnyMachineSnapshot) => (snapshot.status === 'active' ? subject.events(snapshot).filter((event) => snapshot.can(event)) : []),
    serializeState: (snapshot: AnyMachineSnapshot) => serialize(snapshot),
    serializeEvent,
    limit: subject.limit ?? 200_000,
  };
  const found = generator === 'simple' ? getSimplePaths(logic, options) : getShortestPaths(logic, options);
  onProgress?.({ seed: seed.name, explored });
  const reach = new Map<string, { events: EventObject[]; traces: Trace[]; snapshot: AnyMachineSnapshot }>();
  for (const path of found) {
    const key = serialize(path.state);
    if (reach.has(key)) continue;
    const events = path.steps.slice(1).map((step) => step.event);
    const traces: Trace[] = [];
    let previous: AnyMachineSnapshot = start;
    for (const event of events) {
      const trace: Trace | undefined = edges.get(serialize(previous))?.get(serializeEvent(event))?.trace;
      if (trace === undefined) throw new Error(`machine "${subject.machine.id}": untraced step ${event.type}`);
      traces.push(trace);
      previous = trace.next;
    }
    reach.set(key, { events, traces, snapshot: path.state });
  }
  return { seed, start, startTrace, reach, edges, ...(generator === 'simple' ? { simplePaths: found.length } : {}) };
}

interface Candidate {
  readonly seedIndex: number;
  readonly events: readonly EventObject[];
  readonly traces: readonly Trace[];
  readonly order: number;
}

function coverageOf(graph: MachineGraph, states: ReadonlySet<string>, transitions: ReadonlySet<string>): Coverage {
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

  // Every candidate path: a shortest path to a vertex plus one explored event from it.
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

  // Greedy selection in document order of the model, then drop prefixes.
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

  // Each kept path is executed again from its seed, so every expected value and transition
  // is what the machine really does on that path (not what a same-keyed vertex did).
  const counters = new Map<string, number>();
  const pathStates = new Set<string>();
  const pathTransitions = new Set<string>();
  const paths: GeneratedPath[] = kept.map(({ candidate }) => {
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

  return {
    machine: graph.id,
    paths,
    explored: coverageOf(graph, exploredStates, exploredTransitions),
    coverage: coverageOf(graph, pathStates, pathTransitions),
    stats: {
      vertices,
      edges: edgeCount,
      steps: paths.reduce((sum, path) => sum + path.steps.length, 0),
      ms: Math.round(performance.now() - began),
    },
    emits: Object.fromEntries([...emits].map(([id, topics]) => [id, [...topics].sort()])),
  };
}

/**
 * Counts all simple paths (@xstate/graph `getSimplePaths`) from every seed, when the
 * explored graph has at most `maxVertices` vertices; otherwise answers null (simple paths
 * grow exponentially: transition coverage is what the generated tests use).
 */
export function countSimplePaths(subject: PathSubject, maxVertices = 16): { paths: number; ms: number } | null {
  const began = performance.now();
  const vertices = subject.seeds.reduce((sum, seed) => sum + explore(subject, seed).reach.size, 0);
  if (vertices > maxVertices) return null;
  const paths = subject.seeds.reduce((sum, seed) => sum + (explore(subject, seed, 'simple').simplePaths ?? 0), 0);
  return { paths, ms: Math.round(performance.now() - began) };
}

/** True when a plan reaches every state and every transition of the model. */
export function isComplete(coverage: Coverage): boolean {
  return coverage.states.missing.length === 0 && coverage.transitions.missingIds.length === 0;
}
