/**
 * Worlds for the lifecycle invariants built from a whole store: every entity of every batch and
 * every message ever emitted for it (`allEssays` and `allEmitted` set), so the counting
 * invariants run too. Used by the invariant tests and the property tests after every step.
 */

import { restoreSnapshot } from '../../adapters/engine/snapshots.js';
import { invariantsOf } from '../../adapters/engine/invariants.js';
import type { MachineRegistry } from '../../adapters/engine/registry.js';
import type { EntityRecord, SnapshotStore } from '../../adapters/store.js';
import { emittedMessages } from './emitted.js';
import { checkInvariants, type InvariantEntity, type InvariantMessage, type InvariantViolation, type InvariantWorld } from '../../machines/invariants/index.js';

const PAGE = 1000;
const BATCH_KEYED = new Set(['batch', 'batch_tracker', 'associations']);

async function allRecords(store: SnapshotStore, machine: string): Promise<EntityRecord[]> {
  const records: EntityRecord[] = [];
  for (let offset = 0; ; offset += PAGE) {
    const page = await store.list({ machine, limit: PAGE, offset });
    records.push(...page);
    if (page.length < PAGE) return records;
  }
}


function stateOf(record: EntityRecord, registry: MachineRegistry): InvariantEntity {
  const machine = registry[record.machine];
  if (machine === undefined) throw new Error(`no machine ${record.machine}`);
  const snapshot = restoreSnapshot(record, machine);
  return {
    machine: record.machine,
    entity_id: record.entity_id,
    status: record.status,
    parent_id: record.parent_id,
    context: (snapshot as { context?: unknown }).context,
    version: record.version,
    previous: null,
    changed: false,
  };
}

/** Every batch's world in `store` (the emitted history: unpublished outbox rows, since tests never publish, and applied messages from the audit). */
export async function worldsOfStore(store: SnapshotStore, registry: MachineRegistry): Promise<InvariantWorld[]> {
  const entities: InvariantEntity[] = [];
  for (const machine of Object.keys(registry)) for (const record of await allRecords(store, machine)) entities.push(stateOf(record, registry));
  const outbox = await emittedMessages(store);
  const batchIds = new Set(entities.map((entity) => (BATCH_KEYED.has(entity.machine) ? entity.entity_id : (entity.parent_id ?? ''))));
  batchIds.delete('');
  return [...batchIds].sort().map((batch_id) => ({
    batch_id,
    entities: entities.filter((entity) => (BATCH_KEYED.has(entity.machine) ? entity.entity_id === batch_id : entity.parent_id === batch_id)),
    allEssays: true,
    emitted: outbox.flatMap((row): InvariantMessage[] => {
      const data = (row.envelope as { data?: unknown }).data;
      return row.aggregate_id === batch_id && typeof data === 'object' && data !== null ? [{ event_type: row.event_type, data: data as Record<string, unknown> }] : [];
    }),
    allEmitted: true,
  }));
}

/** Every violation of the registry's invariants anywhere in `store`. */
export async function storeViolations(store: SnapshotStore, registry: MachineRegistry): Promise<InvariantViolation[]> {
  const invariants = invariantsOf(registry);
  return (await worldsOfStore(store, registry)).flatMap((world) => checkInvariants(world, invariants));
}
