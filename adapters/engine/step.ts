/**
 * One transition: a delivery applied to one entity with XState's pure `initialTransition` /
 * `transition`. Collects what the machine emitted and the timers it armed or cancelled; never
 * performs an effect. An actor error becomes a LifecycleError, never an unobserved throw.
 */
import type { AnyMachineSnapshot, AnyStateMachine } from 'xstate';
import { reusableScopeStepper, type Stepper } from './pure.js';
import { explainRefusal } from '../../machines/explain.js';
import type { LifecycleMachine } from '../../machines/lifecycle-machine.js';
import type { Delivery } from '../../machines/routing.js';
import { LifecycleError } from '../errors.js';
import { timerIdOf } from './ids.js';
import type { DeliveryResult } from './results.js';
import type { UnitOfWork } from './unit-of-work.js';

/** A message a machine emitted: `{ type: event_type, ...envelope body }`. */
export interface EmittedMessage {
  readonly type: string;
  readonly [key: string]: unknown;
}

/** What one delivery did. */
export interface StepResult {
  readonly delivery: DeliveryResult;
  readonly emitted: readonly EmittedMessage[];
  /** The entity's version once this commit lands (accepted), or null (refused: nothing written). */
  readonly version: number | null;
}

interface ActionLike {
  readonly type: string;
  readonly params?: unknown;
}

function machineError(machine: LifecycleMachine, entityId: string, eventType: string, cause: unknown): LifecycleError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new LifecycleError('MACHINE_ERROR', `${machine.id} "${entityId}" failed while taking ${eventType}: ${why}`, {
    details: { machine: machine.id, entity_id: entityId, event_type: eventType },
    cause,
  });
}

function run(
  machine: LifecycleMachine,
  entityId: string,
  eventType: string,
  compute: () => [AnyMachineSnapshot, unknown[]],
): [AnyMachineSnapshot, ActionLike[]] {
  let result: [AnyMachineSnapshot, unknown[]];
  try {
    result = compute();
  } catch (error) {
    throw machineError(machine, entityId, eventType, error);
  }
  const [snapshot, actions] = result;
  if (snapshot.status === 'error') throw machineError(machine, entityId, eventType, snapshot.error);
  return [snapshot, actions as ActionLike[]];
}

/** Timers and emits found in the actions of one transition, applied to the unit of work. */
function collectEffects(
  uow: UnitOfWork,
  machine: LifecycleMachine,
  entityId: string,
  actions: readonly ActionLike[],
  context: { now: Date; correlation_id: string },
  emitted: EmittedMessage[],
): void {
  for (const action of actions) {
    const params = (action.params ?? {}) as Record<string, unknown>;
    if (action.type === 'xstate.emit') {
      emitted.push(params.event as EmittedMessage);
    } else if (action.type === 'xstate.raise' && typeof params.delay === 'number') {
      const event = params.event as { type: string };
      const id = typeof params.id === 'string' ? params.id : event.type;
      uow.setTimer({
        timer_id: timerIdOf(machine.id, entityId, id),
        machine: machine.id,
        entity_id: entityId,
        due_at: new Date(context.now.getTime() + params.delay).toISOString(),
        event: { type: event.type, correlation_id: context.correlation_id },
      });
    } else if (action.type === 'xstate.cancel' && typeof params.sendId === 'string') {
      uow.cancelTimer(timerIdOf(machine.id, entityId, params.sendId));
    }
  }
}

/**
 * Applies one delivery. A missing entity is created when the delivery allows it; otherwise
 * the delivery is refused with ENTITY_NOT_FOUND. A refused event changes nothing.
 */
export async function applyDelivery(
  uow: UnitOfWork,
  machine: LifecycleMachine,
  delivery: Delivery,
  now: Date,
  stepper: Stepper = reusableScopeStepper,
): Promise<StepResult> {
  const logic: AnyStateMachine = machine.logic;
  const { entity_id: entityId, event } = delivery;
  const existing = await uow.get(machine, entityId);
  const effects = { now, correlation_id: event.meta.correlation_id };
  let snapshot: AnyMachineSnapshot;
  const emitted: EmittedMessage[] = [];
  if (existing === undefined) {
    if (delivery.create === undefined) {
      return {
        delivery: { machine: machine.id, entity_id: entityId, from: null, to: null, outcome: 'refused', code: 'ENTITY_NOT_FOUND', reason: `${machine.id} "${entityId}" does not exist` },
        emitted,
        version: null,
      };
    }
    const input = delivery.create.input;
    const [created, actions] = run(machine, entityId, event.type, () => stepper.initialTransition(logic, input));
    collectEffects(uow, machine, entityId, actions, effects, emitted);
    snapshot = created;
    if (!delivery.create.applyEvent) {
      const entity = uow.put(machine, entityId, snapshot);
      return { delivery: { machine: machine.id, entity_id: entityId, from: null, to: entity.status, outcome: 'accepted' }, emitted, version: entity.stored_version + 1 };
    }
  } else {
    snapshot = existing.snapshot;
  }
  const from = existing?.status ?? null;
  // XState answers an event no transition takes with the very same snapshot and no actions
  // (what `can()` would say, without computing the step twice).
  const [next, actions] =
    snapshot.status === 'active'
      ? run(machine, entityId, event.type, () => stepper.transition(logic, snapshot, event))
      : [snapshot, []];
  if (next === snapshot && actions.length === 0) {
    if (existing === undefined) uow.put(machine, entityId, snapshot);
    const explanation = explainRefusal(logic, snapshot, event, machine.explainGuard?.(snapshot as never, event));
    return {
      delivery: { machine: machine.id, entity_id: entityId, from, to: from ?? explanation.state, outcome: 'refused', code: 'EVENT_REJECTED', reason: explanation.message, accepting_states: explanation.accepting_states },
      emitted,
      version: null,
    };
  }
  if (actions.length > 0) collectEffects(uow, machine, entityId, actions, effects, emitted);
  const entity = uow.put(machine, entityId, next);
  return { delivery: { machine: machine.id, entity_id: entityId, from, to: entity.status, outcome: 'accepted' }, emitted, version: entity.stored_version + 1 };
}
