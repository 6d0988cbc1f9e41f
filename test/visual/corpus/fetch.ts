/**
 * Fetching a greeting, from the XState examples (statelyai/xstate examples/fetch/src/fetchMachine.ts):
 * an invoke without an id whose `input` is computed from the context (once lost by the export,
 * issue 19, defect 7), `onDone`, `onError`, and a numeric `after` delay.
 */
import { assign, fromPromise, setup } from 'xstate';

async function getGreeting(name: string): Promise<{ greeting: string }> {
  await new Promise((resolve) => setTimeout(resolve, 10));
  return { greeting: `Hello, ${name}!` };
}

export const machine = setup({
  types: { context: {} as { name: string; data: { greeting: string } | null } },
  actors: { fetchUser: fromPromise(({ input }: { input: { name: string } }) => getGreeting(input.name)) },
}).createMachine({
  id: 'fetch',
  initial: 'idle',
  context: { name: 'World', data: null },
  states: {
    idle: { on: { FETCH: 'loading' } },
    loading: {
      invoke: {
        src: 'fetchUser',
        input: ({ context }) => ({ name: context.name }),
        onDone: { target: 'success', actions: assign({ data: ({ event }) => event.output }) },
        onError: 'failure',
      },
    },
    success: {},
    failure: { after: { 1000: 'loading' }, on: { RETRY: 'loading' } },
  },
});

/** The done event with the output the `assign` reads (every other event is discovered from the machine). */
export const events = [{ type: 'xstate.done.actor.0.fetch.loading', output: { greeting: 'Hello, World!' } }];

export const assertions = { context: true };
