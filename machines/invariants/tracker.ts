/** Invariants of the batch tracker, stated through tracker-view.ts (its one accessor of tracker internals). */
import { trackerOf } from './tracker-view.js';
import { essaysOf } from './views.js';
import { emittedOf, type Invariant } from './world.js';

/** The tracker's counters agree with its slots. */
export const trackerCountsMatchSlots: Invariant = {
  name: 'tracker.counts_match_slots',
  description: "a registered tracker has one slot per registered essay and its assigned counter equals its assigned slots",
  check: (world) => {
    const tracker = trackerOf(world);
    if (tracker?.registered !== true) return undefined;
    if (tracker.slot_count !== tracker.expected_count) return `tracker of "${world.batch_id}" has ${tracker.slot_count} slots for ${tracker.expected_count} registered essays`;
    const assigned = tracker.assignedSlotCount();
    return assigned === tracker.assigned_count ? undefined : `tracker of "${world.batch_id}" counts ${tracker.assigned_count} assigned slots, its slots hold ${assigned}`;
  },
};

/** The tracker's counts per status equal the essays' actual statuses (needs every essay). */
export const trackerCountsMatchEssays: Invariant = {
  name: 'tracker.counts_match_essays',
  description: "the tracker's free, assigned and failed slot counts equal the numbers of its essays uploaded, past content and content_ingestion_failed",
  check: (world) => {
    const tracker = trackerOf(world);
    if (!world.allEssays || tracker?.registered !== true) return undefined;
    const essays = essaysOf(world).filter((essay) => essay.status !== 'essay_critical_failure');
    const uploaded = essays.filter((essay) => essay.status === 'uploaded').length;
    const failed = essays.filter((essay) => essay.status === 'content_ingestion_failed').length;
    const past = essays.length - uploaded - failed;
    const slots = { free: 0, assigned: 0, failed: 0 };
    for (const slot of tracker.slots) if (!tracker.critical.has(slot.essay_id)) slots[slot.state] += 1;
    if (essaysOf(world).length !== tracker.slots.length) return `tracker of "${world.batch_id}" has ${tracker.slots.length} slots, the batch has ${essaysOf(world).length} essays`;
    if (slots.free === uploaded && slots.failed === failed && slots.assigned === past) return undefined;
    return `tracker of "${world.batch_id}" counts free ${slots.free}, assigned ${slots.assigned}, failed ${slots.failed}; its essays are uploaded ${uploaded}, past content ${past}, content_ingestion_failed ${failed}`;
  },
};

/** One phase outcome per (run, phase). */
export const oneOutcomePerRunPhase: Invariant = {
  name: 'tracker.one_outcome_per_run_phase',
  description: 'the tracker emits at most one ELSBatchPhaseOutcomeV1 per (pipeline run, phase)',
  check: (world) => {
    const seen = new Set<string>();
    for (const outcome of emittedOf(world, 'huleedu.els.batch.phase.outcome.v1')) {
      const key = `${String(outcome.run_id)}:${String(outcome.phase_name)}`;
      if (seen.has(key)) return `batch "${world.batch_id}" got a second outcome of ${String(outcome.phase_name)} in run ${String(outcome.run_id)}`;
      seen.add(key);
    }
    return undefined;
  },
};

/** The batch tracker's invariants. */
export const TRACKER_INVARIANTS: readonly Invariant[] = [trackerCountsMatchSlots, trackerCountsMatchEssays, oneOutcomePerRunPhase];
