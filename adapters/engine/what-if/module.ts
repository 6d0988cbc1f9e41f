/**
 * The changed machines a what-if replay runs, read from a module's exports: its `machines` export
 * (a registry by id), its default export (a registry or one machine), or else every exported
 * LifecycleMachine (`{ id, version, logic }`), keyed by id. So the library's own machines/index.ts
 * is a valid module (the unchanged baseline), and so is a copy of it with one machine changed.
 */
import type { LifecycleMachine } from '../../../machines/lifecycle-machine.js';
import { LifecycleError } from '../../errors.js';
import type { MachineRegistry } from '../registry.js';

/** True for a value shaped like a LifecycleMachine. */
export function isLifecycleMachine(value: unknown): value is LifecycleMachine {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as { id?: unknown; version?: unknown; logic?: unknown };
  return typeof candidate.id === 'string' && Number.isInteger(candidate.version) && typeof candidate.logic === 'object' && candidate.logic !== null;
}

function registryOf(value: unknown): MachineRegistry | undefined {
  if (isLifecycleMachine(value)) return { [value.id]: value };
  if (typeof value !== 'object' || value === null) return undefined;
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0 || !entries.every(([, machine]) => isLifecycleMachine(machine))) return undefined;
  return Object.fromEntries(entries.map(([, machine]) => [(machine as LifecycleMachine).id, machine as LifecycleMachine]));
}

/** The machines a module exports, by id; INVALID_CONFIGURATION naming `where` when it exports none or two different machines with one id. */
export function machinesOfModule(exports: Readonly<Record<string, unknown>>, where: string): MachineRegistry {
  const explicit = registryOf(exports.machines) ?? registryOf(exports.default);
  if (explicit !== undefined) return explicit;
  const found = new Map<string, { name: string; machine: LifecycleMachine }>();
  for (const [name, value] of Object.entries(exports)) {
    if (!isLifecycleMachine(value)) continue;
    const before = found.get(value.id);
    if (before !== undefined && before.machine !== value) {
      throw new LifecycleError('INVALID_CONFIGURATION', `${where} exports two different machines with id "${value.id}" (${before.name} and ${name}); export \`machines\` (a record by id) to say which`, {
        details: { machine: value.id, exports: [before.name, name] },
      });
    }
    found.set(value.id, { name, machine: value });
  }
  if (found.size === 0) {
    throw new LifecycleError('INVALID_CONFIGURATION', `${where} exports no machine: export \`machines\` (a record of LifecycleMachine by id) or LifecycleMachine objects ({ id, version, logic })`);
  }
  return Object.fromEntries([...found].map(([id, { machine }]) => [id, machine]));
}
