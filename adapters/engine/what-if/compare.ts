/**
 * One entity's recorded history replayed with two sets of machines side by side, the baseline
 * ("old") and the changed ones ("new"), each from its own state: the first step where they part
 * (outcome, state or emitted messages), the refusals that appear or disappear, the emitted messages
 * that differ, and where each ends. Only the entity's history is read (page by page).
 */
import type { AnyMachineSnapshot, StateValue } from 'xstate';
import { statusOfValue, type LifecycleMachine } from '../../../machines/lifecycle-machine.js';
import type { AuditRecord, SnapshotStore } from '../../store.js';
import { isLifecycleError } from '../../errors.js';
import { deliveryFor } from '../rebuild.js';
import { replayStep, type ReplayedStep } from './step.js';
import type { Route } from './types.js';

/** Lists in a report name at most this many steps each (their counts are complete). */
export const MAX_LISTED = 20;

/** One side of a step, as a report shows it. */
export interface StepView {
  readonly outcome: ReplayedStep['outcome'];
  readonly status: string | null;
  readonly value: StateValue | null;
  /** The types of the messages emitted. */
  readonly emitted: readonly string[];
  readonly error?: string;
}

/** A recorded event, by its place in the entity's history. */
export interface StepRef {
  /** 1-based index in the entity's history. */
  readonly step: number;
  readonly position: number;
  readonly event_id: string;
  readonly event_type: string;
}

/** A step where old and new differ. */
export interface StepDifference extends StepRef {
  readonly differs: ReadonlyArray<'outcome' | 'state' | 'emitted'>;
  /** What the engine recorded for this step. */
  readonly recorded: { readonly outcome: 'accepted' | 'refused'; readonly to: string | null; readonly machine_version: number | null };
  readonly old: StepView;
  readonly new: StepView;
}

/** An entity whose outcome diverges under the changed machines. */
export interface EntityDivergence {
  readonly machine: string;
  readonly entity_id: string;
  readonly steps: number;
  /** Steps where old and new differ (all of them counted). */
  readonly differing_steps: number;
  readonly first: StepDifference;
  readonly final: { readonly old: { readonly status: string | null; readonly value: StateValue | null }; readonly new: { readonly status: string | null; readonly value: StateValue | null } };
  /** Events the old machines accepted and the new ones refuse. */
  readonly refusals_appeared: readonly StepRef[];
  readonly refusals_appeared_count: number;
  /** Events the old machines refused and the new ones accept. */
  readonly refusals_disappeared: readonly StepRef[];
  readonly refusals_disappeared_count: number;
  /** Steps whose emitted messages differ (type and content). */
  readonly emitted_differences: ReadonlyArray<StepRef & { readonly old: readonly string[]; readonly new: readonly string[] }>;
  readonly emitted_differences_count: number;
}

/** How replaying one entity went. */
export type EntityComparison =
  | { readonly kind: 'same'; readonly steps: number }
  | { readonly kind: 'diverged'; readonly steps: number; readonly divergence: EntityDivergence }
  | { readonly kind: 'skipped'; readonly reason: string };

function view(step: ReplayedStep): StepView {
  const emitted = step.emitted.map((message) => {
    const type = (message as { type?: unknown } | undefined)?.type;
    return typeof type === 'string' ? type : 'unknown';
  });
  return { outcome: step.outcome, status: step.status, value: step.value, emitted, ...(step.error === undefined ? {} : { error: step.error }) };
}

function differences(old: ReplayedStep, next: ReplayedStep): Array<'outcome' | 'state' | 'emitted'> {
  const out: Array<'outcome' | 'state' | 'emitted'> = [];
  if (old.outcome !== next.outcome) out.push('outcome');
  if (JSON.stringify(old.value) !== JSON.stringify(next.value)) out.push('state');
  if (JSON.stringify(old.emitted) !== JSON.stringify(next.emitted)) out.push('emitted');
  return out;
}

/** The running comparison of one entity. */
class Tally {
  steps = 0;
  differing = 0;
  first: StepDifference | undefined;
  readonly appeared: StepRef[] = [];
  appearedCount = 0;
  readonly disappeared: StepRef[] = [];
  disappearedCount = 0;
  readonly emitted: Array<StepRef & { old: string[]; new: string[] }> = [];
  emittedCount = 0;
  old: AnyMachineSnapshot | undefined;
  next: AnyMachineSnapshot | undefined;

  record(row: AuditRecord, old: ReplayedStep, next: ReplayedStep): void {
    this.steps += 1;
    const differs = differences(old, next);
    if (differs.length === 0) return;
    const ref: StepRef = { step: this.steps, position: row.position, event_id: row.event_id, event_type: row.event_type };
    this.differing += 1;
    this.first ??= { ...ref, differs, recorded: { outcome: row.outcome, to: row.to_status, machine_version: row.machine_version ?? null }, old: view(old), new: view(next) };
    if (old.outcome === 'accepted' && next.outcome !== 'accepted' && this.appearedCount++ < MAX_LISTED) this.appeared.push(ref);
    if (old.outcome !== 'accepted' && next.outcome === 'accepted' && this.disappearedCount++ < MAX_LISTED) this.disappeared.push(ref);
    if (differs.includes('emitted') && this.emittedCount++ < MAX_LISTED) this.emitted.push({ ...ref, old: view(old).emitted.slice(), new: view(next).emitted.slice() });
  }

  result(machine: string, entityId: string): EntityComparison {
    if (this.steps === 0) return { kind: 'skipped', reason: `${machine} "${entityId}" has no history` };
    if (this.first === undefined) return { kind: 'same', steps: this.steps };
    const state = (snapshot: AnyMachineSnapshot | undefined): { status: string | null; value: StateValue | null } => {
      const value = snapshot === undefined ? null : (snapshot.value as StateValue);
      return { status: value === null ? null : statusOfValue(value), value };
    };
    const divergence: EntityDivergence = {
      machine,
      entity_id: entityId,
      steps: this.steps,
      differing_steps: this.differing,
      first: this.first,
      final: { old: state(this.old), new: state(this.next) },
      refusals_appeared: this.appeared,
      refusals_appeared_count: this.appearedCount,
      refusals_disappeared: this.disappeared,
      refusals_disappeared_count: this.disappearedCount,
      emitted_differences: this.emitted,
      emitted_differences_count: this.emittedCount,
    };
    return { kind: 'diverged', steps: this.steps, divergence };
  }
}

/** Replays the history of (machine, entityId) with `old` and `next` side by side. */
export async function compareEntity(store: SnapshotStore, machineId: string, entityId: string, old: LifecycleMachine, next: LifecycleMachine, route: Route): Promise<EntityComparison> {
  const tally = new Tally();
  let after = 0;
  for (let page = await store.history(machineId, entityId, { limit: 1000 }); page.length > 0; page = await store.history(machineId, entityId, { limit: 1000, afterPosition: after })) {
    for (const row of page) {
      after = row.position;
      let delivery;
      try {
        delivery = deliveryFor(row, route);
      } catch (error) {
        if (!isLifecycleError(error)) throw error;
        return { kind: 'skipped', reason: error.message };
      }
      const a = replayStep(old, tally.old, delivery);
      const b = replayStep(next, tally.next, delivery);
      tally.old = a.snapshot;
      tally.next = b.snapshot;
      tally.record(row, a.step, b.step);
    }
  }
  return tally.result(machineId, entityId);
}
