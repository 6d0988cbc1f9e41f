/**
 * The tracer of path generation: steps a machine with an inert actor scope and records, for each
 * macrostep, the transition definitions XState took (eventless ones included), the states it
 * passed through, the history states it restored (and what they restored) and the topics it emitted.
 */
import {
  createActor,
  type ActorScope,
  type AnyActorRef,
  type AnyMachineSnapshot,
  type AnyStateMachine,
  type AnyStateNode,
  type AnyTransitionDefinition,
  type EventObject,
  type InspectionEvent,
} from 'xstate';
import { transitionIds } from '../graph.js';
import { historyRestoreKeys } from './history.js';

/** What one traced step did. */
export interface Trace {
  readonly next: AnyMachineSnapshot;
  readonly transitions: readonly string[];
  /** Every state active at the end of any microstep (transient states included), and every history state entered. */
  readonly states: readonly string[];
  /** `<history state id> <- <restored configuration>` for every history state the step entered. */
  readonly restores: readonly string[];
  readonly emitted: readonly string[];
  /** The emitted events themselves (JSON copies), in order. */
  readonly emittedEvents: readonly EventObject[];
}

/**
 * Lets the tracer's system hold any number of actors under one system id: every explored step
 * spawns again the children a real actor would spawn once, and XState's own system refuses a
 * second actor with the same `systemId` ("Actor with system ID '...' already exists"). The last
 * one spawned answers `system.get(id)`, as a fresh system per step would.
 */
function allowRespawnedSystemIds(self: AnyActorRef): void {
  const keyed = new Map<string, AnyActorRef>();
  const system = self.system as unknown as Record<string, unknown>;
  system._set = (systemId: string, actorRef: AnyActorRef): void => {
    keyed.set(systemId, actorRef);
  };
  system.get = (systemId: string): AnyActorRef | undefined => keyed.get(systemId);
  system.getAll = (): Record<string, AnyActorRef> => Object.fromEntries(keyed);
}

/** Steps `machine` with an inert actor scope that records the transitions and emits of each macrostep. */
export class Tracer {
  private sink: AnyTransitionDefinition[][] = [];
  private visited = new Set<string>();
  private restored = new Set<string>();
  private emitted: EventObject[] = [];
  private readonly scope: ActorScope<AnyMachineSnapshot, EventObject>;
  private readonly ids: Map<AnyTransitionDefinition, string>;

  constructor(private readonly machine: AnyStateMachine, input: unknown) {
    this.ids = transitionIds(machine);
    const self = createActor(machine, { input });
    allowRespawnedSystemIds(self);
    self.system.inspect((event: InspectionEvent) => {
      if (event.type !== '@xstate.microstep') return;
      this.sink.push(event._transitions);
      const snapshot = event.snapshot as AnyMachineSnapshot;
      for (const id of activeStates(snapshot, machine.root.id)) this.visited.add(id);
      for (const history of historyTargets(event._transitions)) {
        this.visited.add(history.id);
        historyRestoreKeys(history, snapshot).forEach((item) => this.restored.add(item));
      }
    });
    this.scope = {
      self,
      id: '',
      sessionId: '',
      logger: () => undefined,
      defer: () => undefined,
      emit: () => undefined,
      system: self.system,
      stopChild: () => undefined,
      actionExecutor: (action) => {
        if (action.type !== 'xstate.emit') return;
        const event = (action.params as { event?: { type?: unknown } } | undefined)?.event;
        if (typeof event?.type === 'string') this.emitted.push(JSON.parse(JSON.stringify(event)) as EventObject);
      },
    };
  }

  private collect(next: AnyMachineSnapshot): Trace {
    const transitions = this.sink.flat().map((transition) => this.ids.get(transition) ?? `${transition.source.id}:${String(transition.eventType)}:?`);
    for (const id of activeStates(next, this.machine.root.id)) this.visited.add(id);
    const trace: Trace = {
      next,
      transitions,
      states: [...this.visited],
      restores: [...this.restored],
      emitted: this.emitted.map((event) => event.type),
      emittedEvents: this.emitted,
    };
    this.reset();
    return trace;
  }

  private reset(): void {
    this.sink = [];
    this.visited = new Set();
    this.restored = new Set();
    this.emitted = [];
  }

  initial(input: unknown): Trace {
    this.reset();
    return this.collect(this.machine.getInitialSnapshot(this.scope, input) as AnyMachineSnapshot);
  }

  step(snapshot: AnyMachineSnapshot, event: EventObject): Trace {
    this.reset();
    return this.collect(this.machine.transition(snapshot, event, this.scope) as AnyMachineSnapshot);
  }
}

export const serializeEvent = (event: EventObject): string => JSON.stringify(event);

/** The state node ids active in a snapshot (root excluded). */
function activeStates(snapshot: AnyMachineSnapshot, rootId: string): string[] {
  return snapshot._nodes.map((node) => node.id).filter((id) => id !== rootId);
}

/** The history states targeted by the transitions of one microstep. */
function historyTargets(transitions: readonly AnyTransitionDefinition[]): AnyStateNode[] {
  return transitions.flatMap((transition) => (transition.target ?? []).filter((target) => target.type === 'history'));
}
