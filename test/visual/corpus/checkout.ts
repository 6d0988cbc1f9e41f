/**
 * A checkout using the v5 features of the XState docs' pages on `enqueueActions`
 * (stately.ai/docs/actions#enqueue-actions), `emit` (stately.ai/docs/event-emitter), `input`
 * (stately.ai/docs/input), final `output` (stately.ai/docs/final-states#output), invoke with an
 * id and `input` (stately.ai/docs/invoke), named `after` delays (stately.ai/docs/delayed-transitions)
 * and `raise` (stately.ai/docs/actions#raise-action).
 */
import { assign, emit, enqueueActions, fromPromise, raise, setup } from 'xstate';

export const machine = setup({
  types: {
    context: {} as { orderId: string; attempts: number; receipt: string | undefined },
    input: {} as { orderId: string },
    output: {} as { orderId: string; receipt: string | undefined; attempts: number },
    events: {} as { type: 'CHECKOUT' } | { type: 'CANCEL' } | { type: 'PAID' },
    emitted: {} as { type: 'retrying'; attempt: number } | { type: 'paid'; orderId: string },
  },
  actors: {
    chargeCard: fromPromise(({ input }: { input: { orderId: string; attempt: number } }) => Promise.resolve({ receipt: `r-${input.orderId}-${input.attempt}` })),
  },
  delays: { paymentTimeout: 5000 },
  guards: { tooManyAttempts: ({ context }) => context.attempts >= 2 },
}).createMachine({
  id: 'checkout',
  context: ({ input }) => ({ orderId: input.orderId, attempts: 0, receipt: undefined }),
  initial: 'cart',
  states: {
    cart: {
      on: {
        CHECKOUT: [
          { guard: 'tooManyAttempts', target: 'abandoned' },
          {
            target: 'paying',
            actions: enqueueActions(({ context, enqueue }) => {
              enqueue.assign({ attempts: context.attempts + 1 });
              if (context.attempts > 0) enqueue.emit({ type: 'retrying', attempt: context.attempts + 1 });
            }),
          },
        ],
        CANCEL: 'abandoned',
      },
    },
    paying: {
      invoke: {
        id: 'charge',
        src: 'chargeCard',
        input: ({ context }) => ({ orderId: context.orderId, attempt: context.attempts }),
        onDone: { actions: [assign({ receipt: ({ event }) => event.output.receipt }), raise({ type: 'PAID' })] },
        onError: 'cart',
      },
      after: { paymentTimeout: 'cart' },
      on: { PAID: 'paid' },
    },
    paid: { type: 'final', entry: emit(({ context }) => ({ type: 'paid' as const, orderId: context.orderId })) },
    abandoned: { type: 'final' },
  },
  output: ({ context }) => ({ orderId: context.orderId, receipt: context.receipt, attempts: context.attempts }),
});

export const input = { orderId: 'o-1' };

/** The done event of the `charge` invoke with the output the machine reads; the rest is discovered. */
export const events = [{ type: 'xstate.done.actor.charge', output: { receipt: 'r-o-1-1' } }];

export const assertions = { context: true, output: true, emitted: true };
