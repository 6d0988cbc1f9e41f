/**
 * Exploration of one seed with @xstate/graph: the sample events a snapshot accepts are stepped
 * through the tracer, every explored (vertex, event) is kept with its trace, and a shortest (or
 * simple) path to every vertex is found.
 *
 * Two kinds of vertex: the subject's key (`serializeState`, default the state value), or, when a
 * key proves coarser than the guards need, distinct snapshots (state value, context and history),
 * at most `perKey` of them under each subject key, so a merge can never hide a reachable state.
 */
import { getShortestPaths, getSimplePaths, type StatePath } from '@xstate/graph';
import type { ActorLogic, AnyMachineSnapshot, EventObject } from 'xstate';
import { rememberedHistory, serializeValue, withHistory } from './history.js';
import { serializeEvent, Tracer, type Trace } from './tracer.js';
import type { PathSeed, PathSubject, PlanOptions } from './types.js';

/** One vertex reached: the events of its path from the seed, the traces of its steps and its snapshot. */
export interface Reached {
  readonly events: EventObject[];
  readonly traces: Trace[];
  readonly snapshot: AnyMachineSnapshot;
}

/** One explored seed: a path to every vertex and every traced (vertex, event). */
export interface Exploration {
  readonly seed: PathSeed;
  readonly start: AnyMachineSnapshot;
  readonly startTrace: Trace;
  /** Vertex key -> the first path found to it. */
  readonly reach: Map<string, Reached>;
  /** Every path found (one per vertex for shortest paths; all simple paths for `simple`). */
  readonly found: readonly Reached[];
  /** Vertex key -> event key -> trace, in discovery order. */
  readonly edges: Map<string, Map<string, { event: EventObject; trace: Trace }>>;
  /** The vertex key function used. */
  readonly keyOf: (snapshot: AnyMachineSnapshot) => string;
}

/** Options of {@link explore}. */
export interface ExploreOptions {
  readonly generator?: 'shortest' | 'simple';
  readonly onProgress?: PlanOptions['onProgress'];
  /** Vertices are distinct snapshots, at most `perKey` expanded under one subject key and `total` in all. */
  readonly distinct?: { readonly perKey: number; readonly total: number };
  /** Only paths to snapshots it accepts are returned (`toState` of @xstate/graph). */
  readonly toState?: (snapshot: AnyMachineSnapshot) => boolean;
  /** Snapshots it accepts are not explored further (`stopWhen` of @xstate/graph). */
  readonly stopWhen?: (snapshot: AnyMachineSnapshot) => boolean;
}

/** Vertex -> its traced edges: event key -> the event and its trace, in discovery order. */
type Edges = Map<string, Map<string, { event: EventObject; trace: Trace }>>;

/** The subject's vertex key: its `serializeState` (or the state value), always with what history remembers. */
export function subjectKey(subject: PathSubject): (snapshot: AnyMachineSnapshot) => string {
  const custom = subject.serializeState;
  return custom === undefined ? serializeValue : (snapshot) => withHistory(custom(snapshot), snapshot);
}

/** A key telling apart snapshots with a different value, context, history or status. */
export function distinctKey(snapshot: AnyMachineSnapshot): string {
  return JSON.stringify([snapshot.status, snapshot.value, snapshot.context, rememberedHistory(snapshot)]);
}

/** The traces of a found path's steps, read back from `edges` (every step of a found path was explored). */
function tracePath(subject: PathSubject, events: readonly EventObject[], start: AnyMachineSnapshot, edges: Edges, keyOf: (snapshot: AnyMachineSnapshot) => string): Trace[] {
  const traces: Trace[] = [];
  let previous: AnyMachineSnapshot = start;
  for (const event of events) {
    const trace: Trace | undefined = edges.get(keyOf(previous))?.get(serializeEvent(event))?.trace;
    if (trace === undefined) throw new Error(`machine "${subject.machine.id}": untraced step ${event.type}`);
    traces.push(trace);
    previous = trace.next;
  }
  return traces;
}

/** The stepping logic handed to @xstate/graph: every step traced once and remembered in `edges`. */
function tracedLogic(subject: PathSubject, seed: PathSeed, tracer: Tracer, start: AnyMachineSnapshot, edges: Edges, keyOf: (snapshot: AnyMachineSnapshot) => string, onProgress?: PlanOptions['onProgress']): ActorLogic<AnyMachineSnapshot, EventObject, unknown> & { explored: () => number } {
  let explored = 0;
  return {
    explored: () => explored,
    transition: (snapshot, event) => {
      const key = keyOf(snapshot);
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
}

/** The events explored from a snapshot: the samples it accepts, none once `perKey` snapshots of its subject key were expanded. */
function eventsOf(subject: PathSubject, options: ExploreOptions): (snapshot: AnyMachineSnapshot) => EventObject[] {
  const accepted = (snapshot: AnyMachineSnapshot): EventObject[] =>
    snapshot.status === 'active' ? subject.events(snapshot).filter((event) => snapshot.can(event)) : [];
  if (options.distinct === undefined) return accepted;
  const { perKey, total } = options.distinct;
  const coarse = subjectKey(subject);
  const expanded = new Map<string, number>();
  let all = 0;
  return (snapshot) => {
    const key = coarse(snapshot);
    const count = expanded.get(key) ?? 0;
    if (count >= perKey || all >= total) return [];
    expanded.set(key, count + 1);
    all += 1;
    return accepted(snapshot);
  };
}

/** Explores `seed` of `subject` (see the module comment). */
export function explore(subject: PathSubject, seed: PathSeed, options: ExploreOptions = {}): Exploration {
  const tracer = new Tracer(subject.machine, seed.input);
  const keyOf = options.distinct === undefined ? subjectKey(subject) : distinctKey;
  const startTrace = tracer.initial(seed.input);
  const start = startTrace.next;
  if (start.status === 'error') {
    throw new Error(`machine "${subject.machine.id}": seed "${seed.name}" fails to start: ${String(start.error)}`);
  }
  const edges: Edges = new Map();
  const logic = tracedLogic(subject, seed, tracer, start, edges, keyOf, options.onProgress);
  const traversal = {
    fromState: start,
    events: eventsOf(subject, options),
    serializeState: (snapshot: AnyMachineSnapshot) => keyOf(snapshot),
    serializeEvent,
    limit: subject.limit ?? 200_000,
    ...(options.toState === undefined ? {} : { toState: options.toState }),
    ...(options.stopWhen === undefined ? {} : { stopWhen: options.stopWhen }),
  };
  const paths: ReadonlyArray<StatePath<AnyMachineSnapshot, EventObject>> =
    options.generator === 'simple' ? getSimplePaths(logic, traversal) : getShortestPaths(logic, traversal);
  options.onProgress?.({ seed: seed.name, explored: logic.explored() });
  const found: Reached[] = paths.map((path) => {
    const events = path.steps.slice(1).map((step) => step.event);
    return { events, traces: tracePath(subject, events, start, edges, keyOf), snapshot: path.state };
  });
  const reach = new Map<string, Reached>();
  for (const path of found) if (!reach.has(keyOf(path.snapshot))) reach.set(keyOf(path.snapshot), path);
  return { seed, start, startTrace, reach, found, edges, keyOf };
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
  const paths = subject.seeds.reduce((sum, seed) => sum + explore(subject, seed, { generator: 'simple' }).found.length, 0);
  return { paths, ms: Math.round(performance.now() - began) };
}
