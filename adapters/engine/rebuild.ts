/**
 * Rebuilds an entity's state at any audit position by re-applying its accepted history with
 * the pure machine functions: what the engine stored must equal what the history implies.
 */
import { initialTransition, transition, type AnyMachineSnapshot, type AnyStateMachine, type StateValue } from 'xstate';
import { parseEnvelope, type LifecycleEnvelope } from '../../machines/contracts/events.js';
import { statusOfValue, type Json } from '../../machines/lifecycle-machine.js';
import { route as defaultRoute, type Delivery, type RoutedEvent } from '../../machines/routing.js';
import { LifecycleError } from '../errors.js';
import type { AuditRecord, SnapshotStore } from '../store.js';
import { machineOf, type MachineRegistry } from './registry.js';
import { persistSnapshot } from './snapshots.js';

/** The state of an entity as its history implies. */
export interface RebuiltEntity {
  readonly machine: string;
  readonly entity_id: string;
  readonly status: string;
  readonly snapshot: Json;
  /** Audit position of the last event applied. */
  readonly position: number;
  readonly events_applied: number;
}

/** The delivery an audit row recorded, re-derived from its envelope (a timer row from its timer). */
export function deliveryFor(row: AuditRecord, route: (envelope: LifecycleEnvelope) => Delivery[]): Delivery {
  const envelope = row.envelope as Record<string, unknown>;
  if (typeof envelope.timer_id === 'string') {
    const event: RoutedEvent = {
      type: row.event_type,
      data: {},
      meta: { event_id: row.event_id, event_type: row.event_type, correlation_id: row.correlation_id, timestamp: String(envelope.due_at), source_service: 'lifecycle_engine.timers' },
    };
    return { machine: row.machine as Delivery['machine'], entity_id: row.entity_id, event };
  }
  const parsed = parseEnvelope(envelope);
  const found = parsed.ok ? route(parsed.envelope).find((d) => d.machine === row.machine && d.entity_id === row.entity_id) : undefined;
  if (found === undefined) {
    throw new LifecycleError('SNAPSHOT_CORRUPT', `audit row ${row.position} (${row.event_type}) cannot be re-applied to ${row.machine} "${row.entity_id}"`, {
      details: { position: row.position },
    });
  }
  return found;
}

/**
 * The entity's state after every accepted event up to `position` (inclusive; default: all).
 * Throws ENTITY_NOT_FOUND when the entity has no history up to that position.
 */
export async function rebuildEntity(
  store: SnapshotStore,
  machines: MachineRegistry,
  machineId: string,
  entityId: string,
  options: { position?: number; route?: (envelope: LifecycleEnvelope) => Delivery[] } = {},
): Promise<RebuiltEntity> {
  const machine = machineOf(machines, machineId);
  const logic: AnyStateMachine = machine.logic;
  const route = options.route ?? defaultRoute;
  let snapshot: AnyMachineSnapshot | undefined;
  let position = 0;
  let applied = 0;
  for (let page = await store.history(machineId, entityId, { limit: 1000 }); page.length > 0; page = await store.history(machineId, entityId, { limit: 1000, afterPosition: position })) {
    for (const row of page) {
      if (options.position !== undefined && row.position > options.position) return finish();
      position = row.position;
      if (row.outcome !== 'accepted') continue;
      const delivery = deliveryFor(row, route);
      if (snapshot === undefined) {
        if (delivery.create === undefined) throw new LifecycleError('SNAPSHOT_CORRUPT', `history of ${machineId} "${entityId}" does not start with its creation`);
        [snapshot] = initialTransition(logic, delivery.create.input);
        if (!delivery.create.applyEvent) {
          applied += 1;
          continue;
        }
      }
      [snapshot] = transition(logic, snapshot, delivery.event);
      applied += 1;
    }
  }
  return finish();

  function finish(): RebuiltEntity {
    if (snapshot === undefined) {
      throw new LifecycleError('ENTITY_NOT_FOUND', `${machineId} "${entityId}" has no history${options.position === undefined ? '' : ` up to position ${options.position}`}`);
    }
    return {
      machine: machineId,
      entity_id: entityId,
      status: statusOfValue(snapshot.value as StateValue),
      snapshot: persistSnapshot(machine, snapshot),
      position,
      events_applied: applied,
    };
  }
}
