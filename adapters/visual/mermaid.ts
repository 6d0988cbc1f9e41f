/**
 * Mermaid `stateDiagram-v2` of a machine: compound states as composite states, final
 * states `--> [*]`, transitions as edges labelled `EVENT [guard] / actions`. Targetless
 * transitions are listed inside their state; machine-level transitions, and transitions
 * every non-final top-level state shares, start from a pseudo-state "any non-final state"
 * (see diagram.ts).
 */
import type { AnyStateMachine } from 'xstate';
import { diagramModel, type DiagramEdge, type DiagramOptions } from './diagram.js';
import { machineGraph, transitionLabel, type GraphState, type GraphTransition, type MachineGraph } from './graph.js';

const MERMAID_KEYWORDS = new Set(['state', 'note', 'direction', 'class', 'classDef', 'end', 'as', 'style', 'click']);

/**
 * Text safe inside a Mermaid state description or edge label: `#`, `:` and `;` end a label
 * in Mermaid's grammar, so they are written as entity codes (`#35;`, `#58;`, `#59;`).
 */
export function mermaidText(text: string): string {
  const codes: Readonly<Record<string, string>> = { '#': '#35;', ':': '#58;', ';': '#59;', '\n': ' ' };
  return text.replace(/[#:;\n]/g, (character) => codes[character] ?? character);
}

/** Mermaid ids of every state (path joined by `__`, sanitised, never a keyword, unique). */
export function mermaidIds(graph: MachineGraph): Map<string, string> {
  const ids = new Map<string, string>();
  const used = new Set<string>();
  for (const state of graph.states) {
    let id = state.path.join('__').replace(/[^A-Za-z0-9_]/g, '_');
    if (MERMAID_KEYWORDS.has(id) || /^[0-9]/.test(id)) id = `s_${id}`;
    while (used.has(id)) id = `${id}_`;
    used.add(id);
    ids.set(state.id, id);
  }
  return ids;
}

/** The label of a transition as Mermaid shows it (escaped). */
export function mermaidLabel(transition: GraphTransition): string {
  return mermaidText(transitionLabel(transition));
}

/** What every part of one Mermaid rendering needs. */
interface MermaidScene {
  readonly model: ReturnType<typeof diagramModel>;
  readonly byId: ReadonlyMap<string, GraphState>;
  readonly children: ReadonlyMap<string, readonly GraphState[]>;
  readonly idOf: (stateId: string) => string;
  /** Edges by the composite state whose block draws them. */
  readonly edgesIn: ReadonlyMap<string, readonly DiagramEdge[]>;
}

/**
 * Each edge goes in the block of the lowest composite state holding both its ends (machine-level
 * ones in the root's); internal transitions of a composite state are drawn there as self-loops (a
 * composite has no description lines).
 */
function placeEdges(graph: MachineGraph, model: ReturnType<typeof diagramModel>, byId: ReadonlyMap<string, GraphState>): Map<string, DiagramEdge[]> {
  const rootId = graph.root.id;
  const ancestors = (stateId: string): string[] => {
    const chain: string[] = [];
    for (let current = byId.get(stateId); current !== undefined; current = byId.get(current.parent)) chain.push(current.parent);
    return chain;
  };
  const edgesIn = new Map<string, DiagramEdge[]>();
  const place = (block: string, edge: DiagramEdge): void => {
    edgesIn.set(block, [...(edgesIn.get(block) ?? []), edge]);
  };
  for (const edge of model.edges) {
    if (edge.source === rootId) {
      place(rootId, edge);
      continue;
    }
    const ends = [edge.source, edge.target];
    const common = ancestors(edge.source).filter((candidate) => ends.every((end) => end === candidate || ancestors(end).includes(candidate)));
    place(common.find((candidate) => !ends.includes(candidate)) ?? rootId, edge);
  }
  for (const [stateId, transitions] of model.internal) {
    const state = byId.get(stateId);
    if (state !== undefined && (state.type === 'compound' || state.type === 'parallel')) {
      place(state.parent, { source: stateId, target: stateId, transitions });
    }
  }
  return edgesIn;
}

/** The block of `parentId`: its initial arrow, its children (composites as nested blocks), then its edges. */
function blockLines(scene: MermaidScene, parentId: string, initial: string | null, indent: string, lines: string[]): void {
  const { model, idOf } = scene;
  const parallel = scene.byId.get(parentId)?.type === 'parallel';
  if (initial !== null) lines.push(`${indent}[*] --> ${idOf(initial)}`);
  // History states first, so a parallel state's history stays in its first region instead of making one.
  const children = scene.children.get(parentId) ?? [];
  const ordered = [...children.filter((state) => state.type === 'history'), ...children.filter((state) => state.type !== 'history')];
  let regions = 0;
  ordered.forEach((state) => {
    const id = idOf(state.id);
    if (parallel && state.type !== 'history' && regions++ > 0) lines.push(`${indent}--`);
    if (state.type === 'history') {
      lines.push(`${indent}state "${state.history === 'deep' ? 'H*' : 'H'}" as ${id}`);
    } else if (state.type === 'compound' || state.type === 'parallel') {
      lines.push(`${indent}state ${id} {`);
      blockLines(scene, state.id, state.initial, `${indent}  `, lines);
      lines.push(`${indent}}`);
    } else {
      lines.push(state.path.length > 1 ? `${indent}state "${mermaidText(state.key)}" as ${id}` : `${indent}${id}`);
      if (state.description !== null) lines.push(`${indent}${id} : ${mermaidText(state.description)}`);
      for (const transition of model.internal.get(state.id) ?? []) lines.push(`${indent}${id} : ${mermaidLabel(transition)}`);
    }
    if (state.type === 'final') lines.push(`${indent}${id} --> [*]`);
  });
  for (const edge of scene.edgesIn.get(parentId) ?? []) {
    for (const transition of edge.transitions) lines.push(`${indent}${idOf(edge.source)} --> ${idOf(edge.target)} : ${mermaidLabel(transition)}`);
  }
}

/** Renders `machine` as Mermaid `stateDiagram-v2` text (deterministic). */
export function toMermaid(machine: AnyStateMachine, options: DiagramOptions = {}): string {
  const graph = machineGraph(machine);
  const model = diagramModel(graph, options);
  const ids = mermaidIds(graph);
  let anyId = 'any_state';
  while ([...ids.values()].includes(anyId)) anyId = `${anyId}_`;
  const rootId = graph.root.id;
  const byId = new Map(graph.states.map((state) => [state.id, state]));
  const children = new Map<string, GraphState[]>();
  for (const state of graph.states) children.set(state.parent, [...(children.get(state.parent) ?? []), state]);
  const scene: MermaidScene = { model, byId, children, idOf: (stateId) => ids.get(stateId) ?? anyId, edgesIn: placeEdges(graph, model, byId) };
  const lines: string[] = ['stateDiagram-v2'];
  if (model.hasAnyState) {
    lines.push(`  state "any non-final state" as ${anyId}`);
    for (const transition of model.internal.get(rootId) ?? []) lines.push(`  ${anyId} : ${mermaidLabel(transition)}`);
  }
  blockLines(scene, rootId, graph.root.initial, '  ', lines);
  return `${lines.join('\n')}\n`;
}
