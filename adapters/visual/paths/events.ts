/**
 * Event discovery: the event types a machine handles, read from its own transitions (its `on` keys,
 * the done and error events of its invokes and the `after` events under XState's generated names,
 * such as `xstate.done.actor.0.friend.saving` or `xstate.after.1000.fetch.failure`), so a user
 * supplies payload samples only for the events that need one.
 */
import type { AnyMachineSnapshot, AnyStateMachine, EventObject } from 'xstate';
import { machineGraph } from '../graph.js';

/** Event types XState raises itself (a compound state's done event) or that no sample can stand for (wildcards). */
function isExplorable(eventType: string): boolean {
  return eventType !== '' && !eventType.includes('*') && !eventType.startsWith('xstate.done.state.') && eventType !== 'xstate.init';
}

/** One event without payload for every event type `machine` handles, in document order. */
export function discoverEvents(machine: AnyStateMachine): EventObject[] {
  const types = new Set<string>();
  for (const transition of machineGraph(machine).transitions) {
    if (transition.kind !== 'always' && isExplorable(transition.eventType)) types.add(transition.eventType);
  }
  return [...types].map((type) => ({ type }));
}

/** Samples given by the user: a list, or a function of the snapshot. */
export type EventSamples = readonly EventObject[] | ((snapshot: AnyMachineSnapshot) => readonly EventObject[]);

/**
 * The events to explore in a snapshot: the user's samples, then a bare event for every discovered
 * type the samples do not cover (all of them when there are no samples).
 */
export function sampleEvents(machine: AnyStateMachine, samples?: EventSamples): (snapshot: AnyMachineSnapshot) => readonly EventObject[] {
  const discovered = discoverEvents(machine);
  if (samples === undefined) return () => discovered;
  const complete = (given: readonly EventObject[]): EventObject[] => {
    const covered = new Set(given.map((event) => event.type));
    return [...given, ...discovered.filter((event) => !covered.has(event.type))];
  };
  if (typeof samples !== 'function') {
    const events = complete(samples);
    return () => events;
  }
  return (snapshot) => complete((samples as (snapshot: AnyMachineSnapshot) => readonly EventObject[])(snapshot));
}
