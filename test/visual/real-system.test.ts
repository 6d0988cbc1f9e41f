/**
 * Model-based testing of a real system (docs/model-based-testing.md, examples/model-based-testing.ts):
 * the generated paths drive a small express service over HTTP and check it after every step; a
 * service with a bug fails at the step that shows it.
 */
import { describe, expect, it } from 'vitest';
import { createMachine } from 'xstate';
import { testRealSystem } from '../../adapters/visual/index.js';
import { main } from '../../examples/model-based-testing.js';

describe('testRealSystem', () => {
  it('drives the express order service along every generated path and every check passes', async () => {
    expect(await main()).toEqual({ paths: 3, steps: 5, transitions: '4/4', failures: [] });
  });

  it('names the path, step and state where the real service differs from the model', async () => {
    const result = await main({ bug: 'pay-keeps-pending' });
    expect(result.failures).toEqual([
      expect.stringMatching(/^order\/default\/\d step 1 \(PAY\): the real system is not in "paid": GET \/orders\/order-\d+ says "pending"$/),
      expect.stringMatching(/^order\/default\/\d step 1 \(PAY\): the real system is not in "paid"/),
    ]);
  });

  it('refuses an event without an executor and a state without an assertion', async () => {
    const machine = createMachine({ id: 'lamp', initial: 'off', states: { off: { on: { TOGGLE: 'on' } }, on: {} } });
    const path = { id: 'lamp/default/0', seed: 'default', start: 'off', steps: [{ event: { type: 'TOGGLE' }, value: 'on', transitions: [] }] };
    const seed = { name: 'default' };
    await expect(testRealSystem(machine, seed, path, { setup: () => null, events: {}, states: { '*': () => undefined } })).rejects.toThrow(
      'lamp/default/0 step 1 (TOGGLE): no executor for TOGGLE (add one to "events")',
    );
    await expect(testRealSystem(machine, seed, path, { setup: () => null, events: { TOGGLE: () => undefined }, states: { off: () => undefined } })).rejects.toThrow(
      'lamp/default/0 step 1 (TOGGLE): no state assertion covers "on" (add one to "states")',
    );
  });
});
