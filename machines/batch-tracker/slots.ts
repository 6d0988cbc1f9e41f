/**
 * Registration and content provisioning, as pure functions of the tracker context: essay
 * slots, content held before registration, slot assignment, validation failures, the
 * provisioning-completed summary and the essays-ready message.
 */
import type { EventMeta } from '../contracts/envelope.js';
import { outbound, SourceService } from '../contracts/messages.js';
import { courseLanguage } from '../contracts/statuses.js';
import { emptyPartedMap, listAt, listItems, listSet, mapHas, mapSet, partedList } from '../context-parts.js';
import {
  has,
  SLOTS_PART,
  TEXTS_PART,
  UPLOADS_PART,
  requireRegistration,
  type BatchTrackerContext,
  type BatchTrackerEmitted,
  type BatchTrackerEventData,
  type HeldItem,
  type ProcessedEssay,
  type Slot,
  type TrackerStep,
} from './types.js';
import { recordWith } from '../records.js';

type ContentData = BatchTrackerEventData['CONTENT_PROVISIONED'];
type FailureData = BatchTrackerEventData['CONTENT_VALIDATION_FAILED'];
type RegistrationData = BatchTrackerEventData['REGISTERED'];

/** True when this text already went into a slot of the batch. */
export function isKnownText(context: BatchTrackerContext, textStorageId: string): boolean {
  return mapHas(context.slot_by_text, textStorageId);
}

/** True when a failure of this uploaded file already consumed a slot. */
export function isKnownFailedUpload(context: BatchTrackerContext, fileUploadId: string): boolean {
  return mapHas(context.slot_by_failed_upload, fileUploadId);
}

/** True when the batch is registered and some slot still waits for content. */
export function hasFreeSlot(context: BatchTrackerContext): boolean {
  return context.registration !== null && context.next_free_slot < context.slots.length;
}

/** True when the batch is registered and no slot waits for content any more. */
export function allSlotsSettled(context: BatchTrackerContext): boolean {
  return context.registration !== null && context.next_free_slot >= context.slots.length;
}

/** Key under which a held item is de-duplicated. */
export function heldKeyOf(item: HeldItem): string {
  return item.kind === 'content' ? `text:${item.data.text_storage_id}` : `upload:${item.data.file_upload_id}`;
}

/** Holds an item that arrived before the registration; a repeat of a held item is dropped. */
export function holdItem(context: BatchTrackerContext, item: HeldItem): BatchTrackerContext {
  const key = heldKeyOf(item);
  if (has(context.held_keys, key)) return context;
  return { ...context, held: [...context.held, item], held_keys: recordWith(context.held_keys, key, true) };
}

/**
 * Records the registration, creates one slot per essay id (emitting EssaySlotCreatedV1 for
 * each, in order, before anything else), then applies the held items in arrival order as if
 * each had arrived right after the registration (its own correlation_id, the registration's
 * timestamp).
 */
export function register(context: BatchTrackerContext, data: RegistrationData, meta: EventMeta): TrackerStep {
  const initialSlots: Slot[] = data.essay_ids.map((essay_id) => ({
    essay_id,
    state: 'free',
    text_storage_id: null,
    file_upload_id: null,
    original_file_name: null,
  }));
  const created = data.essay_ids.map((essay_id, slot_index) =>
    outbound('huleedu.els.essay.slot.created.v1', meta, SourceService.TRACKER, {
      batch_id: context.batch_id,
      essay_id,
      slot_index,
    }),
  );
  let current: BatchTrackerContext = {
    ...context,
    registration: {
      course_code: data.course_code,
      user_id: data.user_id,
      org_id: data.org_id ?? null,
      class_id: data.class_id ?? null,
      student_prompt_ref: data.student_prompt_ref ?? null,
      expected_count: data.expected_essay_count,
    },
    slots: partedList(SLOTS_PART, initialSlots),
    slot_by_text: emptyPartedMap(TEXTS_PART, initialSlots.length),
    slot_by_failed_upload: emptyPartedMap(UPLOADS_PART, initialSlots.length),
    next_free_slot: 0,
    held: [],
    held_keys: {},
  };
  const messages: BatchTrackerEmitted[] = [...created];
  for (const item of context.held) {
    const itemMeta: EventMeta = { ...meta, correlation_id: item.meta.correlation_id };
    const step =
      item.kind === 'content'
        ? applyContent(current, item.data, itemMeta)
        : applyValidationFailure(current, item.data, itemMeta);
    current = step.context;
    messages.push(...step.messages);
  }
  return { context: current, messages };
}

/** Content as a live event: a known text is a no-op, else the first free slot, else excess. */
export function applyContent(context: BatchTrackerContext, data: ContentData, meta: EventMeta): TrackerStep {
  if (isKnownText(context, data.text_storage_id)) return { context, messages: [] };
  if (hasFreeSlot(context)) return assignContent(context, data, meta);
  return { context, messages: [excessContent(context, data, meta)] };
}

