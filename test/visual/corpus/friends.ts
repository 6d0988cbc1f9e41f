/**
 * The friends list, from the XState examples (statelyai/xstate examples/friends-list-react/src/friendsMachine.ts):
 * friends are spawned actors held in the context, removed with `stopChild`. @xstate/graph throws
 * "Traversal limit exceeded" on it with a context key; keyed on the number of friends it is small.
 */
import { assign, createMachine, stopChild, type ActorRefFrom, type SnapshotFrom } from 'xstate';
import { machine as friendMachine } from './friend.js';

let made = 0;
/** A deterministic id (the example's is random). */
const makeId = (): string => String((made += 1));

export const machine = createMachine({
  types: {} as {
    context: { newFriendName: string; friends: Array<ActorRefFrom<typeof friendMachine>> };
    events: { type: 'FRIENDS.ADD'; name: string } | { type: 'NEW_FRIEND.CHANGE'; name: string } | { type: 'FRIEND.REMOVE'; index: number };
  },
  id: 'friends',
  context: { newFriendName: '', friends: [] },
  on: {
    'NEW_FRIEND.CHANGE': { actions: assign({ newFriendName: ({ event }) => event.name }) },
    'FRIENDS.ADD': {
      guard: ({ event }) => event.name.trim().length > 0,
      actions: assign({
        friends: ({ context, spawn }) => context.friends.concat(spawn(friendMachine, { id: `friend-${makeId()}`, input: { name: context.newFriendName } })),
        newFriendName: '',
      }),
    },
    'FRIEND.REMOVE': {
      actions: [
        stopChild(({ context, event }) => context.friends[event.index] ?? ''),
        assign({ friends: ({ context, event }) => context.friends.filter((_, index) => index !== event.index) }),
      ],
    },
  },
});

export const events = [
  { type: 'NEW_FRIEND.CHANGE', name: 'Ada' },
  { type: 'FRIENDS.ADD', name: 'Ada' },
  { type: 'FRIEND.REMOVE', index: 0 },
];

/** Keyed on the number of friends, at most two explored. */
export function serializeState(snapshot: SnapshotFrom<typeof machine>): string {
  return JSON.stringify([snapshot.value, Math.min(snapshot.context.friends.length, 2)]);
}
