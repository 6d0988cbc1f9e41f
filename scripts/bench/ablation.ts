/**
 * The ablation table: for each speed trick of the engine's core path, the same figure with the
 * trick and without it, measured in the same run (interleaved rounds). A trick earns its place
 * only while it earns at least 5% on some figure a user cares about: one event per commit
 * (`dispatch`, synchronous NORMAL) or a group commit of 200 (`dispatchMany`, synchronous FULL), in
 * events per second or in CPU per event (the median of the rounds' own; steadier on a shared
 * machine, blind to I/O waits).
 *
 * The cross-request coalescer is an HTTP trick: its row is measured by the http section. The lean
 * inbox is a storage format (SQLite migration 3), not a switch, and is not ablated here.
 */
import { defaultMachines, type MachineRegistry } from '../../adapters/engine/registry.js';
import { engineRound, type EngineSetup } from './engine.js';
import { interleaved, type Figure, type Rate } from './figures.js';

/** One trick and how to turn it off. */
interface Trick {
  readonly name: string;
  readonly off: Pick<EngineSetup, 'engine' | 'store'>;
}

/** The library's machines with plain-context persistence turned off (XState's own persistence). */
function withoutPlainContext(): MachineRegistry {
  return Object.fromEntries(Object.entries(defaultMachines()).map(([id, machine]) => [id, { ...machine, plainContext: false }]));
}

const TRICKS: readonly Trick[] = [
  { name: 'entity cache', off: { engine: { entityCacheSize: 0 } } },
  { name: 'plain-context persistence', off: { engine: { machines: withoutPlainContext() } } },
  { name: 'derived stored answers', off: { store: { deriveStoredAnswers: false } } },
  { name: 'reusable actor scope (pure.ts)', off: { engine: { ablate: { reusableScope: false } } } },
  { name: 'background WAL checkpoints', off: { store: { checkpoint: 'inline' } } },
];

/** The figures a trick is judged on. */
const WORKLOADS: ReadonlyArray<Omit<EngineSetup, 'name'> & { readonly label: string }> = [
  { label: 'dispatch NORMAL', synchronous: 'NORMAL', group: 1 },
  { label: 'dispatchMany x200 FULL', synchronous: 'FULL', group: 200 },
];

/** One row of the table: a trick on one workload. */
export interface AblationRow {
  readonly trick: string;
  readonly workload: string;
  readonly with: Figure;
  readonly without: Figure;
}

/** Measures every trick on every workload against the same run's figure with all tricks on. */
export async function benchAblation(seconds: number, rounds: number): Promise<AblationRow[]> {
  const figures: Array<() => Promise<Rate>> = [];
  for (const workload of WORKLOADS) {
    figures.push(() => engineRound({ ...workload, name: `${workload.label}, every trick on` }, seconds));
    for (const trick of TRICKS) figures.push(() => engineRound({ ...workload, ...trick.off, name: `${workload.label}, without ${trick.name}` }, seconds));
  }
  const measured = await interleaved(figures, rounds);
  const rows: AblationRow[] = [];
  const stride = TRICKS.length + 1;
  WORKLOADS.forEach((workload, w) => {
    const all = measured[w * stride] as Figure;
    TRICKS.forEach((trick, t) => rows.push({ trick: trick.name, workload: workload.label, with: all, without: measured[w * stride + t + 1] as Figure }));
  });
  return rows;
}

/** A trick earns its place at this ratio (with / without) on some figure. */
export const EARNS = 1.05;
