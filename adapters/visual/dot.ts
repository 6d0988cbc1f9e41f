/**
 * Graphviz DOT of a machine: states as rounded boxes listing their targetless (internal)
 * transitions, final states as double circles, compound states as clusters (the regions of
 * a parallel state dashed), one edge per
 * pair of states labelled with each transition's event, guard and actions. Machine-level
 * transitions, and transitions every non-final top-level state shares, start from a dashed
 * "any non-final state" node (see diagram.ts). Active states can be highlighted.
 */
import type { AnyStateMachine } from 'xstate';
import { diagramModel, type DiagramOptions } from './diagram.js';
import { machineGraph, type GraphState, type GraphTransition, type MachineGraph } from './graph.js';
import { displayName } from './names.js';

/** Options of {@link toDot}. */
export interface DotOptions extends DiagramOptions {
  /**
   * States to highlight, by key (`processing_pipelines`), dotted path
   * (`parent.child`) or state node id (`batch.processing_pipelines`).
   */
  readonly active?: readonly string[];
  /** Layout direction (default `TB`, top to bottom). */
  readonly rankdir?: 'TB' | 'LR';
}

/** A DOT double-quoted string. */
export function dotString(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

/** Text escaped for a Graphviz HTML-like label. */
function html(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** The lines a diagram shows for a transition: `EVENT [guard]`, then `/ actions` when it has any. */
export function dotLabelLines(transition: GraphTransition): string[] {
  const head = transition.guard === null ? transition.event : `${transition.event} [${displayName(transition.guard)}]`;
  return transition.actions.length === 0 ? [head] : [head, `/ ${transition.actions.map(displayName).join(', ')}`];
}

/** Id of the node that stands for "any non-final state". */
export function anyStateNodeId(graph: MachineGraph): string {
  return `${graph.id}.(any state)`;
}

const ACTIVE_FILL = '#fde68a';
const ACTIVE_BORDER = '#b45309';

/** Breaks a long snake_case name over lines so a double circle stays small. */
function wrapName(name: string): string {
  if (name.length <= 12) return name;
  const lines: string[] = [];
  let line = '';
  for (const part of name.split('_')) {
    const next = line === '' ? part : `${line}_${part}`;
    if (next.length > 12 && line !== '') {
      lines.push(`${line}_`);
      line = part;
    } else {
      line = next;
    }
  }
  lines.push(line);
  return lines.join('\n');
}

/** An HTML-like label: a bold title and, below it, one small line per internal transition. */
function boxLabel(title: string, internal: readonly GraphTransition[]): string {
  if (internal.length === 0) return dotString(title);
  const rows = internal.map(
    (transition) => `<TR><TD ALIGN="LEFT"><FONT POINT-SIZE="9" COLOR="#334155">${html(dotLabelLines(transition).join(' '))}</FONT></TD></TR>`,
  );
  return `<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1"><TR><TD><B>${html(title)}</B></TD></TR>${rows.join('')}</TABLE>>`;
}

function isActive(state: GraphState, active: ReadonlySet<string>): boolean {
  return active.has(state.key) || active.has(state.id) || active.has(state.path.join('.'));
}

/** What every part of one DOT rendering needs. */
interface DotScene {
  readonly graph: ReturnType<typeof machineGraph>;
  readonly model: ReturnType<typeof diagramModel>;
  readonly rootId: string;
  readonly anyId: string;
  readonly active: ReadonlySet<string>;
  readonly byId: ReadonlyMap<string, GraphState>;
  readonly children: ReadonlyMap<string, readonly GraphState[]>;
}

function sceneOf(machine: AnyStateMachine, options: DotOptions): DotScene {
  const graph = machineGraph(machine);
  const children = new Map<string, GraphState[]>();
  for (const state of graph.states) children.set(state.parent, [...(children.get(state.parent) ?? []), state]);
  return {
    graph,
    model: diagramModel(graph, options),
    rootId: graph.root.id,
    anyId: anyStateNodeId(graph),
    active: new Set(options.active ?? []),
    byId: new Map(graph.states.map((state) => [state.id, state])),
    children,
  };
}

const isCluster = (state: GraphState | undefined): boolean => state !== undefined && (state.type === 'compound' || state.type === 'parallel');
const anchorOf = (stateId: string): string => `${stateId}.(anchor)`;
const initialOf = (stateId: string): string => `${stateId}.(initial)`;

/** A compound or parallel state: a cluster with its label, an anchor for edges, and its children. */
function clusterLines(scene: DotScene, state: GraphState, indent: string, lines: string[]): void {
  const on = isActive(state, scene.active);
  lines.push(`${indent}subgraph ${dotString(`cluster_${state.id}`)} {`);
  const fill = on ? `, fillcolor="#fef3c7", penwidth=2` : '';
  const region = scene.byId.get(state.parent)?.type === 'parallel' ? ',dashed' : '';
  lines.push(
    `${indent}  graph [label=${boxLabel(state.key, scene.model.internal.get(state.id) ?? [])}, style="rounded${region}${on ? ',filled' : ''}", color="${on ? ACTIVE_BORDER : '#94a3b8'}"${fill}];`,
  );
  lines.push(`${indent}  ${dotString(anchorOf(state.id))} [shape=point, width=0.01, style=invis, label=""];`);
  stateLines(scene, state.id, state.initial, `${indent}  `, lines);
  lines.push(`${indent}}`);
}

/** The initial marker of `parentId` and its children, atomic states as nodes and the others as clusters. */
function stateLines(scene: DotScene, parentId: string, initial: string | null, indent: string, lines: string[]): void {
  if (initial !== null) {
    lines.push(`${indent}${dotString(initialOf(parentId))} [shape=point, width=0.12, fillcolor="#1e293b", color="#1e293b", label=""];`);
    const head = isCluster(scene.byId.get(initial)) ? `${dotString(anchorOf(initial))} [lhead=${dotString(`cluster_${initial}`)}]` : dotString(initial);
    lines.push(`${indent}${dotString(initialOf(parentId))} -> ${head};`);
  }
  for (const state of scene.children.get(parentId) ?? []) {
    if (isCluster(state)) {
      clusterLines(scene, state, indent, lines);
      continue;
    }
    const on = isActive(state, scene.active);
    const tooltip = state.description === null ? '' : `, tooltip=${dotString(state.description)}`;
    const highlight = on ? `, fillcolor="${ACTIVE_FILL}", color="${ACTIVE_BORDER}", penwidth=2` : '';
    if (state.type === 'history') {
      const marker = state.history === 'deep' ? 'H*' : 'H';
      lines.push(`${indent}${dotString(state.id)} [shape=circle, label=${dotString(marker)}, width=0.3, fixedsize=true, fontsize=9, tooltip=${dotString(`${state.history ?? 'shallow'} history: ${state.key}`)}${highlight}];`);
    } else if (state.type === 'final') {
      lines.push(`${indent}${dotString(state.id)} [shape=doublecircle, label=${dotString(wrapName(state.key))}, margin=0.02${tooltip}${highlight}];`);
    } else {
      lines.push(`${indent}${dotString(state.id)} [label=${boxLabel(state.key, scene.model.internal.get(state.id) ?? [])}${tooltip}${highlight}];`);
    }
  }
}

/** One line per edge of the model; an edge leaving or entering a cluster is clipped at its border. */
function edgeLines(scene: DotScene, lines: string[]): void {
  const { byId, rootId, anyId } = scene;
  const endpoint = (stateId: string): string => (stateId === rootId ? anyId : isCluster(byId.get(stateId)) ? anchorOf(stateId) : stateId);
  const within = (outer: string, inner: string): boolean => {
    for (let current = byId.get(inner); current !== undefined; current = byId.get(current.parent)) {
      if (current.parent === outer) return true;
    }
    return false;
  };
  for (const edge of scene.model.edges) {
    const label = edge.transitions.flatMap(dotLabelLines).join('\n');
    const attributes = [`label=${dotString(label)}`];
    if (edge.source !== edge.target && isCluster(byId.get(edge.source)) && !within(edge.source, edge.target)) {
      attributes.push(`ltail=${dotString(`cluster_${edge.source}`)}`);
    }
    if (edge.source !== edge.target && isCluster(byId.get(edge.target)) && !within(edge.target, edge.source)) {
      attributes.push(`lhead=${dotString(`cluster_${edge.target}`)}`);
    }
    lines.push(`  ${dotString(endpoint(edge.source))} -> ${dotString(endpoint(edge.target))} [${attributes.join(', ')}];`);
  }
}

/** Renders `machine` as DOT text (deterministic for the same machine and options). */
export function toDot(machine: AnyStateMachine, options: DotOptions = {}): string {
  const scene = sceneOf(machine, options);
  const { graph, model, rootId, anyId } = scene;
  const lines: string[] = [
    `digraph ${dotString(graph.id)} {`,
    `  graph [rankdir=${options.rankdir ?? 'TB'}, compound=true, fontname="Helvetica", fontsize=12, nodesep=0.3, ranksep=0.5, label=${dotString(graph.id)}, labelloc=t];`,
    '  node [shape=box, style="rounded,filled", fillcolor="#f8fafc", color="#475569", fontname="Helvetica", fontsize=11];',
    '  edge [fontname="Helvetica", fontsize=9, color="#64748b", fontcolor="#334155", arrowsize=0.7];',
  ];
  if (model.hasAnyState) {
    lines.push(`  ${dotString(anyId)} [label=${boxLabel('any non-final state', model.internal.get(rootId) ?? [])}, style="rounded,dashed", fillcolor="#ffffff"];`);
  }
  stateLines(scene, rootId, graph.root.initial, '  ', lines);
  edgeLines(scene, lines);
  lines.push('}');
  return `${lines.join('\n')}\n`;
}
