/**
 * THE one place the invariants read the batch tracker's internals (its context layout). Every
 * tracker invariant goes through these functions, so a change of the tracker's data layout
 * (per-essay facts moving out of the snapshot into per-essay rows, the tracker keeping
 * counters) is adapted here and nowhere else.
 *
 * The view is lazy and remembers what it derives by object identity (memo.ts): the slots are
 * context parts, so counting assigned slots after an essay event recounts only the parts that
 * event changed, and an essay finds its slot by index. The whole slot list is built only for
 * the checks that need it (a whole-store world).
 */
import type { BatchTrackerContext, Slot } from '../batch-tracker/types.js';
import { listAt, listItems, type ContextPart, type PartedList } from '../context-parts.js';
import { memoByObject } from '../memo.js';
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
  /** Number of slots (0 before registration). */
  readonly slot_count: number;
  /** The slot at `index` (an essay's `slot_index`), or undefined. */
  slotAt(index: number): SlotView | undefined;
  /**
   * The slot of `essayId`: looked up at `hint` (the essay's own `slot_index`) first, else found
   * through an index of every slot built once per slot list. Undefined when it has none.
   */
  slotOf(essayId: string, hint?: number): SlotView | undefined;
  /** Every slot, in registration order (empty before registration): O(N), built on first use. */
  readonly slots: readonly SlotView[];
  /** The ids of every slot's essay: O(N) once per slot list. */
  slotIds(): ReadonlySet<string>;
  /** The ids of the essays of assigned slots: O(N) once per slot list. */
  assignedIds(): ReadonlySet<string>;
  /** Number of assigned slots: counted once per slot list, per part (parts an event did not change are not recounted). */
  assignedSlotCount(): number;
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

const viewOfSlot = (slot: Slot): SlotView => ({ essay_id: slot.essay_id, state: slot.state });

const assignedInPart = memoByObject((part: ContextPart<readonly Slot[]>) => part.items.filter((slot) => slot.state === 'assigned').length);
/** Per slot list: an event that leaves the slots alone (every essay result) does not recount them. */
const assignedCountOf = memoByObject((slots: PartedList<Slot>) => {
  let sum = 0;
  for (const part of slots.parts) sum += assignedInPart(part);
  return sum;
});
const slotIdsOf = memoByObject((slots: PartedList<Slot>) => new Set(listItems(slots).map((slot) => slot.essay_id)));
const assignedIdsOf = memoByObject((slots: PartedList<Slot>) => new Set(listItems(slots).flatMap((slot) => (slot.state === 'assigned' ? [slot.essay_id] : []))));
const slotByIdOf = memoByObject((slots: PartedList<Slot>) => new Map(listItems(slots).map((slot) => [slot.essay_id, viewOfSlot(slot)])));
const criticalOf = memoByObject((critical: Readonly<Record<string, true>>) => new Set(Object.keys(critical)));

/** The view over one tracker context (a class: building it per check allocates no closures). */
class ContextTrackerView implements TrackerView {
  readonly registered: boolean;
  readonly expected_count: number;
  readonly slot_count: number;
  readonly assigned_count: number;
  readonly essays_ready_sent: boolean;
  #slots: readonly SlotView[] | undefined;

  constructor(
    readonly status: string,
    private readonly context: BatchTrackerContext,
  ) {
    this.registered = context.registration !== null;
    this.expected_count = context.registration?.expected_count ?? 0;
    this.slot_count = context.slots.length;
    this.assigned_count = context.assigned_count;
    this.essays_ready_sent = context.essays_ready_sent;
  }

  slotAt(index: number): SlotView | undefined {
    const slot = listAt(this.context.slots, index);
    return slot === undefined ? undefined : viewOfSlot(slot);
  }

  slotOf(essayId: string, hint?: number): SlotView | undefined {
    const hinted = hint === undefined ? undefined : listAt(this.context.slots, hint);
    return hinted?.essay_id === essayId ? viewOfSlot(hinted) : slotByIdOf(this.context.slots).get(essayId);
  }

  get slots(): readonly SlotView[] {
    this.#slots ??= listItems(this.context.slots).map(viewOfSlot);
    return this.#slots;
  }

  slotIds(): ReadonlySet<string> {
    return slotIdsOf(this.context.slots);
  }

  assignedIds(): ReadonlySet<string> {
    return assignedIdsOf(this.context.slots);
  }

  assignedSlotCount(): number {
    return assignedCountOf(this.context.slots);
  }

  get critical(): ReadonlySet<string> {
    return criticalOf(this.context.critical);
  }
}

/** The view of a tracker entity, or undefined when its context is not the library tracker's. */
export function trackerViewOf(entity: EntityState): TrackerView | undefined {
  return looksLikeTracker(entity.context) ? new ContextTrackerView(entity.status, entity.context) : undefined;
}

/** The batch's tracker, viewed. */
export function trackerOf(world: InvariantWorld): TrackerView | undefined {
  const entity = batchKeyed(world, 'batch_tracker');
  return entity === undefined ? undefined : trackerViewOf(entity);
}
