/**
 * Shallow and deep history: the fan of the XState history guide (xstate.js.org/docs/guides/history.html,
 * and stately.ai/docs/history-states) in v5 syntax, with the deep history of the XState repository's
 * core tests (statelyai/xstate packages/core/test/history.test.ts, "deep history states").
 * History pseudo-states are never active: they once showed as unreachable (issue 19, defect 2).
 */
import { createMachine } from 'xstate';

export const machine = createMachine({
  id: 'fan',
  initial: 'fanOff',
  states: {
    fanOff: {
      on: {
        POWER: { target: 'fanOn.hist' },
        HIGH_POWER: { target: 'fanOn.highPowerHist' },
        DEEP_POWER: { target: 'fanOn.deepHist' },
      },
    },
    fanOn: {
      initial: 'first',
      states: {
        first: { on: { SWITCH: { target: 'second' } } },
        second: { on: { SWITCH: { target: 'third' } } },
        third: {
          initial: 'low',
          states: { low: { on: { BOOST: 'boosted' } }, boosted: { on: { BOOST: 'low' } } },
        },
        hist: { type: 'history', history: 'shallow' },
        highPowerHist: { type: 'history', target: 'third' },
        deepHist: { type: 'history', history: 'deep' },
      },
      on: { POWER: { target: 'fanOff' } },
    },
  },
});
