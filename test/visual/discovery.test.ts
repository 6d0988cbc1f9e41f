/**
 * The API @xstate/graph users expect: event types discovered from the machine (invoke done/error
 * and `after` events under XState's generated ids), paths to a chosen state, simple paths, and the
 * second exploration when a key is coarser than the guards need.
 */
import { describe, expect, it } from 'vitest';
import type { EventObject } from 'xstate';
import { discoverEvents, findPaths, inStates, planPaths, sampleEvents, type PathSubject } from '../../adapters/visual/index.js';
import { machine as counter } from './corpus/counter.js';
import { machine as fetchMachine } from './corpus/fetch.js';
import { machine as friend } from './corpus/friend.js';
import { machine as donut } from './corpus/donut.js';

describe('discoverEvents', () => {
  it('lists every event type the machine handles, with invoke and after events under their generated ids', () => {
    expect(discoverEvents(fetchMachine).map((event) => event.type)).toEqual([
      'FETCH',
      'xstate.done.actor.0.fetch.loading',
      'xstate.error.actor.0.fetch.loading',
      'RETRY',
      'xstate.after.1000.fetch.failure',
    ]);
    expect(discoverEvents(friend).map((event) => event.type)).toContain('xstate.done.actor.0.friend.saving');
  });

  it('adds a bare event for every type the samples leave out, and none for the types they cover', () => {
    const samples: EventObject[] = [{ type: 'SET_NAME', value: 'Grace' } as EventObject];
    const events = sampleEvents(friend, samples);
    const offered = events(undefined as never);
    expect(offered.filter((event) => event.type === 'SET_NAME')).toEqual([{ type: 'SET_NAME', value: 'Grace' }]);
    expect(offered.map((event) => event.type)).toEqual(expect.arrayContaining(['EDIT', 'SAVE', 'CANCEL', 'xstate.done.actor.0.friend.saving']));
  });
});

describe('findPaths', () => {
  const subject: PathSubject = { machine: donut, seeds: [{ name: 'default' }], events: sampleEvents(donut) };

  it('gives the shortest path to a chosen state', () => {
    const [path, ...others] = findPaths(subject, { toState: inStates(['fry']) });
    expect(others).toEqual([]);
    expect(path?.steps.map((step) => step.event.type)).toEqual(['NEXT', 'NEXT', 'MIXED_DRY', 'MIXED_WET']);
    expect(path?.steps.at(-1)?.value).toBe('fry');
  });

  it('gives every simple path to a state reachable two ways', () => {
    const paths = findPaths(subject, { strategy: 'simple', toState: inStates(['directions.allMixed', 'fry']) });
    expect(paths.map((path) => path.steps.map((step) => step.event.type).join(' '))).toEqual(['NEXT NEXT MIXED_DRY MIXED_WET', 'NEXT NEXT MIXED_WET MIXED_DRY']);
  });
});

describe('a key coarser than the guards need', () => {
  const subject: PathSubject = {
    machine: counter,
    seeds: [{ name: 'limit 3', input: { limit: 3 } }],
    events: sampleEvents(counter),
    serializeState: (snapshot) => JSON.stringify([snapshot.value, (snapshot.context as { count: number; limit: number }).count < 3]),
  };

  it('no longer hides a reachable state, and says which fact the key lacked', () => {
    const plan = planPaths(subject);
    expect(plan.coverage.states.missing).toEqual([]);
    expect(plan.hints).toEqual([expect.stringMatching(/state full; .*the context facts that tell them apart: count \(key on their raw values\)$/)]);
  });

  it('reports the merge instead when the second exploration is off', () => {
    expect(planPaths({ ...subject, snapshotsPerKey: 0 }).coverage.states.missing).toEqual(['full']);
  });
});
