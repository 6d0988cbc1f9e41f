/**
 * An actor registered with `systemId` and reached through `system.get(...)`, from the XState docs'
 * systems page (stately.ai/docs/system) and the XState repository's core tests
 * (statelyai/xstate packages/core/test/system.test.ts, "should register an invoked actor").
 * It once crashed gen-tests with "Actor with system ID 'notifier' already exists" (issue 19, defect 1).
 */
import { assign, fromCallback, sendTo, setup, type AnyActorRef } from 'xstate';

export const machine = setup({
  types: {
    context: {} as { sent: number },
    events: {} as { type: 'NOTIFY'; message: string } | { type: 'SENT' } | { type: 'CLOSE' },
  },
  actors: {
    notifier: fromCallback<{ type: 'SEND'; message: string }>(({ receive, sendBack }) => {
      receive(() => sendBack({ type: 'SENT' }));
    }),
  },
}).createMachine({
  id: 'inbox',
  context: { sent: 0 },
  invoke: { src: 'notifier', systemId: 'notifier' },
  initial: 'open',
  states: {
    open: {
      on: {
        NOTIFY: {
          target: 'sending',
          actions: sendTo(({ system }) => system.get('notifier') as AnyActorRef, ({ event }) => ({ type: 'SEND', message: event.message })),
        },
        CLOSE: 'closed',
      },
    },
    sending: { on: { SENT: { target: 'open', actions: assign({ sent: ({ context }) => context.sent + 1 }) } } },
    closed: { type: 'final' },
  },
});

export const events = [{ type: 'NOTIFY', message: 'hello' }];
