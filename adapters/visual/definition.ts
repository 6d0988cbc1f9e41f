/**
 * What Stately Studio imports: a machine's config as JSON (`createMachine(json)` loads it back with
 * the same states, transitions, guard names and targets). The JSON is structure only: implementations
 * are names, and values JSON cannot hold are left out value by value and listed as notes.
 */
import type { AnyStateMachine, AnyStateNode, AnyTransitionDefinition } from 'xstate';
import type { Json } from '../../machines/lifecycle-machine.js';
import { toJsonValue, jsonSafe, type JsonLoss, type JsonObject } from './json-value.js';
import { implementationName, inlineImplementations, toArray } from './names.js';

export type { JsonObject } from './json-value.js';

/** A value of the config that is code, not data: written as a placeholder in JSON, as code in a source file. */
export interface CodeValue {
  /** Where it is (`context`, `states.loading.invoke[0].input`). */
  readonly path: string;
  /** What it is (`a function`, `undefined`). */
  readonly found: string;
}

/** The config of a machine with everything the JSON could not hold. */
export interface DefinitionExport {
  readonly definition: JsonObject;
  /** Values left out of the JSON, by where they were (`context.winner: undefined`). */
  readonly losses: readonly JsonLoss[];
  /** Functions of the config XState gives no name (a context or output computed by a function, an invoke's input function). */
  readonly unnamed: readonly CodeValue[];
  /** Inline implementations, by the unique name the export gives them (`assign:0`, `inline:1`). */
  readonly inline: readonly string[];
}

/** Collects what one export loses. */
interface ExportScope {
  readonly machine: AnyStateMachine;
  readonly losses: JsonLoss[];
  readonly unnamed: CodeValue[];
}

