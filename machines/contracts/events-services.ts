/** Requests ELS sends to the processing services and the results they answer with (reference.md 7.2). */
import { z } from 'zod';
import { defineEvent, Id, Text, Timestamp } from './envelope.js';
import { BaseEventFields, CourseCodeSchema, EssayRef, ProcessingSummary, RunId, SystemProcessingMetadata } from './payloads.js';
import { ProcessingStatus, valuesOf } from './statuses.js';
import type { EssayTransitionRequestedV1 } from './events-internal.js';

const LanguageSchema = z.enum(['en', 'sv']);

/** ELS -> spellchecker: one essay to spellcheck (ProcessingUpdate + text id and language). */
export const EssayLifecycleSpellcheckRequestV1 = defineEvent(
  'EssayLifecycleSpellcheckRequestV1',
  'huleedu.essay.spellcheck.requested.v1',
  z.object({
    ...BaseEventFields,
    entity_id: Id,
    parent_id: Id,
    status: z.string().max(100),
    system_metadata: SystemProcessingMetadata.optional(),
    text_storage_id: Id,
    language: LanguageSchema,
    run_id: RunId.optional(),
  }),
  { sender: 'outbound', batch: 'parent_id' },
);

const SpellcheckResult = z.object({
  entity_id: Id,
  batch_id: Id,
  correlation_id: z.string().max(200).optional(),
  status: z.enum(valuesOf(ProcessingStatus)),
  corrected_text_storage_id: Id.nullish(),
  error_code: z.string().max(200).nullish(),
  processing_duration_ms: z.number().int().nonnegative(),
  timestamp: Timestamp.optional(),
});

/** The essay trigger a spellcheck result fires, with the corrected text or the error code. */
function spellcheckTrigger(data: z.output<typeof SpellcheckResult>): {
  readonly type: 'EVT_SPELLCHECK_SUCCEEDED' | 'EVT_SPELLCHECK_FAILED';
  readonly data: z.output<typeof EssayTransitionRequestedV1.data>;
} {
  const trigger = data.status === 'completed' ? 'EVT_SPELLCHECK_SUCCEEDED' : 'EVT_SPELLCHECK_FAILED';
  const essayEvent: z.output<typeof EssayTransitionRequestedV1.data> = {
    essay_id: data.entity_id,
    batch_id: data.batch_id,
    trigger,
    ...(data.corrected_text_storage_id == null ? {} : { text_storage_id: data.corrected_text_storage_id }),
    ...(data.error_code == null ? {} : { reason: data.error_code }),
  };
  return { type: trigger, data: essayEvent };
}

/** Spellchecker -> ELS (thin): one essay's spellcheck finished (entity_id is the essay). */
export const SpellcheckPhaseCompletedV1 = defineEvent('SpellcheckPhaseCompletedV1', 'huleedu.batch.spellcheck.phase.completed.v1', SpellcheckResult, {
  sender: 'service_result',
  batch: 'batch_id',
  targets: [{ machine: 'essay', types: ['EVT_SPELLCHECK_SUCCEEDED', 'EVT_SPELLCHECK_FAILED'], entity: 'entity_id', event: spellcheckTrigger }],
});

/** ELS -> CJ assessment: rank these essays by comparative judgement. */
export const ELS_CJAssessmentRequestV1 = defineEvent(
  'ELS_CJAssessmentRequestV1',
  'huleedu.els.cj_assessment.requested.v1',
  z.object({
    ...BaseEventFields,
    entity_id: Id,
    system_metadata: SystemProcessingMetadata.optional(),
    essays_for_cj: z.array(EssayRef).min(1).max(10_000),
    language: LanguageSchema,
    course_code: CourseCodeSchema,
    student_prompt_ref: Id.nullish(),
    llm_config_overrides: z.record(z.string(), z.unknown()).nullish(),
    assignment_id: z.string().max(100).nullish(),
    user_id: Id,
    org_id: Id.nullish(),
    run_id: RunId.optional(),
  }),
  { sender: 'outbound', batch: 'entity_id' },
);

