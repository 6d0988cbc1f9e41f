/**
 * The die-hard water jugs, from the XState repository's graph tests
 * (statelyai/xstate packages/core/src/graph/test/dieHard.test.ts): six pouring events, one guard.
 * Keyed on the one fact its guard reads (`five === 4`), which once hid `success` (issue 19, defect 5):
 * every snapshot of `pending` merged into one vertex, so 4 gallons were never measured.
 */
import { assign, createMachine, type SnapshotFrom } from 'xstate';

export const machine = createMachine(
  {
    types: {} as { context: { three: number; five: number } },
    id: 'dieHard',
    initial: 'pending',
    context: { three: 0, five: 0 },
    states: {
      pending: {
        always: { target: 'success', guard: 'weHave4Gallons' },
        on: {
          POUR_3_TO_5: {
            actions: assign(({ context }) => {
              const poured = Math.min(5 - context.five, context.three);
              return { three: context.three - poured, five: context.five + poured };
            }),
          },
          POUR_5_TO_3: {
            actions: assign(({ context }) => {
              const poured = Math.min(3 - context.three, context.five);
              return { three: context.three + poured, five: context.five - poured };
            }),
          },
          FILL_3: { actions: assign({ three: 3 }) },
          FILL_5: { actions: assign({ five: 5 }) },
          EMPTY_3: { actions: assign({ three: 0 }) },
          EMPTY_5: { actions: assign({ five: 0 }) },
        },
      },
      success: { type: 'final' },
    },
  },
  { guards: { weHave4Gallons: ({ context }) => context.five === 4 } },
);

/** The key the old README advice led to: only the fact the guard reads. */
export function serializeState(snapshot: SnapshotFrom<typeof machine>): string {
  return JSON.stringify([snapshot.value, snapshot.context.five === 4]);
}

/** Assert the jugs' contents after every step. */
export const assertions = { context: true };
