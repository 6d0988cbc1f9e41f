/**
 * What Stately Studio imports: a machine's config as JSON (`createMachine(json)` loads it
 * back with the same states, transitions, guards and targets) and as a standalone
 * `setup(...).createMachine(...)` source file with stub implementations under the same names.
 */
import type { AnyStateMachine, AnyStateNode, AnyTransitionDefinition } from 'xstate';
import type { Json } from '../../machines/lifecycle-machine.js';
import { machineGraph } from './graph.js';
import { implementationName, stateNodesOf, toArray } from './names.js';

/** A JSON object. */
export type JsonObject = { [key: string]: Json };

/** The value if it survives a JSON round trip unchanged (no functions, no undefined, finite numbers), else undefined. */
function jsonSafe(value: unknown): Json | undefined {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (Array.isArray(value)) {
    const items = value.map(jsonSafe);
    return items.every((item): item is Json => item !== undefined) ? items : undefined;
  }
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const entries = Object.entries(value as Record<string, unknown>).map(([key, item]) => [key, jsonSafe(item)] as const);
    return entries.every(([, item]) => item !== undefined) ? (Object.fromEntries(entries) as JsonObject) : undefined;
  }
  return undefined;
}

/** A guard, action or actor reference as JSON: its name, or `{ type, params }` when it has JSON params. */
function reference(machine: AnyStateMachine, value: unknown): Json {
  const name = implementationName(machine, value);
  if (typeof value === 'object' && value !== null && 'params' in value) {
    const params = jsonSafe((value as { params?: unknown }).params);
    if (params !== undefined) return { type: name, params };
  }
  return name;
}

/** How `source` names `target` in a config: `.child`, `sibling`, or `#id`. */
function targetString(source: AnyStateNode, target: AnyStateNode): string {
  const within = target.path.length > source.path.length && source.path.every((key, index) => target.path[index] === key);
  if (within) return `.${target.path.slice(source.path.length).join('.')}`;
  if (source.parent !== undefined && target.parent === source.parent) return target.key;
  return `#${target.id}`;
}

function transitionConfig(machine: AnyStateMachine, transition: AnyTransitionDefinition): JsonObject {
  const out: JsonObject = {};
  const targets = (transition.target ?? []).map((target) => targetString(transition.source, target));
  const [only] = targets;
  if (targets.length === 1 && only !== undefined) out.target = only;
  else if (targets.length > 1) out.target = targets;
  if (transition.guard !== undefined) out.guard = reference(machine, transition.guard);
  if (transition.actions.length > 0) out.actions = transition.actions.map((action) => reference(machine, action));
  if (transition.reenter) out.reenter = true;
  const { description, meta } = transition as { description?: unknown; meta?: unknown };
  if (typeof description === 'string') out.description = description;
  const safeMeta = jsonSafe(meta);
  if (safeMeta !== undefined && safeMeta !== null) out.meta = safeMeta;
  return out;
}

function transitionsConfig(machine: AnyStateMachine, transitions: readonly AnyTransitionDefinition[]): Json {
  const configs = transitions.map((transition) => transitionConfig(machine, transition));
  const [only] = configs;
  return configs.length === 1 && only !== undefined ? only : configs;
}

function actionList(machine: AnyStateMachine, actions: unknown): Json | undefined {
  const list = toArray(actions).map((action) => reference(machine, action));
  return list.length === 0 ? undefined : list;
}

function invokeConfig(machine: AnyStateMachine, node: AnyStateNode, invokes: readonly unknown[]): Json {
  return node.invoke.map((invoke, index) => ({
    id: invoke.id,
    src: typeof invokes[index] === 'object' && invokes[index] !== null && typeof (invokes[index] as { src?: unknown }).src === 'string'
      ? ((invokes[index] as { src: string }).src)
      : implementationName(machine, (invokes[index] as { src?: unknown } | undefined)?.src),
  }));
}

/** The node's transitions into `out`: `on` by event, `onDone`, `after` by delay, `always`. */
function transitionConfigs(machine: AnyStateMachine, node: AnyStateNode, out: JsonObject): void {
  const afterTypes = new Set(node.after.map((transition) => String(transition.eventType)));
  const doneType = `xstate.done.state.${node.id}`;
  const on: JsonObject = {};
  for (const [descriptor, transitions] of node.transitions) {
    if (afterTypes.has(descriptor) || descriptor === 'xstate.route') continue;
    if (descriptor === doneType) {
      out.onDone = transitionsConfig(machine, transitions);
      continue;
    }
    on[descriptor] = transitionsConfig(machine, transitions);
  }
  if (Object.keys(on).length > 0) out.on = on;
  if (node.after.length > 0) {
    const after: JsonObject = {};
    const byDelay = new Map<string, AnyTransitionDefinition[]>();
    for (const transition of node.after) {
      const delay = (transition as { delay?: unknown }).delay;
      const key = typeof delay === 'string' || typeof delay === 'number' ? String(delay) : 'inline';
      byDelay.set(key, [...(byDelay.get(key) ?? []), transition]);
    }
    for (const [delay, transitions] of byDelay) after[delay] = transitionsConfig(machine, transitions);
    out.after = after;
  }
  if (node.always !== undefined && node.always.length > 0) out.always = transitionsConfig(machine, node.always);
}

