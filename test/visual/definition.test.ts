/**
 * The JSON Stately imports and the pasteable source are the machine: loaded back, each has
 * exactly the source machine's states, transitions, guard names and targets (compared
 * through the one graph model).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createMachine } from 'xstate';
import { machineDefinition, machineGraph, machineSource } from '../../adapters/visual/index.js';
import { isStateMachine } from '../../scripts/lib/cli.js';
import { machinesUnderTest, scratchFolder } from './support.js';

const scratch = scratchFolder('definition');
afterAll(() => scratch.remove());

describe.each(machinesUnderTest())('$name', ({ name, machine }) => {
  it('round-trips through createMachine(json): same states, transitions, guards and targets', () => {
    const json = machineDefinition(machine);
    const loaded = createMachine(JSON.parse(JSON.stringify(json)) as Parameters<typeof createMachine>[0]);
    const source = machineGraph(machine);
    const back = machineGraph(loaded);
    expect(back.states).toEqual(source.states);
    expect(back.transitions).toEqual(source.transitions);
    expect(back).toEqual(source);
  });

  it('is plain JSON with a stable text', () => {
    const json = machineDefinition(machine);
    expect(JSON.parse(JSON.stringify(json))).toEqual(json);
    expect(JSON.stringify(machineDefinition(machine))).toBe(JSON.stringify(json));
  });

  it('exports a setup().createMachine() source that loads as the same machine', async () => {
    const text = machineSource(machine, { header: `test export of ${name}` });
    expect(text).toContain("import { setup } from 'xstate';");
    expect(text).toContain('}).createMachine({');
    const file = join(scratch.dir, `${machine.id}.source.ts`);
    writeFileSync(file, text);
    const module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    const loaded = module.machine;
    if (!isStateMachine(loaded)) throw new Error('the exported source has no machine');
    expect(machineGraph(loaded)).toEqual(machineGraph(machine));
  });
});

describe('names', () => {
  it('names inline actions by their built-in kind and number (assign:<n>) and keeps named guards, delays and targets', () => {
    const document = machinesUnderTest().find((entry) => entry.machine.id === 'document')?.machine;
    if (document === undefined) throw new Error('fixture missing');
    const graph = machineGraph(document);
    const reject = graph.transitions.find((transition) => transition.eventType === 'REJECT');
    expect(reject).toMatchObject({ source: 'document.review', targets: ['document.draft'], actions: ['assign:0'], guard: null });
    expect(graph.transitions.find((transition) => transition.kind === 'after')).toMatchObject({ event: 'after reviewTimeout', delay: 'reviewTimeout' });
    expect(graph.transitions.filter((transition) => transition.kind === 'always').map((transition) => transition.guard)).toEqual(['hasEdits', null]);
    expect(graph.transitions.filter((transition) => transition.event === 'onDone').map((transition) => transition.targets)).toEqual([
      ['document.publishing'],
      ['document.published'],
    ]);
  });
});
