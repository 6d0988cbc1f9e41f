/**
 * Names of a machine's implementations as the exporters and renderers show them: a named
 * guard, action, delay or actor keeps its name; an inline one gets a unique name numbered in
 * document order, `<built-in>:<n>` for XState's built-in actions (`assign:0`, `raise:3`) and
 * `inline:<n>` otherwise, so every view of one machine agrees. Diagrams show the name without
 * its number ({@link displayName}).
 */
import type { AnyStateMachine, AnyStateNode } from 'xstate';

/** Document order of a machine's state nodes: the root first, then depth first in key order. */
export function stateNodesOf(machine: AnyStateMachine): AnyStateNode[] {
  const nodes: AnyStateNode[] = [];
  const visit = (node: AnyStateNode): void => {
    nodes.push(node);
    for (const child of Object.values(node.states)) visit(child);
  };
  visit(machine.root);
  return nodes;
}

/** `value` as an array (XState's SingleOrArray convention). */
export function toArray<T>(value: T | readonly T[] | undefined): readonly T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? (value as readonly T[]) : [value as T];
}

/** True for an implementation reference that is written as its name (`'name'` or `{ type: 'name' }`). */
function namedType(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string') {
    return (value as { type: string }).type;
  }
  return undefined;
}

/** What an inline implementation is used as. */
export type ImplementationKind = 'actions' | 'guards' | 'actors';

/** The inline implementations of a machine: value -> its unique name and kind. */
type InlineNames = Map<unknown, { name: string; kind: ImplementationKind }>;

const cache = new WeakMap<AnyStateMachine, InlineNames>();

/** `assign` for XState's built-in `assign(...)` (its `type` is `xstate.assign`), else `inline`. */
function inlinePrefix(value: unknown): string {
  const type = (value as { type?: unknown }).type;
  return typeof type === 'string' && type.startsWith('xstate.') ? type.slice('xstate.'.length) : 'inline';
}

function collect(machine: AnyStateMachine): InlineNames {
  const names: InlineNames = new Map();
  const see = (kind: ImplementationKind) => (value: unknown): void => {
    if (value === undefined || value === null || namedType(value) !== undefined) return;
    if (!names.has(value)) names.set(value, { name: `${inlinePrefix(value)}:${names.size}`, kind });
  };
  for (const node of stateNodesOf(machine)) {
    const config = node.config as { entry?: unknown; exit?: unknown };
    toArray(config.entry).forEach(see('actions'));
    toArray(config.exit).forEach(see('actions'));
    for (const transition of [...[...node.transitions.values()].flat(), ...(node.always ?? [])]) {
      see('guards')(transition.guard);
      transition.actions.forEach(see('actions'));
    }
    for (const invoke of toArray((node.config as { invoke?: unknown }).invoke)) {
      see('actors')((invoke as { src?: unknown }).src);
    }
  }
  return names;
}

function inlineNames(machine: AnyStateMachine): InlineNames {
  let names = cache.get(machine);
  if (names === undefined) {
    names = collect(machine);
    cache.set(machine, names);
  }
  return names;
}

/** A name as diagrams show it: an inline implementation's name without its number (`assign`, `inline`). */
export function displayName(name: string): string {
  return /^[A-Za-z]+:\d+$/.test(name) ? name.slice(0, name.indexOf(':')) : name;
}

/**
 * The inline implementations of `machine` under the names the export gives them, by kind:
 * with the machine's own `implementations`, what `exported.provide(...)` needs to behave as `machine`.
 */
export function inlineImplementations(machine: AnyStateMachine): Record<ImplementationKind, Record<string, unknown>> {
  const out: Record<ImplementationKind, Record<string, unknown>> = { actions: {}, guards: {}, actors: {} };
  for (const [value, { name, kind }] of inlineNames(machine)) out[kind][name] = value;
  return out;
}

/**
 * The name of a guard, action or actor source of `machine`: its name when it is referenced
 * by name, else its unique inline name (`assign:0`, `inline:1`; stable for the machine object).
 */
export function implementationName(machine: AnyStateMachine, value: unknown): string {
  const named = namedType(value);
  if (named !== undefined) return named;
  return inlineNames(machine).get(value)?.name ?? 'inline:?';
}
