/**
 * Which forced transitions the machine's definition shows to be unsafe. A forced move sets the
 * entity's state without taking an event: XState runs no transition, exit or entry action, so
 * nothing is emitted and no timer is armed. Whatever a state would have done on the way in or out
 * is therefore skipped, and the rules below refuse exactly the moves where skipping it would leave
 * the entity in a state it cannot be in by its own rules:
 *  - `to` must be a top-level state (the statuses users see); anything else is UNKNOWN_STATE.
 *  - The entity must not already be in `to` (a forced move that changes nothing is a mistake).
 *  - The entity must not be in a final state: reaching it told the other machines and services
 *    (BatchClosed, the confirmation of the associations); reopening one entity cannot undo that.
 *  - Entering `to` (with its initial descendants) must run nothing: no entry action, no delayed
 *    transition (`after`, whose timer would never be armed), no eventless transition (`always`,
 *    evaluated only when an event is taken), no invocation.
 *  - Leaving the current state must run nothing but the cancellation of its own delayed events;
 *    those timers are cancelled by the forced move itself (see `delayedEventsLeft`).
 * Context is kept as it is. What these rules cannot see (a batch forced into
 * `processing_pipelines` with no run in its context) is for the engine's invariants to refuse.
 */
import type { AnyMachineSnapshot, AnyStateMachine, AnyStateNode } from 'xstate';
import { statusOfValue, type LifecycleMachine } from '../../machines/lifecycle-machine.js';
import { LifecycleError } from '../errors.js';

/** The top-level states of a machine, and why a forced move into each is refused (null: allowed). */
export interface ForceTarget {
  readonly state: string;
  /** Why no entity may be forced into this state, or null when the source state decides. */
  readonly refused: string | null;
}

interface ActionLike {
  readonly type?: unknown;
}

function actionsOf(list: readonly unknown[]): ActionLike[] {
  return list.filter((action): action is ActionLike => (typeof action === 'object' || typeof action === 'function') && action !== null);
}

/** The node and every descendant a forced move into `node` enters (initial children, all regions). */
function enteredBy(logic: AnyStateMachine, state: string): AnyStateNode[] {
  const snapshot = logic.resolveState({ value: state, context: {} }) as AnyMachineSnapshot;
  return snapshot._nodes.filter((node) => node !== logic.root);
}

/** Why entering `nodes` cannot be skipped, or null when it runs nothing. */
function entryProblem(nodes: readonly AnyStateNode[]): string | null {
  for (const node of nodes) {
    if (node.after.length > 0) return `entering "${node.key}" arms a delayed transition (after) that a forced move would never arm`;
    if ((node.always?.length ?? 0) > 0) return `"${node.key}" has an eventless transition (always) that a forced move would not evaluate`;
    if (node.invoke.length > 0) return `entering "${node.key}" starts an invocation that a forced move would not start`;
    if (node.entry.length > 0) return `entering "${node.key}" runs entry actions that a forced move would skip`;
  }
  return null;
}

/** Every top-level state of `machine`, with the definition's verdict on forcing into it. */
export function forceTargets(machine: LifecycleMachine): ForceTarget[] {
  const logic: AnyStateMachine = machine.logic;
  return Object.keys(logic.root.states).map((state) => ({ state, refused: entryProblem(enteredBy(logic, state)) }));
}

function refuse(machine: LifecycleMachine, entityId: string, from: string, to: string, why: string): LifecycleError {
  return new LifecycleError('FORCE_REFUSED', `cannot force ${machine.id} "${entityId}" from "${from}" to "${to}": ${why}`, {
    details: { machine: machine.id, entity_id: entityId, from, to },
  });
}

/** Why leaving the nodes of `current` that `target` does not hold cannot be skipped, or null. */
function exitProblem(current: AnyMachineSnapshot, target: AnyMachineSnapshot): string | null {
  const kept = new Set(target._nodes);
  for (const node of current._nodes) {
    if (kept.has(node)) continue;
    const exits = actionsOf(node.exit).filter((action) => action.type !== 'xstate.cancel');
    if (exits.length > 0) return `leaving "${node.key}" runs exit actions that a forced move would skip`;
  }
  return null;
}

/**
 * The snapshot a forced move of an entity in `current` to `to` produces (same context), or the
 * LifecycleError saying why the move is refused (UNKNOWN_STATE, FORCE_REFUSED).
 */
export function forcedSnapshot(machine: LifecycleMachine, entityId: string, current: AnyMachineSnapshot, to: string): AnyMachineSnapshot {
  const logic: AnyStateMachine = machine.logic;
  const states = Object.keys(logic.root.states);
  if (!Object.hasOwn(logic.root.states, to)) {
    throw new LifecycleError('UNKNOWN_STATE', `"${to.slice(0, 100)}" is not a state of ${machine.id} (states: ${states.join(', ')})`, {
      details: { machine: machine.id, entity_id: entityId, to: to.slice(0, 100), states },
    });
  }
  const from = statusOfValue(current.value as Parameters<typeof statusOfValue>[0]);
  if (from === to) throw refuse(machine, entityId, from, to, 'it is already there');
  if (current.status !== 'active') throw refuse(machine, entityId, from, to, `"${from}" is final: reaching it told the other machines it ended, which reopening it would not undo`);
  const why = entryProblem(enteredBy(logic, to));
  if (why !== null) throw refuse(machine, entityId, from, to, why);
  const target = logic.resolveState({ value: to, context: current.context as Record<string, unknown> }) as AnyMachineSnapshot;
  const exit = exitProblem(current, target);
  if (exit !== null) throw refuse(machine, entityId, from, to, exit);
  return target;
}

/** The event types of the delayed transitions armed in `current` that a move to `target` leaves (their timers go). */
export function delayedEventsLeft(current: AnyMachineSnapshot, target: AnyMachineSnapshot): string[] {
  const kept = new Set<AnyStateNode>(target._nodes);
  const left: AnyStateNode[] = current._nodes.filter((node: AnyStateNode) => !kept.has(node));
  return left.flatMap((node) => node.after.map((transition): string => String(transition.eventType)));
}
