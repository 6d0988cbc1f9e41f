/**
 * THE one place the invariants read the batch tracker's internals (its context layout). Every
 * tracker invariant goes through these functions, so a change of the tracker's data layout
 * (per-essay facts moving out of the snapshot into per-essay rows, the tracker keeping
 * counters) is adapted here and nowhere else.
 */
import type { BatchTrackerContext } from '../batch-tracker/types.js';
import { listItems } from '../context-parts.js';
import { batchKeyed, type EntityState, type InvariantWorld } from './world.js';

/** What the invariants need to know about one essay slot. */
export interface SlotView {
  readonly essay_id: string;
  /** free: waiting for content; assigned: holds a text; failed: consumed by a failed file. */
  readonly state: 'free' | 'assigned' | 'failed';
}

/** What the invariants need to know about a tracker. */
export interface TrackerView {
  readonly status: string;
  /** True once the registration created the slots. */
  readonly registered: boolean;
  /** Registered essay count (0 before registration). */
  readonly expected_count: number;
  /** Every slot, in registration order (empty before registration). */
  readonly slots: readonly SlotView[];
  /** The tracker's own counter of assigned slots. */
  readonly assigned_count: number;
  /** Essays the tracker knows failed critically. */
  readonly critical: ReadonlySet<string>;
  readonly essays_ready_sent: boolean;
}

function looksLikeTracker(context: unknown): context is BatchTrackerContext {
  if (typeof context !== 'object' || context === null) return false;
  const candidate = context as Partial<BatchTrackerContext>;
  return typeof candidate.slots === 'object' && candidate.slots !== null && typeof candidate.assigned_count === 'number' && 'registration' in candidate;
}

/** The view of a tracker entity, or undefined when its context is not the library tracker's. */
export function trackerViewOf(entity: EntityState): TrackerView | undefined {
  if (!looksLikeTracker(entity.context)) return undefined;
  const context = entity.context;
  return {
    status: entity.status,
    registered: context.registration !== null,
    expected_count: context.registration?.expected_count ?? 0,
    slots: listItems(context.slots).map((slot) => ({ essay_id: slot.essay_id, state: slot.state })),
    assigned_count: context.assigned_count,
    critical: new Set(Object.keys(context.critical)),
    essays_ready_sent: context.essays_ready_sent,
  };
}

/** The batch's tracker, viewed. */
export function trackerOf(world: InvariantWorld): TrackerView | undefined {
  const entity = batchKeyed(world, 'batch_tracker');
  return entity === undefined ? undefined : trackerViewOf(entity);
}
