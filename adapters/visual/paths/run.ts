/**
 * Running a chosen path again through the real machine (a fresh tracer from the seed's input), so
 * every expected value, transition and recorded fact is what the machine really does on that path.
 */
import type { AnyMachineSnapshot, AnyStateMachine, EventObject, StateValue } from 'xstate';
import { Tracer, type Trace } from './tracer.js';
import type { GeneratedPath, PathSeed, PathStep, RecordOptions } from './types.js';

/** A path run again: its steps and everything its steps visited. */
export interface RunPath {
  readonly path: GeneratedPath;
  readonly states: ReadonlySet<string>;
  readonly transitions: ReadonlySet<string>;
  readonly restores: ReadonlySet<string>;
}

/** A JSON copy of a value (actor references become `{ xstate$$type, id }`, functions vanish). */
function jsonCopy(value: unknown): unknown {
  return value === undefined ? undefined : (JSON.parse(JSON.stringify(value)) as unknown);
}

/** The step of a path as recorded: value and transitions, plus what `record` asks for. */
function stepOf(event: EventObject, trace: Trace, record: RecordOptions): PathStep {
  const snapshot = trace.next;
  return {
    event,
    value: snapshot.value as StateValue,
    transitions: trace.transitions,
    ...(record.context === true ? { context: jsonCopy(snapshot.context) } : {}),
    ...(record.output === true && snapshot.status === 'done' ? { output: jsonCopy(snapshot.output) } : {}),
    ...(record.emitted === true ? { emitted: trace.emittedEvents } : {}),
  };
}

/**
 * Runs `events` from the seed's initial snapshot with the real machine. Throws when a step
 * is refused: the serializer merged two snapshots that behave differently.
 */
export function runPath(machine: AnyStateMachine, seed: PathSeed, events: readonly EventObject[], id: string, record: RecordOptions = {}): RunPath {
  const tracer = new Tracer(machine, seed.input);
  const first = tracer.initial(seed.input);
  const states = new Set(first.states);
  const transitions = new Set(first.transitions);
  const restores = new Set(first.restores);
  let snapshot: AnyMachineSnapshot = first.next;
  const steps = events.map((event, index) => {
    if (!snapshot.can(event)) {
      throw new Error(
        `path ${id}: step ${index + 1} (${event.type}) is refused in ${JSON.stringify(snapshot.value)} when the path is run again; ` +
          'the state serializer merges snapshots that behave differently (add the deciding context fact to it)',
      );
    }
    const trace = tracer.step(snapshot, event);
    snapshot = trace.next;
    trace.states.forEach((state) => states.add(state));
    trace.transitions.forEach((transition) => transitions.add(transition));
    trace.restores.forEach((restore) => restores.add(restore));
    return stepOf(event, trace, record);
  });
  const path: GeneratedPath = {
    id,
    seed: seed.name,
    start: first.next.value as StateValue,
    ...(record.context === true ? { startContext: jsonCopy(first.next.context) } : {}),
    steps,
  };
  return { path, states, transitions, restores };
}
