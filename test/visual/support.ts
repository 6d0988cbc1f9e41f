/** Shared by the visual tests: the machines under test and a scratch folder inside the repository. */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { AnyStateMachine } from 'xstate';
import { defaultMachines } from '../../adapters/engine/registry.js';
import { machine as documentMachine } from './fixtures/document-machine.js';

/** The library's four machines plus the user-machine fixture (nesting, parallel, after, always, onDone). */
export function machinesUnderTest(): Array<{ name: string; machine: AnyStateMachine }> {
  return [
    ...Object.values(defaultMachines()).map((lifecycle) => ({ name: lifecycle.id, machine: lifecycle.logic })),
    { name: 'document (fixture)', machine: documentMachine },
  ];
}

/**
 * A scratch folder under test/visual (so generated TypeScript resolves `vitest` and `xstate`
 * like any test file). Its name starts with a dot and its files never end in `.test.ts`,
 * so no test run picks them up. Remove it with the returned function.
 */
export function scratchFolder(name: string): { dir: string; remove: () => void } {
  const dir = join(import.meta.dirname, `.tmp-${name}-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Text content of an SVG with XML escapes applied the way Graphviz writes them. */
export function xmlText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