/** Puts the text into the first free slot (precondition: `hasFreeSlot`) and tells the essay. */
export function assignContent(context: BatchTrackerContext, data: ContentData, meta: EventMeta): TrackerStep {
  const index = context.next_free_slot;
  const slot = listAt(context.slots, index);
  if (slot === undefined) throw new Error(`batch tracker ${context.batch_id}: no free slot to assign`);
  const assigned: Slot = {
    ...slot,
    state: 'assigned',
    text_storage_id: data.text_storage_id,
    file_upload_id: data.file_upload_id,
    original_file_name: data.original_file_name,
  };
  return {
    context: {
      ...context,
      slots: listSet(context.slots, index, assigned),
      next_free_slot: index + 1,
      assigned_count: context.assigned_count + 1,
      slot_by_text: mapSet(context.slot_by_text, data.text_storage_id, index),
    },
    messages: [
      outbound('huleedu.els.essay.slot.assigned.v1', meta, SourceService.TRACKER, {
        batch_id: context.batch_id,
        essay_id: slot.essay_id,
        file_upload_id: data.file_upload_id,
        text_storage_id: data.text_storage_id,
        original_file_name: data.original_file_name,
      }),
    ],
  };
}

/** ExcessContentProvisionedV1 for content that found no free slot. */
export function excessContent(context: BatchTrackerContext, data: ContentData, meta: EventMeta): BatchTrackerEmitted {
  return outbound('huleedu.els.excess.content.provisioned.v1', meta, SourceService.TRACKER, {
    batch_id: context.batch_id,
    original_file_name: data.original_file_name,
    text_storage_id: data.text_storage_id,
    reason: 'NO_AVAILABLE_SLOT',
  });
}

/** A validation failure as a live event: a known upload or no free slot is a no-op, else it consumes a slot. */
export function applyValidationFailure(context: BatchTrackerContext, data: FailureData, meta: EventMeta): TrackerStep {
  if (isKnownFailedUpload(context, data.file_upload_id) || !hasFreeSlot(context)) return { context, messages: [] };
  return failSlot(context, data, meta);
}

/** Marks the first free slot failed (precondition: `hasFreeSlot`) and tells the essay. */
export function failSlot(context: BatchTrackerContext, data: FailureData, meta: EventMeta): TrackerStep {
  const index = context.next_free_slot;
  const slot = listAt(context.slots, index);
  if (slot === undefined) throw new Error(`batch tracker ${context.batch_id}: no free slot to fail`);
  const failed: Slot = {
    ...slot,
    state: 'failed',
    file_upload_id: data.file_upload_id,
    original_file_name: data.original_file_name,
  };
  return {
    context: {
      ...context,
      slots: listSet(context.slots, index, failed),
      next_free_slot: index + 1,
      slot_by_failed_upload: mapSet(context.slot_by_failed_upload, data.file_upload_id, index),
    },
    messages: [
      outbound('huleedu.els.essay.content.failed.v1', meta, SourceService.TRACKER, {
        batch_id: context.batch_id,
        essay_id: slot.essay_id,
        file_upload_id: data.file_upload_id,
        original_file_name: data.original_file_name,
        validation_error_code: data.validation_error_code,
      }),
    ],
  };
}

/** The assigned slots as essay references, in slot order. */
export function assignedEssays(context: BatchTrackerContext): ProcessedEssay[] {
  const essays: ProcessedEssay[] = [];
  for (const slot of listItems(context.slots)) {
    if (slot.state === 'assigned' && slot.text_storage_id !== null) {
      essays.push({ essay_id: slot.essay_id, text_storage_id: slot.text_storage_id });
    }
  }
  return essays;
}

/** BatchContentProvisioningCompletedV1: every slot is settled (an empty list means no usable content). */
export function provisioningCompleted(context: BatchTrackerContext, meta: EventMeta): BatchTrackerEmitted {
  const registration = requireRegistration(context);
  return outbound('huleedu.batch.content.provisioning.completed.v1', meta, SourceService.TRACKER, {
    batch_id: context.batch_id,
    provisioned_count: context.assigned_count,
    expected_count: registration.expected_count,
    course_code: registration.course_code,
    user_id: registration.user_id,
    essays_for_processing: assignedEssays(context),
  });
}

/** BatchStudentMatchingRequestedV1 for the NLP service, from the batch's matching command. */
export function studentMatchingRequested(
  context: BatchTrackerContext,
  data: BatchTrackerEventData['STUDENT_MATCHING_INITIATE'],
  meta: EventMeta,
): BatchTrackerEmitted {
  return outbound('huleedu.batch.student.matching.requested.v1', meta, SourceService.TRACKER, {
    batch_id: context.batch_id,
    entity_id: context.batch_id,
    essays_to_process: data.essays_to_process,
    class_id: data.class_id,
    course_code: data.course_code,
  });
}

/** BatchEssaysReady (REGULAR batches, after the associations are confirmed). */
export function essaysReady(context: BatchTrackerContext, meta: EventMeta): BatchTrackerEmitted {
  const registration = requireRegistration(context);
  return outbound('huleedu.els.batch.essays.ready.v1', meta, SourceService.TRACKER, {
    event: 'batch.essays.ready',
    batch_id: context.batch_id,
    ready_essays: assignedEssays(context),
    course_code: registration.course_code,
    course_language: courseLanguage(registration.course_code),
    student_prompt_ref: registration.student_prompt_ref,
    class_type: 'REGULAR',
  });
}
