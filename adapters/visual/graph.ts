/**
 * A neutral graph model of a statechart: its states and its transitions, as plain data.
 * Every renderer (Mermaid, DOT, SVG), the definition round trip and the path-coverage
 * report read a machine through this one model, so they can never disagree on what a
 * machine contains.
 */
import type { AnyStateMachine, AnyStateNode, AnyTransitionDefinition } from 'xstate';
import { displayName, implementationName, stateNodesOf, toArray } from './names.js';

/** Kind of a state node (XState's types). */
export type GraphStateType = 'atomic' | 'compound' | 'parallel' | 'final' | 'history';

/** One state of the machine (the root is described by {@link MachineGraph.root}, not listed here). */
export interface GraphState {
  /** XState's state node id, e.g. `batch.processing_pipelines`; unique in the machine. */
  readonly id: string;
  /** The state's key in its parent (`processing_pipelines`). */
  readonly key: string;
  /** Keys from the root to this state. */
  readonly path: readonly string[];
  /** Id of the parent state; the root's id for a top-level state. */
  readonly parent: string;
  readonly type: GraphStateType;
  /** `shallow` or `deep` for a history state, else null. */
  readonly history: 'shallow' | 'deep' | null;
  /** Id of the initial child of a compound state, the default target of a history state (null: its parent's initial), else null. */
  readonly initial: string | null;
  readonly description: string | null;
  /** Names of the entry and exit actions (delayed-event bookkeeping excluded). */
  readonly entry: readonly string[];
  readonly exit: readonly string[];
  readonly tags: readonly string[];
}

/** How a transition is triggered. */
export type GraphTransitionKind = 'event' | 'after' | 'always';

/** One transition (one candidate of an event's list: guarded candidates are separate transitions). */
export interface GraphTransition {
  /** Stable id: `<source id>:<event type or 'always'>:<candidate index>`. */
  readonly id: string;
  /** Id of the state node that declares it (the root's id for machine-level transitions). */
  readonly source: string;
  /** Ids of the target states; empty for a targetless (internal) transition. */
  readonly targets: readonly string[];
  /**
   * What triggers it as shown on diagrams: the event descriptor, `after <delay>`, `always`,
   * `onDone`, or `done: <actor>` / `error: <actor>` / `snapshot: <actor>` for an invoke's events.
   */
  readonly event: string;
  /** The raw event type XState matches (`''` for always, `xstate.after.<delay>.<id>` for after). */
  readonly eventType: string;
  readonly kind: GraphTransitionKind;
  /** Name of its guard (`inline:<n>` for an inline function), or null. */
  readonly guard: string | null;
  /** Names of its actions, in order. */
  readonly actions: readonly string[];
  /** The delay of an `after` transition (its name or milliseconds), else null. */
  readonly delay: string | number | null;
  readonly reenter: boolean;
  /** Position among the candidates of the same source and event (0 first). */
  readonly index: number;
  readonly description: string | null;
}

/** The whole model. */
export interface MachineGraph {
  /** The machine id (also the root state node id). */
  readonly id: string;
  readonly root: {
    readonly id: string;
    readonly initial: string | null;
    readonly description: string | null;
    readonly type: GraphStateType;
    readonly entry: readonly string[];
    readonly exit: readonly string[];
  };
  /** Every state except the root, in document order. */
  readonly states: readonly GraphState[];
  /** Every transition, in document order (by source state, then event, then candidate). */
  readonly transitions: readonly GraphTransition[];
}

/** Event types of a node's `after` transitions. */
function afterEventTypes(node: AnyStateNode): Set<string> {
  return new Set(node.after.map((transition) => transition.eventType as string));
}

function configActions(machine: AnyStateMachine, node: AnyStateNode, key: 'entry' | 'exit'): string[] {
  return toArray((node.config as Record<string, unknown>)[key]).map((action) => implementationName(machine, action));
}

function delayOf(transition: AnyTransitionDefinition): string | number | null {
  const delay = (transition as { delay?: unknown }).delay;
  if (typeof delay === 'string' || typeof delay === 'number') return delay;
  return delay === undefined ? null : 'inline';
}

/** `done: <actor>` for the done event of one of `node`'s invokes (`error:`, `snapshot:` alike), else undefined. */
function invokeEventLabel(machine: AnyStateMachine, node: AnyStateNode, eventType: string): string | undefined {
  for (const [prefix, label] of [['xstate.done.actor.', 'done'], ['xstate.error.actor.', 'error'], ['xstate.snapshot.', 'snapshot']] as const) {
    if (!eventType.startsWith(prefix)) continue;
    const invoke = node.invoke.find((candidate) => candidate.id === eventType.slice(prefix.length));
    if (invoke !== undefined) return `${label}: ${displayName(typeof invoke.src === 'string' ? invoke.src : implementationName(machine, invoke.src))}`;
  }
  return undefined;
}