const batchResultFields = {
  ...BaseEventFields,
  status: z.string().max(100).optional(),
  system_metadata: SystemProcessingMetadata.optional(),
  processing_summary: ProcessingSummary,
};

/** CJ assessment -> ELS (thin): the batch's CJ finished; per-essay success in the summary. */
export const CJAssessmentCompletedV1 = defineEvent(
  'CJAssessmentCompletedV1',
  'huleedu.cj_assessment.completed.v1',
  z.object({ ...batchResultFields, entity_id: Id, cj_assessment_job_id: Id }),
  {
    sender: 'service_result',
    batch: 'entity_id',
    targets: [{ machine: 'batch_tracker', types: ['CJ_ASSESSMENT_COMPLETED'], entity: 'entity_id' }],
  },
);

/** CJ assessment -> ELS: the whole CJ job failed; every essay still in the phase fails. */
export const CJAssessmentFailedV1 = defineEvent(
  'CJAssessmentFailedV1',
  'huleedu.cj_assessment.failed.v1',
  z.object({
    ...BaseEventFields,
    entity_id: Id,
    status: z.string().max(100).optional(),
    system_metadata: SystemProcessingMetadata.optional(),
    cj_assessment_job_id: Id,
  }),
  {
    sender: 'service_result',
    batch: 'entity_id',
    targets: [{ machine: 'batch_tracker', types: ['CJ_ASSESSMENT_FAILED'], entity: 'entity_id' }],
  },
);

/** ELS -> NLP: analyse these essays. */
export const BatchNlpProcessingRequestedV2 = defineEvent(
  'BatchNlpProcessingRequestedV2',
  'huleedu.batch.nlp.processing.requested.v2',
  z.object({
    ...BaseEventFields,
    essays_to_process: z.array(EssayRef).min(1).max(10_000),
    language: LanguageSchema,
    batch_id: Id,
    student_prompt_ref: Id.nullish(),
    run_id: RunId.optional(),
  }),
  { sender: 'outbound', batch: 'batch_id' },
);

/** NLP -> ELS (thin): the batch's NLP analysis finished. */
export const BatchNlpAnalysisCompletedV1 = defineEvent(
  'BatchNlpAnalysisCompletedV1',
  'huleedu.batch.nlp.analysis.completed.v1',
  z.object({ ...batchResultFields, batch_id: Id }),
  {
    sender: 'service_result',
    batch: 'batch_id',
    targets: [{ machine: 'batch_tracker', types: ['NLP_ANALYSIS_COMPLETED'], entity: 'batch_id' }],
  },
);

/** ELS -> AI feedback (our event: the reference publishes a command nobody consumes). */
export const BatchAIFeedbackRequestedV1 = defineEvent(
  'BatchAIFeedbackRequestedV1',
  'huleedu.batch.ai_feedback.processing.requested.v1',
  z.object({
    batch_id: Id,
    essays_to_process: z.array(EssayRef).min(1).max(10_000),
    language: LanguageSchema,
    course_code: CourseCodeSchema,
    student_prompt_ref: Id.nullish(),
    class_type: z.enum(['GUEST', 'REGULAR']),
    owner_user_id: Id,
    run_id: RunId.optional(),
  }),
  { sender: 'outbound', batch: 'batch_id' },
);

/** AI feedback -> ELS (our event, shaped like CJ's and NLP's thin results). */
export const AIFeedbackCompletedV1 = defineEvent(
  'AIFeedbackCompletedV1',
  'huleedu.ai_feedback.completed.v1',
  z.object({ ...batchResultFields, batch_id: Id, error: Text.optional() }),
  {
    sender: 'service_result',
    batch: 'batch_id',
    targets: [{ machine: 'batch_tracker', types: ['AI_FEEDBACK_COMPLETED'], entity: 'batch_id' }],
  },
);
