/**
 * Events between our own machines (ELS tracker <-> essays, essays -> tracker, CMS timeout).
 * They are ordinary envelopes: they go through dispatch, the audit log and the outbox like
 * any other, so a relay or an observer sees the whole causal chain.
 */
import { z } from 'zod';
import { defineEvent, Id, Text } from './envelope.js';
import { PipelinePhaseSchema, RunId } from './payloads.js';

/**
 * The reference's 18 essay triggers, plus the editor-revision and grammar-check ones we wire,
 * the two content-ingestion progress triggers (a file service reporting on a slot) and the
 * four phase retries (an operator's retry-phase moves a `<phase>_failed` essay back to
 * `awaiting_<phase>`).
 */
export const ESSAY_TRIGGERS = [
  'CMD_INITIATE_SPELLCHECK',
  'EVT_SPELLCHECK_STARTED',
  'EVT_SPELLCHECK_SUCCEEDED',
  'EVT_SPELLCHECK_FAILED',
  'CMD_INITIATE_AI_FEEDBACK',
  'EVT_AI_FEEDBACK_STARTED',
  'EVT_AI_FEEDBACK_SUCCEEDED',
  'EVT_AI_FEEDBACK_FAILED',
  'CMD_INITIATE_CJ_ASSESSMENT',
  'EVT_CJ_ASSESSMENT_STARTED',
  'EVT_CJ_ASSESSMENT_SUCCEEDED',
  'EVT_CJ_ASSESSMENT_FAILED',
  'CMD_INITIATE_NLP',
  'EVT_NLP_STARTED',
  'EVT_NLP_SUCCEEDED',
  'EVT_NLP_FAILED',
  'CMD_INITIATE_EDITOR_REVISION',
  'EVT_EDITOR_REVISION_STARTED',
  'EVT_EDITOR_REVISION_SUCCEEDED',
  'EVT_EDITOR_REVISION_FAILED',
  'CMD_INITIATE_GRAMMAR_CHECK',
  'EVT_GRAMMAR_CHECK_STARTED',
  'EVT_GRAMMAR_CHECK_SUCCEEDED',
  'EVT_GRAMMAR_CHECK_FAILED',
  'CMD_MARK_PIPELINE_COMPLETE',
  'EVT_CRITICAL_FAILURE',
  'EVT_CONTENT_INGESTION_STARTED',
  'EVT_TEXT_EXTRACTED',
  'CMD_RETRY_SPELLCHECK',
  'CMD_RETRY_NLP',
  'CMD_RETRY_CJ_ASSESSMENT',
  'CMD_RETRY_AI_FEEDBACK',
] as const;
/** One trigger of the essay machine (its event type). */
export type EssayTrigger = (typeof ESSAY_TRIGGERS)[number];

/** ELS tracker -> essay: a slot exists for this essay (creates the essay in `uploaded`). */
export const EssaySlotCreatedV1 = defineEvent(
  'EssaySlotCreatedV1',
  'huleedu.els.essay.slot.created.v1',
  z.object({ batch_id: Id, essay_id: Id, slot_index: z.number().int().nonnegative() }),
  {
    sender: 'internal',
    batch: 'batch_id',
    targets: [{ machine: 'essay', types: ['SLOT_CREATED'], entity: 'essay_id', create: 'from_event_only' }],
  },
);

/** ELS tracker -> essay: the file meant for this slot failed validation. */
export const EssayContentFailedV1 = defineEvent(
  'EssayContentFailedV1',
  'huleedu.els.essay.content.failed.v1',
  z.object({
    batch_id: Id,
    essay_id: Id,
    file_upload_id: Id,
    original_file_name: z.string().min(1).max(1_000),
    validation_error_code: z.string().min(1).max(200),
  }),
  { sender: 'internal', batch: 'batch_id', targets: [{ machine: 'essay', types: ['CONTENT_FAILED'], entity: 'essay_id' }] },
);

const TransitionRequest = z.object({
  essay_id: Id,
  batch_id: Id,
  trigger: z.enum(ESSAY_TRIGGERS),
  run_id: RunId.optional(),
  text_storage_id: Id.optional(),
  reason: Text.optional(),
});

/** The essay machine event of a transition request: its trigger, with the request as data. */
function triggerEvent(data: z.output<typeof TransitionRequest>): { readonly type: EssayTrigger; readonly data: z.output<typeof TransitionRequest> } {
  return { type: data.trigger, data };
}

/** Fires one trigger of the essay machine (from the tracker, or from an operator). */
export const EssayTransitionRequestedV1 = defineEvent('EssayTransitionRequestedV1', 'huleedu.els.essay.transition.requested.v1', TransitionRequest, {
  sender: 'internal',
  batch: 'batch_id',
  targets: [{ machine: 'essay', types: ESSAY_TRIGGERS, entity: 'essay_id', event: triggerEvent }],
});

/** Essay -> ELS tracker: the essay is terminal for a phase of a pipeline run. */
export const EssayPhaseResultV1 = defineEvent(
  'EssayPhaseResultV1',
  'huleedu.els.essay.phase.result.v1',
  z.object({
    batch_id: Id,
    essay_id: Id,
    run_id: RunId,
    phase_name: PipelinePhaseSchema,
    succeeded: z.boolean(),
    text_storage_id: Id,
  }),
  {
    sender: 'internal',
    batch: 'batch_id',
    targets: [{ machine: 'batch_tracker', types: ['ESSAY_PHASE_RESULT'], entity: 'batch_id' }],
  },
);

/** Essay -> ELS tracker: the essay failed critically; it takes part in no further phase. */
export const EssayCriticalFailureV1 = defineEvent(
  'EssayCriticalFailureV1',
  'huleedu.els.essay.critical.failure.v1',
  z.object({ batch_id: Id, essay_id: Id, reason: Text.optional() }),
  {
    sender: 'internal',
    batch: 'batch_id',
    targets: [{ machine: 'batch_tracker', types: ['ESSAY_CRITICAL_FAILURE'], entity: 'batch_id' }],
  },
);

/** CMS: the 24-hour validation timeout confirmed a batch's associations (the reference defines, never sends, it). */
export const ValidationTimeoutProcessedV1 = defineEvent(
  'ValidationTimeoutProcessedV1',
  'huleedu.class.validation.timeout.processed.v1',
  z.object({
    batch_id: Id,
    class_id: Id,
    user_id: Id.nullish(),
    timeout_hours: z.number().positive(),
    auto_confirmed_associations: z.number().int().nonnegative(),
    unknown_student_associations: z.number().int().nonnegative(),
  }),
  { sender: 'outbound', batch: 'batch_id' },
);