function toGraphTransition(
  machine: AnyStateMachine,
  transition: AnyTransitionDefinition,
  kind: GraphTransitionKind,
  index: number,
): GraphTransition {
  const eventType = kind === 'always' ? '' : String(transition.eventType);
  const delay = delayOf(transition);
  const event =
    kind === 'always'
      ? 'always'
      : kind === 'after'
        ? `after ${String(delay)}`
        : eventType === `xstate.done.state.${transition.source.id}`
          ? 'onDone'
          : (invokeEventLabel(machine, transition.source, eventType) ?? eventType);
  const description = (transition as { description?: unknown }).description;
  return {
    id: `${transition.source.id}:${kind === 'always' ? 'always' : eventType}:${index}`,
    source: transition.source.id,
    targets: (transition.target ?? []).map((target) => target.id),
    event,
    eventType,
    kind,
    guard: transition.guard === undefined ? null : implementationName(machine, transition.guard),
    actions: transition.actions.map((action) => implementationName(machine, action)),
    delay,
    reenter: transition.reenter,
    index,
    description: typeof description === 'string' ? description : null,
  };
}

/** The transition definitions of one node with their kinds and candidate indexes, in order. */
export function transitionsOfNode(node: AnyStateNode): Array<{ transition: AnyTransitionDefinition; kind: GraphTransitionKind; index: number }> {
  const after = afterEventTypes(node);
  const found: Array<{ transition: AnyTransitionDefinition; kind: GraphTransitionKind; index: number }> = [];
  for (const [descriptor, transitions] of node.transitions) {
    const kind: GraphTransitionKind = after.has(descriptor) ? 'after' : 'event';
    transitions.forEach((transition, index) => found.push({ transition, kind, index }));
  }
  (node.always ?? []).forEach((transition, index) => found.push({ transition, kind: 'always', index }));
  return found;
}

/** The id of a history state's default target (`target: 'third'`, relative to its parent), else null. */
function historyTarget(node: AnyStateNode): string | null {
  const [target] = toArray((node.config as { target?: unknown }).target);
  if (typeof target !== 'string' || node.parent === undefined) return null;
  let current: AnyStateNode | undefined = node.parent;
  for (const key of target.split('.')) current = current?.states[key];
  return current?.id ?? null;
}

function typeOf(node: AnyStateNode): GraphStateType {
  return node.type;
}

/** Builds the graph model of `machine` (pure; the same machine always gives an equal model). */
export function machineGraph(machine: AnyStateMachine): MachineGraph {
  const nodes = stateNodesOf(machine);
  const states: GraphState[] = [];
  const transitions: GraphTransition[] = [];
  for (const node of nodes) {
    for (const { transition, kind, index } of transitionsOfNode(node)) {
      transitions.push(toGraphTransition(machine, transition, kind, index));
    }
    if (node === machine.root) continue;
    states.push({
      id: node.id,
      key: node.key,
      path: [...node.path],
      parent: node.parent?.id ?? machine.root.id,
      type: typeOf(node),
      history: node.type === 'history' ? (node.history === 'deep' ? 'deep' : 'shallow') : null,
      initial: node.type === 'compound' ? (node.initial.target[0]?.id ?? null) : node.type === 'history' ? historyTarget(node) : null,
      description: node.description ?? null,
      entry: configActions(machine, node, 'entry'),
      exit: configActions(machine, node, 'exit'),
      tags: [...node.tags],
    });
  }
  const root = machine.root;
  return {
    id: machine.id,
    root: {
      id: root.id,
      initial: root.type === 'compound' ? (root.initial.target[0]?.id ?? null) : null,
      description: root.description ?? null,
      type: typeOf(root),
      entry: configActions(machine, root, 'entry'),
      exit: configActions(machine, root, 'exit'),
    },
    states,
    transitions,
  };
}

/**
 * A map from each transition definition object of `machine` to its {@link GraphTransition}
 * id: how the path generator names the transitions XState reports as taken.
 */
export function transitionIds(machine: AnyStateMachine): Map<AnyTransitionDefinition, string> {
  const ids = new Map<AnyTransitionDefinition, string>();
  for (const node of stateNodesOf(machine)) {
    for (const { transition, kind, index } of transitionsOfNode(node)) {
      ids.set(transition, `${transition.source.id}:${kind === 'always' ? 'always' : String(transition.eventType)}:${index}`);
    }
  }
  return ids;
}

/** The parts of a transition's label: trigger, guard and actions. */
export interface TransitionLabelParts {
  readonly event: string;
  readonly guard: string | null;
  readonly actions: readonly string[];
}

/** `EVENT [guard] / action1, action2` (guard and actions only when present; inline names without their numbers). */
export function transitionLabel(transition: TransitionLabelParts): string {
  const guard = transition.guard === null ? '' : ` [${displayName(transition.guard)}]`;
  const actions = transition.actions.length === 0 ? '' : ` / ${transition.actions.map(displayName).join(', ')}`;
  return `${transition.event}${guard}${actions}`;
}

/** A short human description of a transition for reports: `source: EVENT [guard] -> target`. */
export function describeTransition(graph: MachineGraph, transition: GraphTransition): string {
  const paths = new Map(graph.states.map((state) => [state.id, state.path.join('.')]));
  const name = (id: string): string => (id === graph.root.id ? `(${graph.id})` : (paths.get(id) ?? id));
  const target = transition.targets.length === 0 ? '(no target)' : transition.targets.map(name).join(', ');
  const guard = transition.guard === null ? '' : ` [${transition.guard}]`;
  return `${name(transition.source)}: ${transition.event}${guard} -> ${target}`;
}
