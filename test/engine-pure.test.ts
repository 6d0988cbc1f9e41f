/**
 * The engine's reusable-scope stepper (adapters/engine/pure.ts) builds an actor scope by hand
 * over XState internals. This guard fails on an XState upgrade that changes what a step computes:
 * in every explored (state, event) of the four machines, it must give exactly XState's own
 * `transition()` / `initialTransition()` answer (the persisted next snapshot and the actions).
 */
import { describe, expect, it } from 'vitest';
import type { AnyMachineSnapshot, EventObject } from 'xstate';
import { reusableScopeStepper, xstateStepper } from '../adapters/engine/pure.js';
import { explore } from '../adapters/visual/paths/explore.js';
import { projectSubjects } from '../adapters/visual/samples/index.js';

/** What a step computed, in a comparable form: the persisted snapshot and each action's type and params. */
function comparable(subject: ReturnType<typeof projectSubjects>[number], [snapshot, actions]: [AnyMachineSnapshot, unknown[]]): unknown {
  return {
    snapshot: JSON.parse(JSON.stringify(subject.machine.getPersistedSnapshot(snapshot))) as unknown,
    actions: actions.map((action) => {
      const { type, params, args } = action as { type?: unknown; params?: unknown; args?: unknown };
      return JSON.parse(JSON.stringify({ type, params, args })) as unknown;
    }),
  };
}

/** Every explored (source snapshot, event) pair of a subject. */
function exploredSteps(subject: ReturnType<typeof projectSubjects>[number]): Array<{ source: AnyMachineSnapshot; event: EventObject }> {
  const steps: Array<{ source: AnyMachineSnapshot; event: EventObject }> = [];
  for (const seed of subject.seeds) {
    const exploration = explore(subject, seed);
    for (const [vertex, edges] of exploration.edges) {
      const source = exploration.reach.get(vertex)?.snapshot;
      if (source === undefined) continue;
      for (const { event } of edges.values()) steps.push({ source, event });
    }
  }
  return steps;
}

describe.each(projectSubjects())('reusable-scope stepper on $id', (subject) => {
  it("computes exactly XState's transition() in every explored (state, event)", () => {
    const steps = exploredSteps(subject);
    expect(steps.length).toBeGreaterThan(0);
    for (const { source, event } of steps) {
      const ours = comparable(subject, reusableScopeStepper.transition(subject.machine, source, event));
      const xstates = comparable(subject, xstateStepper.transition(subject.machine, source, event));
      expect(ours, `${subject.id} ${JSON.stringify(source.value)} on ${event.type}`).toEqual(xstates);
    }
  });

  it("computes exactly XState's initialTransition() for every seed", () => {
    for (const seed of subject.seeds) {
      const ours = comparable(subject, reusableScopeStepper.initialTransition(subject.machine, seed.input));
      const xstates = comparable(subject, xstateStepper.initialTransition(subject.machine, seed.input));
      expect(ours).toEqual(xstates);
    }
  });
});
