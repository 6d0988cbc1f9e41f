/**
 * The engine's side of the lifecycle invariants: after each event's causal chain, the worlds of
 * the batches it touched are built from the unit of work (entities as they will be committed,
 * messages emitted) and every invariant of the registered machines is checked on them.
 */
import type { AnyStateMachine } from 'xstate';
import { ENTITY_INVARIANTS, type Invariant, type InvariantEntity, type InvariantMessage, type InvariantViolation, type InvariantWorld } from '../../machines/invariants/index.js';
import { LifecycleError } from '../errors.js';
import type { LifecycleEnvelope } from '../../machines/contracts/events.js';
import { batchIdOf } from '../../machines/routing.js';
import type { MachineRegistry } from './registry.js';
import type { UnitOfWork, WorkingEntity } from './unit-of-work.js';

/** What the engine does with invariants: skip them, log violations, or refuse the commit. */
export type InvariantMode = 'off' | 'log' | 'refuse';

/** Every invariant mode, for checking an option. */
export const INVARIANT_MODES: readonly InvariantMode[] = ['off', 'log', 'refuse'];

/** Where the unit stood before an event was taken: what changed after it is checked. */
export interface InvariantMark {
  readonly touched: number;
  readonly outbox: number;
  readonly audit: number;
}

/** Machine ids whose entity id is the batch id. */
const BATCH_KEYED = ['batch', 'batch_tracker', 'associations'] as const;

/** The invariants of a registry: ENTITY_INVARIANTS, then each machine's own (names unique). */
export function invariantsOf(machines: MachineRegistry): Invariant[] {
  const byName = new Map<string, Invariant>();
  for (const invariant of [...ENTITY_INVARIANTS, ...Object.values(machines).flatMap((machine) => machine.invariants ?? [])]) {
    if (!byName.has(invariant.name)) byName.set(invariant.name, invariant);
  }
  return [...byName.values()];
}

function isFinal(logic: AnyStateMachine, status: string): boolean {
  return (logic.root.states[status] as { type?: string } | undefined)?.type === 'final';
}

/** The batch an entity belongs to (an essay's parent; the id of a batch-keyed entity). */
function batchOfEntity(entity: WorkingEntity): string | undefined {
  if ((BATCH_KEYED as readonly string[]).includes(entity.machine.id)) return entity.entity_id;
  return entity.parent_id ?? undefined;
}

function entityState(entity: WorkingEntity, changed: boolean): InvariantEntity {
  const stored = entity.stored;
  return {
    machine: entity.machine.id,
    entity_id: entity.entity_id,
    status: entity.status,
    parent_id: entity.parent_id,
    context: (entity.snapshot as { context?: unknown }).context,
    version: changed ? entity.stored_version + 1 : entity.stored_version,
    previous: stored === undefined ? null : { status: stored.status, version: entity.stored_version, final: isFinal(entity.machine.logic, stored.status) },
    changed,
  };
}

/** A message emitted since the mark: its type, batch and envelope. */
interface EmittedSince {
  readonly event_type: string;
  readonly aggregate_id: string;
  readonly envelope: unknown;
}

/**
 * The messages emitted since `mark`: those for outside services (the outbox) and those the engine
 * applied itself (their first audit row: they are not in the outbox unless `outboxInternal`), each once.
 */
function emittedSince(uow: UnitOfWork, mark: InvariantMark): EmittedSince[] {
  const messages: EmittedSince[] = [];
  const seen = new Set<string>();
  for (const row of uow.audit.slice(mark.audit)) {
    if (row.causation_id === null || seen.has(row.event_id)) continue;
    seen.add(row.event_id);
    messages.push({ event_type: row.event_type, aggregate_id: batchIdOf(row.envelope as unknown as LifecycleEnvelope), envelope: row.envelope });
  }
  for (const row of uow.outbox.slice(mark.outbox)) if (!seen.has(row.event_id)) messages.push(row);
  return messages;
}

function messagesOf(emitted: readonly EmittedSince[], batchId: string): InvariantMessage[] {
  return emitted.flatMap((row) => {
    if (row.aggregate_id !== batchId) return [];
    const data = (row.envelope as { data?: unknown }).data;
    return typeof data === 'object' && data !== null && !Array.isArray(data) ? [{ event_type: row.event_type, data: data as Record<string, unknown> }] : [];
  });
}

/**
 * The worlds of every batch the unit changed since `mark`: the entities it changed, plus the
 * batch, tracker and associations of that batch as the unit or the engine's entity cache holds
 * them (never read from the store, so checking costs no I/O; an invariant about an entity not at
 * hand holds vacuously), and the messages emitted since `mark`.
 */
export function worldsSince(uow: UnitOfWork, mark: InvariantMark, machines: MachineRegistry): InvariantWorld[] {
  const changed = uow.touchedSince(mark.touched);
  const batches = new Map<string, WorkingEntity[]>();
  for (const entity of changed) {
    const batchId = batchOfEntity(entity);
    if (batchId === undefined) continue;
    const entities = batches.get(batchId);
    if (entities === undefined) batches.set(batchId, [entity]);
    else entities.push(entity);
  }
  const worlds: InvariantWorld[] = [];
  const emitted = batches.size === 0 ? [] : emittedSince(uow, mark);
  for (const [batch_id, entities] of batches) {
    const states = entities.map((entity) => entityState(entity, true));
    for (const id of BATCH_KEYED) {
      const machine = machines[id];
      if (machine === undefined || states.some((state) => state.machine === id && state.entity_id === batch_id)) continue;
      const held = uow.peek(machine.id, batch_id);
      if (held !== undefined) states.push(entityState(held, false));
    }
    worlds.push({ batch_id, entities: states, allEssays: false, emitted: messagesOf(emitted, batch_id), allEmitted: false });
  }
  return worlds;
}

/** The error a refused commit answers with, naming the first violated invariant. */
export function invariantError(eventType: string, eventId: string, violations: readonly InvariantViolation[]): LifecycleError {
  const [first] = violations;
  return new LifecycleError('INVARIANT_VIOLATED', `${eventType} was refused: invariant ${first?.invariant ?? '?'} would not hold: ${first?.message ?? ''}`, {
    details: { event_id: eventId, event_type: eventType, violations },
  });
}
