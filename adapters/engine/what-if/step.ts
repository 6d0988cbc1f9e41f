/**
 * One recorded delivery re-applied to one machine, purely: the same rules as the engine's step
 * (a missing entity is created when the delivery allows it, an event no transition takes is a
 * refusal, an actor error is an error), with nothing stored. What it emitted is kept for comparing.
 */
import type { AnyMachineSnapshot, AnyStateMachine, StateValue } from 'xstate';
import { statusOfValue, type LifecycleMachine } from '../../../machines/lifecycle-machine.js';
import type { Delivery } from '../../../machines/routing.js';
import { pureInitialTransition, pureTransition } from '../pure.js';

/** What a machine did with one recorded event. */
export interface ReplayedStep {
  readonly outcome: 'accepted' | 'refused' | 'error';
  /** The entity's status after the step (null while it does not exist). */
  readonly status: string | null;
  /** The full state value after the step (null while it does not exist). */
  readonly value: StateValue | null;
  /** The messages the step emitted, in order. */
  readonly emitted: readonly unknown[];
  /** The machine's error, for `error`. */
  readonly error?: string;
}

/** A step and the snapshot it left (undefined while the entity does not exist). */
export interface StepState {
  readonly step: ReplayedStep;
  readonly snapshot: AnyMachineSnapshot | undefined;
}

function emittedOf(actions: readonly unknown[]): unknown[] {
  const out: unknown[] = [];
  for (const action of actions as ReadonlyArray<{ type?: unknown; params?: { event?: unknown } }>) {
    if (action.type === 'xstate.emit') out.push(action.params?.event);
  }
  return out;
}

function viewOf(outcome: ReplayedStep['outcome'], snapshot: AnyMachineSnapshot | undefined, emitted: readonly unknown[]): ReplayedStep {
  const value = snapshot === undefined ? null : (snapshot.value as StateValue);
  return { outcome, status: value === null ? null : statusOfValue(value), value, emitted };
}

function failed(snapshot: AnyMachineSnapshot | undefined, error: unknown): StepState {
  const message = error instanceof Error ? error.message : String(error);
  return { step: { ...viewOf('error', snapshot, []), error: message }, snapshot };
}

/** Applies `delivery` to `snapshot` (undefined: the entity does not exist yet) with `machine`. */
export function replayStep(machine: LifecycleMachine, snapshot: AnyMachineSnapshot | undefined, delivery: Delivery): StepState {
  const logic: AnyStateMachine = machine.logic;
  let current = snapshot;
  const emitted: unknown[] = [];
  try {
    if (current === undefined) {
      if (delivery.create === undefined) return { step: viewOf('refused', undefined, []), snapshot: undefined };
      const [created, actions] = pureInitialTransition(logic, delivery.create.input);
      if (created.status === 'error') return failed(undefined, created.error);
      emitted.push(...emittedOf(actions));
      current = created;
      if (!delivery.create.applyEvent) return { step: viewOf('accepted', current, emitted), snapshot: current };
    }
    if (current.status !== 'active') return { step: viewOf('refused', current, emitted), snapshot: current };
    const [next, actions] = pureTransition(logic, current, delivery.event);
    if (next.status === 'error') return failed(current, next.error);
    if (next === current && actions.length === 0) return { step: viewOf('refused', current, emitted), snapshot: current };
    emitted.push(...emittedOf(actions));
    return { step: viewOf('accepted', next, emitted), snapshot: next };
  } catch (error) {
    return failed(current, error);
  }
}
