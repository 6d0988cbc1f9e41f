/**
 * Exploration of one seed with @xstate/graph: the sample events a snapshot accepts are stepped
 * through the tracer, every explored (vertex, event) is kept with its trace, and a shortest (or,
 * for counting, simple) path to every vertex is found.
 */
import { getShortestPaths, getSimplePaths, type StatePath } from '@xstate/graph';
import type { ActorLogic, AnyMachineSnapshot, EventObject } from 'xstate';
import { serializeEvent, serializeValue, Tracer, type Trace } from './tracer.js';
import type { PathSeed, PathSubject, PlanOptions } from './types.js';

/** One explored seed: a shortest path to every vertex and every traced (vertex, event). */
export interface Exploration {
  readonly seed: PathSeed;
  readonly start: AnyMachineSnapshot;
  readonly startTrace: Trace;
  /** Vertex key -> events of its shortest path and the snapshots after each. */
  readonly reach: Map<string, { events: EventObject[]; traces: Trace[]; snapshot: AnyMachineSnapshot }>;
  /** Vertex key -> event key -> trace, in discovery order. */
  readonly edges: Map<string, Map<string, { event: EventObject; trace: Trace }>>;
}

/** Vertex -> its traced edges: event key -> the event and its trace, in discovery order. */
type Edges = Map<string, Map<string, { event: EventObject; trace: Trace }>>;

/**
 * The first path found to each vertex, with the traces of its steps read back from `edges` (every
 * step of a found path was explored, so each has a trace).
 */
function reachOf(
  subject: PathSubject,
  found: ReadonlyArray<StatePath<AnyMachineSnapshot, EventObject>>,
  start: AnyMachineSnapshot,
  edges: Edges,
  serialize: (snapshot: AnyMachineSnapshot) => string,
): Exploration['reach'] {
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
  return reach;
}

/** Explores `seed` of `subject` (see the module comment). */
export function explore(
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
  const edges: Edges = new Map();
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
  const reach = reachOf(subject, found, start, edges, serialize);
  return { seed, start, startTrace, reach, edges, ...(generator === 'simple' ? { simplePaths: found.length } : {}) };
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
