/**
 * The tracer of path generation: steps a machine with an inert actor scope and records, for each
 * macrostep, the transition definitions XState took (eventless ones included), the states it
 * passed through and the topics it emitted.
 */
import {
  createActor,
  type ActorScope,
  type AnyMachineSnapshot,
  type AnyStateMachine,
  type AnyTransitionDefinition,
  type EventObject,
  type InspectionEvent,
} from 'xstate';
import { transitionIds } from '../graph.js';

/** What one traced step did. */
export interface Trace {
  readonly next: AnyMachineSnapshot;
  readonly transitions: readonly string[];
  /** Every state active at the end of any microstep (transient states included). */
  readonly states: readonly string[];
  readonly emitted: readonly string[];
}

/** Steps `machine` with an inert actor scope that records the transitions and emits of each macrostep. */
export class Tracer {
  private sink: AnyTransitionDefinition[][] = [];
  private visited = new Set<string>();
  private emitted: string[] = [];
  private readonly scope: ActorScope<AnyMachineSnapshot, EventObject>;
  private readonly ids: Map<AnyTransitionDefinition, string>;

  constructor(private readonly machine: AnyStateMachine, input: unknown) {
    this.ids = transitionIds(machine);
    const self = createActor(machine, { input });
    self.system.inspect((event: InspectionEvent) => {
      if (event.type !== '@xstate.microstep') return;
      this.sink.push(event._transitions);
      for (const id of activeStates(event.snapshot as AnyMachineSnapshot, machine.root.id)) this.visited.add(id);
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
        if (typeof event?.type === 'string') this.emitted.push(event.type);
      },
    };
  }

  private collect(next: AnyMachineSnapshot): Trace {
    const transitions = this.sink.flat().map((transition) => this.ids.get(transition) ?? `${transition.source.id}:${String(transition.eventType)}:?`);
    for (const id of activeStates(next, this.machine.root.id)) this.visited.add(id);
    const trace = { next, transitions, states: [...this.visited], emitted: this.emitted };
    this.reset();
    return trace;
  }

  private reset(): void {
    this.sink = [];
    this.visited = new Set();
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
export const serializeValue = (snapshot: AnyMachineSnapshot): string => JSON.stringify(snapshot.value);

/** The state node ids active in a snapshot (root excluded). */
function activeStates(snapshot: AnyMachineSnapshot, rootId: string): string[] {
  return snapshot._nodes.map((node) => node.id).filter((id) => id !== rootId);
}