function nodeConfig(machine: AnyStateMachine, node: AnyStateNode): JsonObject {
  const out: JsonObject = {};
  const config = node.config as Record<string, unknown>;
  const isRoot = node === machine.root;
  if (isRoot) out.id = machine.id;
  else if (typeof config.id === 'string') out.id = config.id;
  if (node.description !== undefined) out.description = node.description;
  if (node.type === 'parallel' || node.type === 'final' || node.type === 'history') out.type = node.type;
  if (node.type === 'history' && node.history !== false) out.history = node.history;
  if (node.type === 'compound') {
    const initial = node.initial.target[0];
    if (initial !== undefined) out.initial = initial.key;
  }
  if (isRoot) {
    const context = jsonSafe(config.context);
    if (context !== undefined && context !== null) out.context = context;
  }
  if (node.tags.length > 0) out.tags = [...node.tags];
  const meta = jsonSafe(node.meta);
  if (meta !== undefined && meta !== null) out.meta = meta;
  const entry = actionList(machine, config.entry);
  if (entry !== undefined) out.entry = entry;
  const exit = actionList(machine, config.exit);
  if (exit !== undefined) out.exit = exit;
  const invokes = toArray(config.invoke as unknown[] | undefined);
  if (invokes.length > 0) out.invoke = invokeConfig(machine, node, invokes);
  transitionConfigs(machine, node, out);
  const children = Object.values(node.states);
  if (children.length > 0) out.states = Object.fromEntries(children.map((child) => [child.key, nodeConfig(machine, child)]));
  return out;
}

/**
 * The machine's config as JSON, the form Stately imports: targets as `sibling`, `.child`
 * or `#id`; guards, actions and actors by name (`inline:<n>` for inline functions; JSON
 * `params` kept); delays by name; a function context left out. Key order is fixed, so the
 * same machine always gives the same text. `createMachine(machineDefinition(m))` has the
 * same states, transitions, guard names and targets as `m`.
 */
export function machineDefinition(machine: AnyStateMachine): JsonObject {
  return nodeConfig(machine, machine.root);
}

/** Options of {@link machineSource}. */
export interface MachineSourceOptions {
  /** Name of the exported constant (default `machine`). */
  readonly exportName?: string;
  /** A comment placed at the top of the file (one or more lines, without comment markers). */
  readonly header?: string;
}

function quote(name: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name) ? name : JSON.stringify(name);
}

/** Names referenced by the machine, by kind, in document order. */
function referencedNames(machine: AnyStateMachine): { actions: string[]; guards: string[]; actors: string[]; delays: string[]; events: string[] } {
  const graph = machineGraph(machine);
  const actions = new Set<string>();
  const guards = new Set<string>();
  const delays = new Set<string>();
  const events = new Set<string>();
  for (const state of [graph.root, ...graph.states]) {
    state.entry.forEach((name) => actions.add(name));
    state.exit.forEach((name) => actions.add(name));
  }
  for (const transition of graph.transitions) {
    transition.actions.forEach((name) => actions.add(name));
    if (transition.guard !== null) guards.add(transition.guard);
    if (typeof transition.delay === 'string') delays.add(transition.delay);
    if (transition.kind === 'event' && !transition.eventType.includes('*') && !transition.eventType.startsWith('xstate.')) events.add(transition.eventType);
  }
  const actors = new Set<string>();
  for (const node of stateNodesOf(machine)) {
    for (const invoke of toArray((node.config as { invoke?: unknown }).invoke)) {
      const src = (invoke as { src?: unknown }).src;
      actors.add(typeof src === 'string' ? src : implementationName(machine, src));
    }
  }
  return { actions: [...actions], guards: [...guards], actors: [...actors], delays: [...delays], events: [...events] };
}

/**
 * A standalone TypeScript module that pastes into Stately Studio ("Import from code"):
 * `setup({ types, actions, guards, actors, delays }).createMachine(<config>)` where every
 * implementation is a stub under the machine's own names (delays keep their configured
 * milliseconds when known). It imports only `xstate` and type-checks on its own.
 */
export function machineSource(machine: AnyStateMachine, options: MachineSourceOptions = {}): string {
  const exportName = options.exportName ?? 'machine';
  const names = referencedNames(machine);
  const implementations = (machine.implementations ?? {}) as { delays?: Record<string, unknown> };
  const lines: string[] = [];
  if (options.header !== undefined) lines.push(...options.header.split('\n').map((line) => `// ${line}`.trimEnd()), '');
  const needsPromise = names.actors.length > 0;
  lines.push(needsPromise ? "import { fromPromise, setup } from 'xstate';" : "import { setup } from 'xstate';", '');
  lines.push(`export const ${exportName} = setup({`);
  lines.push('  types: {');
  lines.push('    context: {} as Record<string, unknown>,');
  if (names.events.length > 0) {
    lines.push('    events: {} as');
    names.events.forEach((event) => lines.push(`      | { type: ${JSON.stringify(event)}; [key: string]: unknown }`));
    lines[lines.length - 1] += ',';
  }
  lines.push('  },');
  if (names.actions.length > 0) {
    lines.push('  actions: {');
    names.actions.forEach((name) => lines.push(`    ${quote(name)}: () => {},`));
    lines.push('  },');
  }
  if (names.guards.length > 0) {
    lines.push('  guards: {');
    names.guards.forEach((name) => lines.push(`    ${quote(name)}: () => true,`));
    lines.push('  },');
  }
  if (needsPromise) {
    lines.push('  actors: {');
    names.actors.forEach((name) => lines.push(`    ${quote(name)}: fromPromise(async () => undefined),`));
    lines.push('  },');
  }
  if (names.delays.length > 0) {
    lines.push('  delays: {');
    names.delays.forEach((name) => {
      const delay = implementations.delays?.[name];
      lines.push(`    ${quote(name)}: ${typeof delay === 'number' && Number.isFinite(delay) ? delay : 1000},`);
    });
    lines.push('  },');
  }
  lines.push(`}).createMachine(${JSON.stringify(machineDefinition(machine), null, 2)});`, '');
  return lines.join('\n');
}
