/**
 * Names of a machine's implementations as the exporters and renderers show them: a named
 * guard, action, delay or actor keeps its name; an inline function or object gets
 * `inline:<n>`, numbered in document order, so every view of one machine agrees.
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

const cache = new WeakMap<AnyStateMachine, Map<unknown, string>>();

function collect(machine: AnyStateMachine): Map<unknown, string> {
  const names = new Map<unknown, string>();
  const see = (value: unknown): void => {
    if (value === undefined || value === null || namedType(value) !== undefined) return;
    if (!names.has(value)) names.set(value, `inline:${names.size}`);
  };
  for (const node of stateNodesOf(machine)) {
    const config = node.config as { entry?: unknown; exit?: unknown };
    toArray(config.entry).forEach(see);
    toArray(config.exit).forEach(see);
    for (const transitions of node.transitions.values()) {
      for (const transition of transitions) {
        see(transition.guard);
        transition.actions.forEach(see);
      }
    }
    for (const transition of node.always ?? []) {
      see(transition.guard);
      transition.actions.forEach(see);
    }
    for (const invoke of toArray((node.config as { invoke?: unknown }).invoke)) {
      see((invoke as { src?: unknown }).src);
    }
  }
  return names;
}

/**
 * The display name of a guard, action or actor source of `machine`: its name when it is
 * referenced by name, else `inline:<n>` (stable for the machine object).
 */
export function implementationName(machine: AnyStateMachine, value: unknown): string {
  const named = namedType(value);
  if (named !== undefined) return named;
  let names = cache.get(machine);
  if (names === undefined) {
    names = collect(machine);
    cache.set(machine, names);
  }
  return names.get(value) ?? 'inline:?';
}
