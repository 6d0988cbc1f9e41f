/**
 * Lifecycle invariants as data: named predicates over the committed state of a batch and its
 * essays, tracker and associations, each with a message explaining a violation. Each machine's
 * descriptor carries its own list (`LifecycleMachine.invariants`); ENTITY_INVARIANTS hold for
 * every entity. The engine checks them after every commit (option `invariants`).
 */
import { ASSOCIATIONS_INVARIANTS } from './associations.js';
import { BATCH_INVARIANTS } from './batch.js';
import { ENTITY_INVARIANTS } from './entity.js';
import { ESSAY_INVARIANTS } from './essay.js';
import { TRACKER_INVARIANTS } from './tracker.js';
import type { Invariant } from './world.js';

export { ASSOCIATIONS_INVARIANTS, BATCH_INVARIANTS, ENTITY_INVARIANTS, ESSAY_INVARIANTS, TRACKER_INVARIANTS };
export { checkInvariants, type EmittedMessage as InvariantMessage, type EntityState as InvariantEntity, type Invariant, type InvariantViolation, type InvariantWorld } from './world.js';
export { trackerViewOf, type SlotView as TrackerSlotView, type TrackerView } from './tracker-view.js';

/** Every invariant of the library's machines, entity invariants first, names unique. */
export const LIFECYCLE_INVARIANTS: readonly Invariant[] = [
  ...ENTITY_INVARIANTS,
  ...BATCH_INVARIANTS,
  ...ESSAY_INVARIANTS,
  ...TRACKER_INVARIANTS,
  ...ASSOCIATIONS_INVARIANTS,
];
