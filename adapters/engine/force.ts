/**
 * A forced transition: an operator moves one entity to a named state, with a reason, through the
 * engine's normal commit (one transaction with the audit row, the entity's version check, the
 * inbox entry of its event id and the timer changes), so every check the engine applies to a
 * commit applies to it too.
 *
 * WHAT IT EMITS: nothing. No transition, exit or entry action of the machine runs, so no message
 * goes to the outbox and no other machine is told; the move is recorded in the audit log (event
 * type `lifecycle.operator.force`, the reason in `reason`, the principal in the envelope), which
 * the history route and the `/stream` show. Why: every message a machine emits claims that
 * something happened (a phase ran, a batch closed); a forced move makes no such claim, and
 * re-emitting what the target state's way in would have emitted could start work twice. The only
 * effect besides the snapshot: timers of delayed transitions of the states it leaves are cancelled
 * (they would otherwise fire into a state that never armed them). See force-rules.ts for the moves
 * refused outright.
 */
import { z } from 'zod';
import { Id } from '../../machines/contracts/envelope.js';
import type { Json } from '../../machines/lifecycle-machine.js';
import { LifecycleError } from '../errors.js';
import { delayedEventsLeft, forcedSnapshot } from './force-rules.js';
import { timerIdOf } from './ids.js';
import { machineOf, type MachineRegistry } from './registry.js';
import { answerOf, storedAnswerOf, type DeliveryResult, type DispatchResult } from './results.js';
import type { UnitOfWork } from './unit-of-work.js';

/** The event type of a forced transition in the audit log (not an envelope anyone can send). */
export const FORCE_EVENT_TYPE = 'lifecycle.operator.force';

/** Who forces: the principal as the audit row records it. */
export const ForcedBySchema = z.strictObject({
  user_id: z.string().min(1).max(255),
  org_id: z.string().min(1).max(255).nullable().optional(),
  roles: z.array(z.string().min(1).max(100)).max(100).readonly().optional(),
  kind: z.enum(['user', 'service', 'local']).optional(),
});

/** A forced transition as `LifecycleEngine.force` takes it. */
export const ForceRequestSchema = z.strictObject({
  machine: Id,
  entity_id: Id,
  /** The top-level state (status) to move to. */
  to: Id,
  /** Why: required, recorded in the audit row. */
  reason: z.string().trim().min(1).max(2000),
  by: ForcedBySchema,
  /** Idempotency key: the same id again answers `duplicate` and changes nothing (default: a new uuid). */
  event_id: Id.optional(),
  correlation_id: Id.optional(),
});
export type ForceRequest = z.input<typeof ForceRequestSchema>;

/** A parsed request, with its ids settled. */
export interface ForceCommand {
  readonly machine: string;
  readonly entity_id: string;
  readonly to: string;
  readonly reason: string;
  readonly by: z.output<typeof ForcedBySchema>;
  readonly event_id: string;
  readonly correlation_id: string;
}

/** Parses a force request (INVALID_ARGUMENT naming the fields; ENTITY_NOT_FOUND for an unknown machine). */
export function parseForceRequest(raw: unknown, machines: MachineRegistry, newId: () => string): ForceCommand {
  const parsed = ForceRequestSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => ({ path: issue.path.map(String).join('.') || '(root)', code: issue.code, message: issue.message }));
    throw new LifecycleError('INVALID_ARGUMENT', `invalid force request: ${[...new Set(issues.map((issue) => issue.path))].join(', ')}`, { details: { issues } });
  }
  const request = parsed.data;
  if (!Object.hasOwn(machines, request.machine)) {
    throw new LifecycleError('ENTITY_NOT_FOUND', `no machine "${request.machine}" (machines: ${Object.keys(machines).join(', ')})`, { details: { machine: request.machine } });
  }
  const eventId = request.event_id ?? newId();
  return { ...request, event_id: eventId, correlation_id: request.correlation_id ?? eventId };
}

function envelopeOf(command: ForceCommand, from: string, at: Date): Json {
  const { by } = command;
  const principal = { user_id: by.user_id, org_id: by.org_id ?? null, roles: [...(by.roles ?? [])], kind: by.kind ?? null };
  return {
    event_id: command.event_id,
    event_type: FORCE_EVENT_TYPE,
    correlation_id: command.correlation_id,
    timestamp: at.toISOString(),
    data: { machine: command.machine, entity_id: command.entity_id, from, to: command.to, reason: command.reason, principal },
  };
}

/** Takes a forced transition into `uow`; returns its answer. Throws ENTITY_NOT_FOUND, UNKNOWN_STATE, FORCE_REFUSED. */
export async function applyForce(uow: UnitOfWork, machines: MachineRegistry, command: ForceCommand, now: Date): Promise<DispatchResult> {
  const machine = machineOf(machines, command.machine);
  const entity = await uow.get(machine, command.entity_id);
  if (entity === undefined) {
    throw new LifecycleError('ENTITY_NOT_FOUND', `${machine.id} "${command.entity_id}" does not exist`, { details: { machine: machine.id, entity_id: command.entity_id } });
  }
  const target = forcedSnapshot(machine, command.entity_id, entity.snapshot, command.to);
  for (const eventType of delayedEventsLeft(entity.snapshot, target)) uow.cancelTimer(timerIdOf(machine.id, command.entity_id, eventType));
  const written = uow.put(machine, command.entity_id, target);
  const delivery: DeliveryResult = { machine: machine.id, entity_id: command.entity_id, from: entity.status, to: written.status, outcome: 'accepted' };
  uow.audit.push({
    event_id: command.event_id,
    event_type: FORCE_EVENT_TYPE,
    correlation_id: command.correlation_id,
    causation_id: null,
    machine: machine.id,
    entity_id: command.entity_id,
    from_status: entity.status,
    to_status: written.status,
    outcome: 'accepted',
    reason: command.reason,
    entity_version: written.stored_version + 1,
    envelope: envelopeOf(command, entity.status, now),
  });
  const answer = answerOf({ event_id: command.event_id, event_type: FORCE_EVENT_TYPE }, [delivery], [], 1);
  uow.take({ event_id: command.event_id, event_type: FORCE_EVENT_TYPE, result: storedAnswerOf(answer) as unknown as Json });
  return answer;
}
