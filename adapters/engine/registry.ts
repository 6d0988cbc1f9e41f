/** The machines an engine drives, by id. */
import { associationsLifecycle } from '../../machines/associations.js';
import { batchLifecycle } from '../../machines/batch/index.js';
import { batchTrackerLifecycle } from '../../machines/batch-tracker.js';
import { essayLifecycle } from '../../machines/essay.js';
import type { LifecycleMachine } from '../../machines/lifecycle-machine.js';
import { LifecycleError } from '../errors.js';

/** Machines by id; the engine refuses to start without one for every routed id. */
export type MachineRegistry = Readonly<Record<string, LifecycleMachine>>;

/** The library's four machines with their default options. */
export function defaultMachines(): MachineRegistry {
  return {
    batch: batchLifecycle,
    essay: essayLifecycle,
    batch_tracker: batchTrackerLifecycle,
    associations: associationsLifecycle,
  };
}

/** The machine with this id, or a clear error naming the ids that exist. */
export function machineOf(registry: MachineRegistry, id: string): LifecycleMachine {
  const machine = registry[id];
  if (machine === undefined) {
    throw new LifecycleError('INVALID_CONFIGURATION', `no machine "${id}" is registered (registered: ${Object.keys(registry).join(', ')})`, {
      details: { machine: id },
    });
  }
  return machine;
}
