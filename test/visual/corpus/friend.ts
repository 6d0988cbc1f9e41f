/**
 * One friend of the friends list, from the XState examples
 * (statelyai/xstate examples/friends-list-react/src/friendMachine.ts): `input`, tags, and an invoke
 * without an id (its done event is `xstate.done.actor.0.friend.saving`, found by event discovery).
 */
import { assign, fromPromise, setup } from 'xstate';

export const machine = setup({
  types: {
    context: {} as { prevName: string; name: string },
    events: {} as { type: 'SET_NAME'; value: string } | { type: 'SAVE' } | { type: 'EDIT' } | { type: 'CANCEL' },
    input: {} as { name: string },
    tags: {} as 'read' | 'form' | 'saving',
  },
  actors: {
    saveUser: fromPromise(async () => {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      return true;
    }),
  },
}).createMachine({
  id: 'friend',
  initial: 'reading',
  context: ({ input }) => ({ prevName: input.name, name: input.name }),
  states: {
    reading: { tags: 'read', on: { EDIT: 'editing' } },
    editing: {
      tags: 'form',
      on: { SET_NAME: { actions: assign({ name: ({ event }) => event.value }) }, SAVE: { target: 'saving' } },
    },
    saving: {
      tags: ['form', 'saving'],
      invoke: { src: 'saveUser', onDone: { target: 'reading', actions: assign({ prevName: ({ context }) => context.name }) } },
    },
  },
  on: { CANCEL: { actions: assign({ name: ({ context }) => context.prevName }), target: '.reading' } },
});

export const input = { name: 'Ada' };

export const events = [{ type: 'SET_NAME', value: 'Grace' }];
