/** Invariants of the essay machine: where an essay belongs and what a failed essay may do. */
import { trackerOf } from './tracker-view.js';
import { essaysOf } from './views.js';
import { firstProblem, type Invariant } from './world.js';

/** The phase a `<phase>_failed` status belongs to. */
const FAILED_PHASE: Readonly<Record<string, string>> = {
  spellcheck_failed: 'spellcheck',
  nlp_failed: 'nlp',
  cj_assessment_failed: 'cj_assessment',
  ai_feedback_failed: 'ai_feedback',
};

/** Every essay's parent is its batch: its row, its context and the tracker's slots agree. */
export const essayParentIsItsBatch: Invariant = {
  name: 'essay.parent_is_its_batch',
  description: "every essay's parent_id and context batch_id are its batch, and a registered tracker has a slot for it",
  check: (world) => {
    const tracker = trackerOf(world);
    const registered = tracker?.registered === true ? tracker : undefined;
    return firstProblem(essaysOf(world), (essay) => {
      if (essay.parent_id !== world.batch_id || essay.context.batch_id !== world.batch_id) {
        return `essay "${essay.entity_id}" has parent "${essay.parent_id}" and batch_id "${essay.context.batch_id}", not batch "${world.batch_id}"`;
      }
      if (registered !== undefined && registered.slotOf(essay.entity_id, essay.context.slot_index) === undefined) {
        return `essay "${essay.entity_id}" has no slot in the tracker of batch "${world.batch_id}"`;
      }
      return undefined;
    });
  },
};

/** An essay in a `*_failed` state never entered a later phase. */
export const failedEssayEntersNoLaterPhase: Invariant = {
  name: 'essay.failed_enters_no_later_phase',
  description: 'an essay in a <phase>_failed state was commanded into no phase after the one it failed',
  check: (world) =>
    firstProblem(essaysOf(world), (essay) => {
      const phase = FAILED_PHASE[essay.status];
      if (phase === undefined) return undefined;
      const last = essay.context.commanded_phases.at(-1);
      return last === phase ? undefined : `essay "${essay.entity_id}" is ${essay.status} but its last commanded phase is ${String(last)}`;
    }),
};

/** Every essay's status agrees with its slot in the tracker. */
export const essayStatusMatchesSlot: Invariant = {
  name: 'essay.status_matches_slot',
  description: 'a free slot holds an uploaded essay, a failed slot a content_ingestion_failed one, an assigned slot an essay past content (critical failure aside)',
  check: (world) => {
    const tracker = trackerOf(world);
    if (tracker?.registered !== true) return undefined;
    return firstProblem(essaysOf(world), (essay) => {
      const slot = tracker.slotOf(essay.entity_id, essay.context.slot_index)?.state;
      if (slot === undefined || essay.status === 'essay_critical_failure') return undefined;
      const expected = slot === 'free' ? ['uploaded'] : slot === 'failed' ? ['content_ingestion_failed'] : undefined;
      if (expected !== undefined) return expected.includes(essay.status) ? undefined : `essay "${essay.entity_id}" is ${essay.status} but its slot is ${slot}`;
      return essay.status === 'uploaded' || essay.status === 'content_ingestion_failed' ? `essay "${essay.entity_id}" is ${essay.status} but its slot is assigned` : undefined;
    });
  },
};

/** The essay machine's invariants. */
export const ESSAY_INVARIANTS: readonly Invariant[] = [essayParentIsItsBatch, failedEssayEntersNoLaterPhase, essayStatusMatchesSlot];