/** A value converted with its losses recorded under `path`. */
function dataValue(scope: ExportScope, value: unknown, path: string): Json | undefined {
  if (typeof value === 'function') {
    scope.unnamed.push({ path, found: 'a function' });
    return undefined;
  }
  return toJsonValue(value, path, scope.losses);
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

/** The event types of a node's invokes that their `onDone` / `onError` / `onSnapshot` declare. */
function invokeEventTypes(node: AnyStateNode): Set<string> {
  const types = new Set<string>();
  const configs = toArray((node.config as { invoke?: unknown }).invoke) as ReadonlyArray<Record<string, unknown>>;
  node.invoke.forEach((invoke, index) => {
    const config = configs[index] ?? {};
    if (config.onDone !== undefined) types.add(`xstate.done.actor.${invoke.id}`);
    if (config.onError !== undefined) types.add(`xstate.error.actor.${invoke.id}`);
    if (config.onSnapshot !== undefined) types.add(`xstate.snapshot.${invoke.id}`);
  });
  return types;
}

/** A node's invokes as config: `id` when the machine gave one, `src`, `systemId`, `input`, `onDone`, `onError`, `onSnapshot`. */
function invokeConfig(scope: ExportScope, node: AnyStateNode, path: string): Json {
  const configs = toArray((node.config as { invoke?: unknown }).invoke) as ReadonlyArray<Record<string, unknown>>;
  return node.invoke.map((invoke, index) => {
    const config = configs[index] ?? {};
    const out: JsonObject = {};
    if (typeof config.id === 'string') out.id = config.id;
    out.src = typeof config.src === 'string' ? config.src : implementationName(scope.machine, config.src);
    if (typeof config.systemId === 'string') out.systemId = config.systemId;
    if ('input' in config) {
      const input = dataValue(scope, config.input, `${path}.invoke[${index}].input`);
      if (input !== undefined) out.input = input;
    }
    for (const [key, prefix] of [['onDone', 'xstate.done.actor.'], ['onError', 'xstate.error.actor.'], ['onSnapshot', 'xstate.snapshot.']] as const) {
      const transitions = config[key] === undefined ? undefined : node.transitions.get(`${prefix}${invoke.id}`);
      if (transitions !== undefined) out[key] = transitionsConfig(scope.machine, transitions);
    }
    return out;
  });
}

/** The node's transitions into `out`: `on` by event, `onDone`, `after` by delay, `always` (invoke events stay with their invoke). */
function transitionConfigs(machine: AnyStateMachine, node: AnyStateNode, out: JsonObject): void {
  const afterTypes = new Set(node.after.map((transition) => String(transition.eventType)));
  const invokeTypes = invokeEventTypes(node);
  const doneType = `xstate.done.state.${node.id}`;
  const on: JsonObject = {};
  for (const [descriptor, transitions] of node.transitions) {
    if (afterTypes.has(descriptor) || invokeTypes.has(descriptor) || descriptor === 'xstate.route') continue;
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

/** The `id`, `description`, `type`, `history`, `initial`, `context`, `output`, `tags` and `meta` of a node. */
function nodeHead(scope: ExportScope, node: AnyStateNode, path: string, out: JsonObject): void {
  const config = node.config as Record<string, unknown>;
  const isRoot = node === scope.machine.root;
  if (isRoot) out.id = scope.machine.id;
  else if (typeof config.id === 'string') out.id = config.id;
  if (node.description !== undefined) out.description = node.description;
  if (node.type === 'parallel' || node.type === 'final' || node.type === 'history') out.type = node.type;
  if (node.type === 'history' && node.history !== false) out.history = node.history;
  if (node.type === 'history' && (typeof config.target === 'string' || (Array.isArray(config.target) && config.target.every((item) => typeof item === 'string')))) {
    out.target = config.target;
  }
  if (node.type === 'compound') {
    const initial = node.initial.target[0]?.key;
    if (initial !== undefined) out.initial = initial;
  }
  if (isRoot && config.context !== undefined) {
    const context = dataValue(scope, config.context, 'context');
    if (context !== undefined && context !== null) out.context = context;
  }
  if ((isRoot || node.type === 'final') && config.output !== undefined) {
    const output = dataValue(scope, config.output, isRoot ? 'output' : `${path}.output`);
    if (output !== undefined) out.output = output;
  }
  if (node.tags.length > 0) out.tags = [...node.tags];
  const meta = jsonSafe(node.meta);
  if (meta !== undefined && meta !== null) out.meta = meta;
}

function nodeConfig(scope: ExportScope, node: AnyStateNode, path: string): JsonObject {
  const out: JsonObject = {};
  const config = node.config as Record<string, unknown>;
  nodeHead(scope, node, path, out);
  const entry = actionList(scope.machine, config.entry);
  if (entry !== undefined) out.entry = entry;
  const exit = actionList(scope.machine, config.exit);
  if (exit !== undefined) out.exit = exit;
  if (node.invoke.length > 0) out.invoke = invokeConfig(scope, node, path);
  transitionConfigs(scope.machine, node, out);
  const children = Object.values(node.states);
  if (children.length > 0) {
    out.states = Object.fromEntries(children.map((child) => [child.key, nodeConfig(scope, child, `${path === '' ? '' : `${path}.`}states.${child.key}`)]));
  }
  return out;
}

/**
 * The machine's config as JSON with what it could not hold: targets as `sibling`, `.child` or
 * `#id`; guards, actions and actors by name (inline ones under a unique name such as `assign:0`;
 * JSON `params` kept); invokes with their `onDone` / `onError` and a JSON `input`; delays by name.
 * Key order is fixed, so the same machine always gives the same text.
 */
export function exportDefinition(machine: AnyStateMachine): DefinitionExport {
  const scope: ExportScope = { machine, losses: [], unnamed: [] };
  const definition = nodeConfig(scope, machine.root, '');
  const inline = Object.values(inlineImplementations(machine)).flatMap((named) => Object.keys(named));
  return { definition, losses: scope.losses, unnamed: scope.unnamed, inline };
}

/**
 * The machine's config as JSON, the form Stately imports (see {@link exportDefinition}).
 * `createMachine(machineDefinition(m))` has the same states, transitions, guard names and targets as `m`.
 */
export function machineDefinition(machine: AnyStateMachine): JsonObject {
  return exportDefinition(machine).definition;
}

/** One line per thing the JSON leaves out or renames, for the user to read (empty when nothing). */
export function definitionNotes(exported: DefinitionExport): string[] {
  return [
    ...exported.losses.map((loss) => `${loss.path}: ${loss.found} cannot be written in JSON (left out of the .json${loss.found === 'undefined' ? '; the .ts sources keep it' : ''})`),
    ...exported.unnamed.map((value) => `${value.path}: ${value.found} (XState gives it no name: left out; put it back in the config)`),
    ...(exported.inline.length === 0 ? [] : [`inline implementations named ${exported.inline.join(', ')} (provide them under these names)`]),
  ];
}
