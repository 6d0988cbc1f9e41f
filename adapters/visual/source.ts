/**
 * The machine as TypeScript source, in the two forms around Stately Studio:
 * - {@link machineSource}: `setup({ types, actions, guards, actors, delays }).createMachine(config)`,
 *   ready for `machine.provide(...)`: every implementation is a stub under the machine's own name
 *   that throws `not implemented: <kind> "<name>"` when used (delays keep their milliseconds when
 *   known), so an export never behaves differently without saying so.
 * - {@link bareMachineSource}: `createMachine(config)`, implementations named and not stubbed, the
 *   form Stately's "Import from code" documents.
 * Both keep `undefined` context values, import only `xstate` and export the config as `config`.
 */
import type { AnyStateMachine } from 'xstate';
import { exportDefinition, type DefinitionExport } from './definition.js';
import type { Json } from '../../machines/lifecycle-machine.js';
import { machineGraph } from './graph.js';
import { implementationName, inlineImplementations, stateNodesOf, toArray } from './names.js';

/** Options of {@link machineSource} and {@link bareMachineSource}. */
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

/** `path` (`context.board[3]`, `states.loading.invoke[0].input`) split into keys and indexes. */
function pathKeys(path: string): Array<string | number> {
  return path.split('.').flatMap((part) => {
    const match = /^([^[]*)((?:\[\d+\])*)$/.exec(part);
    if (match === null) return [part];
    const indexes = [...(match[2] ?? '').matchAll(/\[(\d+)\]/g)].map((found) => Number(found[1]));
    return [...(match[1] === '' ? [] : [match[1] ?? '']), ...indexes];
  });
}

/** A copy of `json` with `value` placed at `path` (objects created on the way). */
function placeAt(json: Json, path: string, value: Json): void {
  const keys = pathKeys(path);
  let current = json as Record<string | number, Json>;
  keys.forEach((key, index) => {
    if (index === keys.length - 1) {
      current[key] = value;
      return;
    }
    const next = current[key];
    if (typeof next !== 'object' || next === null) current[key] = typeof keys[index + 1] === 'number' ? [] : {};
    current = current[key] as Record<string | number, Json>;
  });
}

/** The config as TypeScript: `undefined` values back in place, and unnamed functions as `code(path)` when given. */
function configText(exported: DefinitionExport, code?: (path: string) => string): string {
  const json = JSON.parse(JSON.stringify(exported.definition)) as Json;
  const snippets: string[] = [];
  const put = (path: string, text: string): void => {
    placeAt(json, path, `@@code:${snippets.length}@@`);
    snippets.push(text);
  };
  exported.losses.filter((loss) => loss.found === 'undefined').forEach((loss) => put(loss.path, 'undefined'));
  if (code !== undefined) exported.unnamed.forEach((value) => put(value.path, code(value.path)));
  return JSON.stringify(json, null, 2).replace(/"@@code:(\d+)@@"/g, (_match, index: string) => snippets[Number(index)] ?? 'undefined');
}

/** The header comment lines. */
function headerLines(options: MachineSourceOptions): string[] {
  return options.header === undefined ? [] : [...options.header.split('\n').map((line) => `// ${line}`.trimEnd()), ''];
}

/** The `setup({...})` argument: types, then one throwing stub per implementation name. */
function setupLines(machine: AnyStateMachine): string[] {
  const names = referencedNames(machine);
  const delays = ((machine.implementations ?? {}) as { delays?: Record<string, unknown> }).delays ?? {};
  const lines = ['  types: {', '    context: {} as Record<string, unknown>,'];
  if (names.events.length > 0) {
    lines.push('    events: {} as');
    names.events.forEach((event) => lines.push(`      | { type: ${JSON.stringify(event)}; [key: string]: unknown }`));
    lines[lines.length - 1] += ',';
  }
  lines.push('  },');
  const block = (kind: string, items: string[], stub: (name: string) => string): void => {
    if (items.length === 0) return;
    lines.push(`  ${kind}: {`, ...items.map((name) => `    ${quote(name)}: ${stub(name)},`), '  },');
  };
  const stub = (kind: string, name: string): string => `() => notImplemented(${JSON.stringify(`${kind} "${name}"`)})`;
  block('actions', names.actions, (name) => stub('action', name));
  block('guards', names.guards, (name) => stub('guard', name));
  block('actors', names.actors, (name) => `fromTransition((state: undefined) => state, ${stub('actor', name)})`);
  block('delays', names.delays, (name) => {
    const delay = delays[name];
    return typeof delay === 'number' && Number.isFinite(delay) ? String(delay) : stub('delay', name);
  });
  return lines;
}

/**
 * A standalone TypeScript module: `setup({ types, actions, guards, actors, delays }).createMachine(<config>)`
 * where every implementation is a stub under the machine's own name that throws "not implemented"
 * when used, ready for `machine.provide({ actions, guards, actors, delays })`. Functions XState gives
 * no name (a context computed from input, an invoke's input) are stubs too; replace them in `config`.
 */
export function machineSource(machine: AnyStateMachine, options: MachineSourceOptions = {}): string {
  const exportName = options.exportName ?? 'machine';
  const exported = exportDefinition(machine);
  const needsActors = referencedNames(machine).actors.length > 0;
  return [
    ...headerLines(options),
    needsActors ? "import { fromTransition, setup } from 'xstate';" : "import { setup } from 'xstate';",
    '',
    '/** Every implementation below is a stub: provide the real ones with `machine.provide({ ... })`. */',
    'function notImplemented(what: string): never {',
    '  throw new Error(`not implemented: ${what} (provide the real one with machine.provide)`);',
    '}',
    '',
    `export const ${exportName} = setup({`,
    ...setupLines(machine),
    `}).createMachine(${configText(exported, (path) => `() => notImplemented(${JSON.stringify(`${path} (a function in the original machine)`)})`)});`,
    '',
    `/** The config, for \`createMachine({ ...config, context }, implementations)\` when a function must be put back. */`,
    `export const config = ${exportName}.config;`,
    '',
  ].join('\n');
}

/**
 * The bare `createMachine({...})` module Stately's "Import from code" documents: implementations
 * referenced by name and not defined (run it with `createMachine(config, implementations)` or
 * `machine.provide(...)`); functions XState gives no name are left out.
 */
export function bareMachineSource(machine: AnyStateMachine, options: MachineSourceOptions = {}): string {
  const exportName = options.exportName ?? 'machine';
  return [
    ...headerLines(options),
    "import { createMachine } from 'xstate';",
    '',
    `export const ${exportName} = createMachine(${configText(exportDefinition(machine))});`,
    '',
    `export const config = ${exportName}.config;`,
    '',
  ].join('\n');
}

/** Implementations by kind, as `machine.provide(...)` takes them. */
export type MachineImplementations = Parameters<AnyStateMachine['provide']>[0];

/**
 * Every implementation of `machine` under the names its export uses, its named ones and its inline
 * ones (`assign:0`, ...): `exported.provide(implementationsFor(original))` behaves as `original`
 * (functions XState gives no name, such as a context computed from input, go back into the config).
 */
export function implementationsFor(machine: AnyStateMachine): MachineImplementations {
  const own = (machine.implementations ?? {}) as Partial<Record<'actions' | 'guards' | 'actors' | 'delays', Record<string, unknown>>>;
  const inline = inlineImplementations(machine);
  return {
    actions: { ...own.actions, ...inline.actions },
    guards: { ...own.guards, ...inline.guards },
    actors: { ...own.actors, ...inline.actors },
    delays: { ...own.delays },
  } as MachineImplementations;
}
