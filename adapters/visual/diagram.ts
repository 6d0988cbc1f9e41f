/**
 * What a diagram draws, derived from the graph model so every renderer draws the same
 * thing: targetless transitions listed inside their state (UML internal transitions),
 * transitions between two states drawn as one edge per pair, and transitions that every
 * non-final top-level state declares identically drawn once from "any state".
 */
import type { GraphState, GraphTransition, MachineGraph } from './graph.js';

/** One drawn edge: every transition from `source` to `target` (the root's id stands for "any state"). */
export interface DiagramEdge {
  readonly source: string;
  readonly target: string;
  readonly transitions: readonly GraphTransition[];
}

/** The drawing plan of a machine. */
export interface DiagramModel {
  readonly graph: MachineGraph;
  /** True when the "any state" node is drawn (machine-level or folded transitions exist). */
  readonly hasAnyState: boolean;
  /** Targetless transitions shown inside a state, by state id (the root's id: inside "any state"). */
  readonly internal: ReadonlyMap<string, readonly GraphTransition[]>;
  readonly edges: readonly DiagramEdge[];
  /** Ids of transitions drawn once from "any state" on behalf of every top-level state, by the drawn representative's id. */
  readonly folded: ReadonlyMap<string, readonly string[]>;
}

/** Options of {@link diagramModel}. */
export interface DiagramOptions {
  /** Draw transitions shared by every non-final top-level state once, from "any state" (default true). */
  readonly foldShared?: boolean;
}

function signature(transition: GraphTransition): string {
  return JSON.stringify([transition.kind, transition.eventType, transition.index, transition.guard, transition.actions, transition.targets, transition.reenter]);
}

/** Builds the drawing plan of a graph (deterministic; document order kept). */
export function diagramModel(graph: MachineGraph, options: DiagramOptions = {}): DiagramModel {
  const rootId = graph.root.id;
  const topLevel: GraphState[] = graph.states.filter((state) => state.parent === rootId && state.type !== 'final');
  const folded = new Map<string, string[]>();
  const drawnAs = new Map<string, GraphTransition>();
  if ((options.foldShared ?? true) && topLevel.length >= 2) {
    const sources = new Set(topLevel.map((state) => state.id));
    const groups = new Map<string, GraphTransition[]>();
    for (const transition of graph.transitions) {
      if (!sources.has(transition.source)) continue;
      const key = signature(transition);
      groups.set(key, [...(groups.get(key) ?? []), transition]);
    }
    for (const group of groups.values()) {
      const [first] = group;
      if (first === undefined || new Set(group.map((transition) => transition.source)).size !== topLevel.length) continue;
      const representative: GraphTransition = { ...first, source: rootId };
      folded.set(first.id, group.map((transition) => transition.id));
      for (const transition of group) drawnAs.set(transition.id, representative);
    }
  }

  const internal = new Map<string, GraphTransition[]>();
  const edges = new Map<string, { source: string; target: string; transitions: GraphTransition[] }>();
  const drawn = new Set<string>();
  for (const original of graph.transitions) {
    const transition = drawnAs.get(original.id) ?? original;
    const key = `${transition.id}`;
    if (drawnAs.has(original.id)) {
      if (drawn.has(key)) continue;
      drawn.add(key);
    }
    if (transition.targets.length === 0) {
      internal.set(transition.source, [...(internal.get(transition.source) ?? []), transition]);
      continue;
    }
    for (const target of transition.targets) {
      const edgeKey = `${transition.source}\u0000${target}`;
      const edge = edges.get(edgeKey) ?? { source: transition.source, target, transitions: [] };
      edge.transitions.push(transition);
      edges.set(edgeKey, edge);
    }
  }
  const hasAnyState = internal.has(rootId) || [...edges.values()].some((edge) => edge.source === rootId);
  return { graph, hasAnyState, internal, edges: [...edges.values()], folded };
}
