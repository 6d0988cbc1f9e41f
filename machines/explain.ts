/** Explains why a machine refuses an event: its current state and the states that would accept it. */
import type { AnyStateMachine, AnyStateNode, SnapshotFrom } from 'xstate';
import { statusOfValue } from './lifecycle-machine.js';

/** The explanation of a refusal. */
export interface RefusalExplanation {
  /** The status the entity is in (top-level state). */
  readonly state: string;
  /** Top-level states in which an event of this type has a transition (guards not evaluated). */
  readonly accepting_states: readonly string[];
  /** Human-readable sentence naming both. */
  readonly message: string;
}

function handles(node: AnyStateNode, eventType: string): boolean {
  if (node.type === 'final') return false;
  if (Object.hasOwn(node.on, eventType)) return true;
  return Object.values(node.states).some((child) => handles(child, eventType));
}

/**
 * Top-level states that have a transition for `eventType` (their own, a descendant's, or
 * the machine root's, which applies to every non-final state).
 */
export function acceptingStates(machine: AnyStateMachine, eventType: string): string[] {
  const rootHandles = Object.hasOwn(machine.root.on, eventType);
  return Object.entries(machine.root.states)
    .filter(([, node]) => node.type !== 'final' && (rootHandles || handles(node, eventType)))
    .map(([name]) => name);
}

/** Explains a refusal of `event` by `machine` in `snapshot`. Never throws. */
export function explainRefusal<M extends AnyStateMachine>(
  machine: M,
  snapshot: SnapshotFrom<M>,
  event: { readonly type: string },
  guardReason?: string,
): RefusalExplanation {
  const state = statusOfValue((snapshot as { value: Parameters<typeof statusOfValue>[0] }).value);
  const accepting = acceptingStates(machine, event.type);
  const where = accepting.length === 0 ? 'no state accepts it' : `accepted in: ${accepting.join(', ')}`;
  const message =
    guardReason !== undefined
      ? `${event.type} refused in state "${state}": ${guardReason}`
      : accepting.includes(state)
        ? `${event.type} refused in state "${state}": its conditions are not met (${where})`
        : `${event.type} is not accepted in state "${state}" (${where})`;
  return { state, accepting_states: accepting, message };
}
