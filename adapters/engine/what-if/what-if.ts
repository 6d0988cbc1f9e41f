/**
 * What-if replay: every stored entity history (or a selection) re-run against changed machines
 * beside the baseline ones, reporting each entity whose outcome diverges (compare.ts). Reads one
 * entity's history at a time and keeps only the divergences (at most `maxDivergences`), so memory
 * stays flat on big stores. Writes nothing.
 */
import { route as defaultRoute } from '../../../machines/routing.js';
import { LifecycleError } from '../../errors.js';
import type { SnapshotStore } from '../../store.js';
import { defaultMachines, type MachineRegistry } from '../registry.js';
import { compareEntity, type EntityDivergence } from './compare.js';
import { estimateTotal, selectEntities, type EntityRef, type Selection } from './select.js';
import type { Route } from './types.js';

/** Options of `whatIf`. */
export interface WhatIfOptions {
  readonly store: SnapshotStore;
  /** The changed machines by id; an id they lack keeps its baseline machine. */
  readonly changed: MachineRegistry;
  /** The machines the histories were recorded with (default: the library's, `defaultMachines()`). */
  readonly baseline?: MachineRegistry;
  readonly route?: Route;
  /** Which entities (default: every entity of the baseline machines). */
  readonly selection?: Selection;
  /** Called after each entity (for a progress bar). `total` is undefined when a selection makes it unknown. */
  readonly onProgress?: (progress: WhatIfProgress) => void;
  /** Divergences kept in the report (default 1000; every one is counted). */
  readonly maxDivergences?: number;
}

/** Progress of a replay. */
export interface WhatIfProgress {
  readonly done: number;
  readonly total: number | undefined;
  readonly diverged: number;
}

/** One machine's versions, old and new. */
export interface MachinePair {
  readonly id: string;
  readonly old_version: number;
  readonly new_version: number;
  /** False when the changed set gives this id the very same machine object. */
  readonly replaced: boolean;
}

/** What a what-if replay found. */
export interface WhatIfReport {
  readonly machines: readonly MachinePair[];
  readonly entities: number;
  readonly steps: number;
  readonly diverged: number;
  readonly by_machine: Readonly<Record<string, { entities: number; diverged: number }>>;
  readonly divergences: readonly EntityDivergence[];
  readonly skipped: ReadonlyArray<EntityRef & { readonly reason: string }>;
  readonly skipped_count: number;
}

function pairsOf(baseline: MachineRegistry, changed: MachineRegistry): MachinePair[] {
  for (const id of Object.keys(changed)) {
    if (baseline[id] === undefined) {
      throw new LifecycleError('INVALID_CONFIGURATION', `the changed machines include "${id}", which the baseline lacks (baseline: ${Object.keys(baseline).join(', ')})`, { details: { machine: id } });
    }
  }
  return Object.entries(baseline).map(([id, old]) => {
    const next = changed[id] ?? old;
    return { id, old_version: old.version, new_version: next.version, replaced: next !== old };
  });
}

/** Re-runs the recorded histories against `changed` and reports where outcomes diverge. */
export async function whatIf(options: WhatIfOptions): Promise<WhatIfReport> {
  const baseline = options.baseline ?? defaultMachines();
  const machines = pairsOf(baseline, options.changed);
  const route = options.route ?? defaultRoute;
  const selection = options.selection ?? {};
  const ids = machines.map((m) => m.id);
  const total = await estimateTotal(options.store, ids, selection);
  const maxDivergences = options.maxDivergences ?? 1000;
  const byMachine: Record<string, { entities: number; diverged: number }> = Object.fromEntries(ids.map((id) => [id, { entities: 0, diverged: 0 }]));
  const divergences: EntityDivergence[] = [];
  const skipped: Array<EntityRef & { reason: string }> = [];
  let entities = 0;
  let steps = 0;
  let diverged = 0;
  let skippedCount = 0;
  for await (const ref of selectEntities(options.store, ids, selection)) {
    const old = baseline[ref.machine];
    if (old === undefined) continue;
    const result = await compareEntity(options.store, ref.machine, ref.entity_id, old, options.changed[ref.machine] ?? old, route);
    if (result.kind === 'skipped') {
      skippedCount += 1;
      if (skipped.length < maxDivergences) skipped.push({ ...ref, reason: result.reason });
    } else {
      entities += 1;
      steps += result.steps;
      const counts = byMachine[ref.machine]!;
      counts.entities += 1;
      if (result.kind === 'diverged') {
        diverged += 1;
        counts.diverged += 1;
        if (divergences.length < maxDivergences) divergences.push(result.divergence);
      }
    }
    options.onProgress?.({ done: entities + skippedCount, total, diverged });
  }
  return { machines, entities, steps, diverged, by_machine: byMachine, divergences, skipped, skipped_count: skippedCount };
}
