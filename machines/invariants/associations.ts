/** Invariants of the student-association machine. */
import type { AssociationsContext } from '../associations.js';
import { memoByPair } from '../memo.js';
import { trackerOf } from './tracker-view.js';
import { associationsOf } from './views.js';
import { emittedOf, type Invariant } from './world.js';

/** An association exists only for an essay of the batch with a suggestion. */
export const associationOnlyWithSuggestion: Invariant = {
  name: 'associations.only_for_suggested_essays',
  description: 'every association names a student (an essay without suggestion has none) and, when the tracker is registered, an essay with a slot in it',
  check: (world) => {
    const associations = associationsOf(world);
    if (associations === undefined) return undefined;
    const tracker = trackerOf(world);
    if (associations.context.associations.length === 0) return undefined;
    return strayAssociation(associations.context.associations, tracker?.registered === true ? tracker.slotIds() : NO_TRACKER, world.batch_id);
  },
};

const NO_TRACKER: ReadonlySet<string> = new Set();

/** The first association without a student or outside the slots (remembered per association list and slot list). */
const strayAssociationOf = memoByPair((list: AssociationsContext['associations'], slots: ReadonlySet<string>) =>
  list.find((association) => association.student_id === null || (slots !== NO_TRACKER && !slots.has(association.essay_id))),
);

function strayAssociation(list: AssociationsContext['associations'], slots: ReadonlySet<string>, batchId: string): string | undefined {
  const stray = strayAssociationOf(list, slots);
  if (stray === undefined) return undefined;
  if (stray.student_id === null) return `batch "${batchId}" has an association for essay "${stray.essay_id}" without a student`;
  return `batch "${batchId}" has an association for essay "${stray.essay_id}", which is not one of its essays`;
}

/** One confirmation per batch, whose summary counts the batch's associations. */
export const oneConfirmationPerBatch: Invariant = {
  name: 'associations.one_confirmation',
  description: 'at most one StudentAssociationsConfirmedV1 per batch, its summary total = confirmed + rejected = the associations of the batch',
  check: (world) => {
    const confirmations = emittedOf(world, 'huleedu.class.student.associations.confirmed.v1');
    if (confirmations.length > 1) return `batch "${world.batch_id}" sent ${confirmations.length} association confirmations`;
    const associations = associationsOf(world);
    const [confirmation] = confirmations;
    if (confirmation === undefined || associations === undefined) return undefined;
    const summary = confirmation.validation_summary as Record<string, number>;
    const total = associations.context.associations.length;
    const counted = (summary.confirmed ?? 0) + (summary.rejected ?? 0);
    return summary.total_associations === total && counted === total
      ? undefined
      : `batch "${world.batch_id}" confirmed with summary ${JSON.stringify(summary)} for ${total} associations`;
  },
};

/** The association machine's invariants. */
export const ASSOCIATIONS_INVARIANTS: readonly Invariant[] = [associationOnlyWithSuggestion, oneConfirmationPerBatch];
