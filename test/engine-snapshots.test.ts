/**
 * persistSnapshot: the engine's direct copy of a plain-context snapshot must store exactly what
 * XState's getPersistedSnapshot would, in every state of every machine, and must fall back to
 * XState's own persistence where a snapshot holds children or the machine is not plain.
 */
import { describe, expect, it } from 'vitest';
import { assign, createMachine, createActor, fromPromise, type AnyMachineSnapshot } from 'xstate';
import { defaultMachines } from '../adapters/engine/registry.js';
import { persistSnapshot } from '../adapters/engine/snapshots.js';
import { explore } from '../adapters/visual/paths/explore.js';
import { projectSubjects } from '../adapters/visual/samples/index.js';
import type { LifecycleMachine } from '../machines/lifecycle-machine.js';

const machines = defaultMachines();

/** Every snapshot an exploration of the subject reached, after every explored step. */
function reachedSnapshots(subject: ReturnType<typeof projectSubjects>[number]): AnyMachineSnapshot[] {
  const found: AnyMachineSnapshot[] = [];
  for (const seed of subject.seeds) {
    const exploration = explore(subject, seed);
    found.push(exploration.start);
    for (const edges of exploration.edges.values()) for (const { trace } of edges.values()) found.push(trace.next);
  }
  return found;
}

describe.each(projectSubjects())('persistSnapshot on $id', (subject) => {
  it('stores byte for byte what XState getPersistedSnapshot stores, in every reachable state', () => {
    const machine = machines[subject.id];
    if (machine === undefined) throw new Error(`no machine ${subject.id}`);
    expect(machine.plainContext).toBe(true);
    const snapshots = reachedSnapshots(subject);
    expect(snapshots.length).toBeGreaterThan(2);
    for (const snapshot of snapshots) {
      expect(JSON.stringify(persistSnapshot(machine, snapshot))).toBe(JSON.stringify(subject.machine.getPersistedSnapshot(snapshot)));
    }
  });
});

describe('persistSnapshot fallback to XState', () => {
  const spawning = createMachine({
    id: 'spawning',
    context: { count: 0 },
    initial: 'working',
    states: {
      working: {
        invoke: { id: 'job', src: 'job' },
        on: { DONE: { target: 'done', actions: assign({ count: ({ context }) => context.count + 1 }) } },
      },
      done: { type: 'final' },
    },
  }).provide({ actors: { job: fromPromise(() => new Promise<void>(() => undefined)) } });

  it('persists the children of a snapshot that has some, even when the machine claims a plain context', () => {
    const actor = createActor(spawning).start();
    const snapshot = actor.getSnapshot();
    const claimed: LifecycleMachine = { id: 'spawning', version: 1, logic: spawning, plainContext: true };
    const persisted = persistSnapshot(claimed, snapshot) as { children: Record<string, unknown> };
    expect(Object.keys(persisted.children)).toEqual(['job']);
    expect(JSON.stringify(persisted)).toBe(JSON.stringify(spawning.getPersistedSnapshot(snapshot)));
    actor.stop();
  });

  it('uses XState persistence for a machine without plainContext', () => {
    const actor = createActor(spawning).start();
    actor.send({ type: 'DONE' });
    const snapshot = actor.getSnapshot();
    const machine: LifecycleMachine = { id: 'spawning', version: 1, logic: spawning };
    expect(persistSnapshot(machine, snapshot)).toEqual(spawning.getPersistedSnapshot(snapshot));
    expect(snapshot.status).toBe('done');
  });
});
