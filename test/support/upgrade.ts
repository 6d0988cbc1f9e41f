/**
 * Two releases of the library side by side, as in a rolling upgrade: the library's machines
 * ("older") and the same machines with the batch machine one version newer ("newer", with a
 * migration from the older version). The older code cannot read a batch snapshot the newer one
 * wrote (SNAPSHOT_INCOMPATIBLE); the newer code reads both.
 */
import { defaultMachines, type MachineRegistry } from '../../adapters/engine/registry.js';
import { envelope } from './envelopes.js';

/** The library's machines as they are. */
export function olderRegistry(): MachineRegistry {
  return defaultMachines();
}

/** The library's machines with the batch machine one version newer (an identity migration from the current one). */
export function newerRegistry(): MachineRegistry {
  const machines = defaultMachines();
  const batch = machines.batch!;
  return { ...machines, batch: { ...batch, version: batch.version + 1, migrations: { ...batch.migrations, [batch.version]: (persisted) => persisted } } };
}

/** BatchCancelRequestedV1 by the owner. */
export function cancel(batchId: string): Record<string, unknown> {
  return envelope('huleedu.batch.cancel.requested.v1', { batch_id: batchId, user_id: 'teacher-1' });
}
