/**
 * A bounded counter: the 7GUIs counter of the XState examples (statelyai/xstate
 * examples/7guis-counter-react/src/counterMachine.ts) with the limit guard of the XState docs'
 * guards page (stately.ai/docs/guards) and the limit given as `input` (stately.ai/docs/input).
 * Keyed on `count < limit`, the fact the guard reads, which once reported `full` unreachable.
 */
import { assign, setup, type SnapshotFrom } from 'xstate';

export const machine = setup({
  types: {
    context: {} as { count: number; limit: number },
    input: {} as { limit: number },
    events: {} as { type: 'increment' } | { type: 'reset' },
  },
  guards: {
    belowLimit: ({ context }) => context.count < context.limit,
    atLimit: ({ context }) => context.count >= context.limit,
  },
  actions: { increment: assign({ count: ({ context }) => context.count + 1 }) },
}).createMachine({
  id: 'counter',
  context: ({ input }) => ({ count: 0, limit: input.limit }),
  initial: 'counting',
  states: {
    counting: {
      always: { guard: 'atLimit', target: 'full' },
      on: { increment: { guard: 'belowLimit', actions: 'increment' } },
    },
    full: { on: { reset: { target: 'counting', actions: assign({ count: 0 }) } } },
  },
});

export const input = { limit: 3 };

/** The key the old README advice led to. */
export function serializeState(snapshot: SnapshotFrom<typeof machine>): string {
  return JSON.stringify([snapshot.value, snapshot.context.count < snapshot.context.limit]);
}
