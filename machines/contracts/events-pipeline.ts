/** Pipeline request, orchestration and completion events (reference.md 4 and 7.2). */
import { z } from 'zod';
import { defineEvent, Id, Text, Timestamp } from './envelope.js';
import { BaseEventFields, CourseCodeSchema, EssayRef, PhaseNameSchema, PipelinePhaseSchema, RunId } from './payloads.js';
import { BatchStatus, PhaseOutcomeStatus, valuesOf } from './statuses.js';

const LanguageSchema = z.enum(['en', 'sv']);
const ClassTypeSchema = z.enum(['GUEST', 'REGULAR']);

/** Gateway -> BOS: run a pipeline on a batch. */
export const ClientBatchPipelineRequestV1 = defineEvent(
  'ClientBatchPipelineRequestV1',
  'huleedu.commands.batch.pipeline.v1',
  z.object({
    batch_id: Id,
    requested_pipeline: z.string().min(1).max(100),
    /** Our addition: an explicit ordered phase list ("mix and match", seed 004). */
    phases: z.array(PipelinePhaseSchema).min(1).max(4).optional(),
    client_correlation_id: z.uuid().optional(),
    user_id: Id,
    is_retry: z.boolean().default(false),
    retry_reason: z.string().max(500).nullish(),
    prompt_payload: z
      .union([
        z.object({ assignment_id: z.string().min(1).max(100), cms_prompt_ref: z.undefined().optional() }),
        z.object({ cms_prompt_ref: Id, assignment_id: z.undefined().optional() }),
      ])
      .nullish(),
  }),
  {
    sender: 'client_command',
    batch: 'batch_id',
    targets: [{ machine: 'batch', types: ['PIPELINE_REQUESTED'], entity: 'batch_id' }],
  },
);

/** BOS -> gateway: the admission hook refused a pipeline request. */
export const PipelineDeniedV1 = defineEvent(
  'PipelineDeniedV1',
  'huleedu.pipeline.denied.v1',
  z.object({
    ...BaseEventFields,
    batch_id: Id,
    user_id: Id,
    org_id: Id.nullish(),
    requested_pipeline: z.string().min(1).max(100),
    denial_reason: z.string().min(1).max(200),
    required_credits: z.number().int().nonnegative(),
    available_credits: z.number().int().nonnegative(),
    resource_breakdown: z.record(z.string(), z.number()).nullish(),
    denied_at: Timestamp,
  }),
  { sender: 'outbound', batch: 'batch_id' },
);

/** BCS: a phase of a requested pipeline was pruned because it already completed. */
export const PhaseSkippedV1 = defineEvent(
  'PhaseSkippedV1',
  'huleedu.batch.phase.skipped.v1',
  z.object({
    batch_id: Id,
    phase_name: PhaseNameSchema,
    skip_reason: z.literal('already_completed'),
    storage_id: Id.nullish(),
    correlation_id: z.uuid().optional(),
    metadata: z.record(z.string(), z.unknown()).nullish(),
  }),
  { sender: 'outbound', batch: 'batch_id' },
);

const phaseCommandFields = {
  ...BaseEventFields,
  entity_id: Id,
  essays_to_process: z.array(EssayRef).min(1).max(10_000),
  language: LanguageSchema,
  run_id: RunId.optional(),
  /** Our addition: the phase re-runs essays that failed it (ELS moves them out of `<phase>_failed`). */
  is_retry: z.boolean().optional(),
};

/** BOS -> ELS: run spellcheck on these essays. */
export const BatchServiceSpellcheckInitiateCommandDataV1 = defineEvent(
  'BatchServiceSpellcheckInitiateCommandDataV1',
  'huleedu.els.spellcheck.initiate.command.v1',
  z.object(phaseCommandFields),
  {
    sender: 'internal',
    batch: 'entity_id',
    targets: [{ machine: 'batch_tracker', types: ['SPELLCHECK_INITIATE'], entity: 'entity_id' }],
  },
);

/** BOS -> ELS: run NLP analysis on these essays. */
export const BatchServiceNLPInitiateCommandDataV2 = defineEvent(
  'BatchServiceNLPInitiateCommandDataV2',
  'huleedu.batch.nlp.initiate.command.v2',
  z.object({ ...phaseCommandFields, student_prompt_ref: Id.nullish() }),
  {
    sender: 'internal',
    batch: 'entity_id',
    targets: [{ machine: 'batch_tracker', types: ['NLP_INITIATE'], entity: 'entity_id' }],
  },
);

/** BOS -> ELS: run comparative-judgement assessment on these essays. */
export const BatchServiceCJAssessmentInitiateCommandDataV1 = defineEvent(
  'BatchServiceCJAssessmentInitiateCommandDataV1',
  'huleedu.batch.cj_assessment.initiate.command.v1',
  z.object({
    ...phaseCommandFields,
    course_code: CourseCodeSchema,
    student_prompt_ref: Id.nullish(),
    class_type: ClassTypeSchema,
    assignment_id: z.string().max(100).nullish(),
  }),
  {
    sender: 'internal',
    batch: 'entity_id',
    targets: [{ machine: 'batch_tracker', types: ['CJ_ASSESSMENT_INITIATE'], entity: 'entity_id' }],
  },
);

/** BOS -> ELS: generate AI feedback for these essays. */
export const BatchServiceAIFeedbackInitiateCommandDataV1 = defineEvent(
  'BatchServiceAIFeedbackInitiateCommandDataV1',
  'huleedu.batch.ai_feedback.initiate.command.v1',
  z.object({
    ...phaseCommandFields,
    course_code: CourseCodeSchema,
    student_prompt_ref: Id.nullish(),
    class_type: ClassTypeSchema,
    owner_user_id: Id,
  }),
  {
    sender: 'internal',
    batch: 'entity_id',
    targets: [{ machine: 'batch_tracker', types: ['AI_FEEDBACK_INITIATE'], entity: 'entity_id' }],
  },
);

/** ELS -> BOS (and BCS, RAS outside): every essay commanded into a phase is terminal for it. */
export const ELSBatchPhaseOutcomeV1 = defineEvent(
  'ELSBatchPhaseOutcomeV1',
  'huleedu.els.batch.phase.outcome.v1',
  z.object({
    batch_id: Id,
    phase_name: PipelinePhaseSchema,
    phase_status: z.enum(valuesOf(PhaseOutcomeStatus)),
    processed_essays: z.array(EssayRef).max(10_000),
    failed_essay_ids: z.array(Id).max(10_000),
    correlation_id: z.uuid().optional(),
    run_id: RunId.optional(),
  }),
  { sender: 'internal', batch: 'batch_id', targets: [{ machine: 'batch', types: ['PHASE_OUTCOME'], entity: 'batch_id' }], alsoOutside: true },
);

/** BOS -> RAS/UI/BCS: a pipeline run ended (the reference never sends it: seed 002). */
export const BatchPipelineCompletedV1 = defineEvent(
  'BatchPipelineCompletedV1',
  'huleedu.batch.pipeline.completed.v1',
  z.object({
    event: z.literal('batch.pipeline.completed').default('batch.pipeline.completed'),
    batch_id: Id,
    requested_pipeline: z.string().max(100).optional(),
    run_id: RunId.optional(),
    completed_phases: z.array(PipelinePhaseSchema),
    final_status: z.enum(['completed_successfully', 'completed_with_failures', 'failed_critically']),
    processing_duration_seconds: z.number().nonnegative(),
    successful_essay_count: z.number().int().nonnegative(),
    failed_essay_count: z.number().int().nonnegative(),
    correlation_id: z.uuid().optional(),
    metadata: z.record(z.string(), z.unknown()).nullish(),
  }),
  { sender: 'outbound', batch: 'batch_id' },
);

/** Attach or replace the batch's prompt (our event; the reference's `PATCH .../prompt`). */
export const BatchPromptAttachedV1 = defineEvent(
  'BatchPromptAttachedV1',
  'huleedu.batch.prompt.attached.v1',
  z
    .object({
      batch_id: Id,
      user_id: Id,
      student_prompt_ref: Id.optional(),
      assignment_id: z.string().min(1).max(100).optional(),
    })
    .refine((d) => (d.student_prompt_ref === undefined) !== (d.assignment_id === undefined), {
      message: 'exactly one of student_prompt_ref and assignment_id is required',
      path: ['student_prompt_ref'],
    }),
  { sender: 'client_command', batch: 'batch_id', targets: [{ machine: 'batch', types: ['PROMPT_ATTACHED'], entity: 'batch_id' }] },
);

/** Drop a pipeline request that is parked waiting for a prompt (our event). */
export const BatchPipelineRequestWithdrawnV1 = defineEvent(
  'BatchPipelineRequestWithdrawnV1',
  'huleedu.batch.pipeline.request.withdrawn.v1',
  z.object({ batch_id: Id, user_id: Id, reason: Text.optional() }),
  {
    sender: 'client_command',
    batch: 'batch_id',
    targets: [{ machine: 'batch', types: ['PIPELINE_REQUEST_WITHDRAWN'], entity: 'batch_id' }],
  },
);

/** Close a batch that is ready: it ends completed_successfully or completed_with_failures (our event). */
export const BatchCloseRequestedV1 = defineEvent(
  'BatchCloseRequestedV1',
  'huleedu.batch.close.requested.v1',
  z.object({ batch_id: Id, user_id: Id }),
  { sender: 'client_command', batch: 'batch_id', targets: [{ machine: 'batch', types: ['CLOSE_REQUESTED'], entity: 'batch_id' }] },
);

/**
 * Re-run one phase for the essays that failed it (our event; the reference's
 * `POST /v1/batches/{id}/retry-phase`). All the phase's failed essays, or the `essay_ids` subset;
 * CJ assessment compares essays with each other, so it is retried whole (no subset), as in the
 * reference. The retry run then takes the retried essays through the phases they missed.
 */
export const ClientBatchPhaseRetryRequestV1 = defineEvent(
  'ClientBatchPhaseRetryRequestV1',
  'huleedu.commands.batch.phase.retry.v1',
  z
    .object({
      batch_id: Id,
      phase_name: PipelinePhaseSchema,
      essay_ids: z
        .array(Id)
        .min(1)
        .max(10_000)
        .refine((ids) => new Set(ids).size === ids.length, { message: 'essay_ids names an essay twice' })
        .optional(),
      reason: z.string().trim().min(1).max(500),
      user_id: Id,
    })
    .refine((d) => d.phase_name !== 'cj_assessment' || d.essay_ids === undefined, {
      message: 'cj_assessment is retried for all its failed essays: CJ compares essays with each other, so it takes no essay_ids subset',
      path: ['essay_ids'],
    }),
  {
    sender: 'client_command',
    batch: 'batch_id',
    targets: [{ machine: 'batch', types: ['PHASE_RETRY_REQUESTED'], entity: 'batch_id' }],
  },
);

/** Cancel a batch from any non-final state (our event). */
export const BatchCancelRequestedV1 = defineEvent(
  'BatchCancelRequestedV1',
  'huleedu.batch.cancel.requested.v1',
  z.object({ batch_id: Id, user_id: Id, reason: Text.optional() }),
  { sender: 'client_command', batch: 'batch_id', targets: [{ machine: 'batch', types: ['CANCEL_REQUESTED'], entity: 'batch_id' }] },
);

/** BOS -> ELS and the phase's service: stop work on a cancelled batch's in-flight phase (our event). */
export const BatchPhaseCancelCommandV1 = defineEvent(
  'BatchPhaseCancelCommandV1',
  'huleedu.batch.phase.cancel.command.v1',
  z.object({
    batch_id: Id,
    run_id: RunId,
    phase_name: PipelinePhaseSchema,
    essay_ids: z.array(Id).max(10_000),
    reason: Text.optional(),
  }),
  { sender: 'internal', batch: 'batch_id', targets: [{ machine: 'batch_tracker', types: ['PHASE_CANCEL'], entity: 'batch_id' }], alsoOutside: true },
);

/** BOS -> ELS, observers: the batch reached a final status (our event). */
export const BatchClosedV1 = defineEvent(
  'BatchClosedV1',
  'huleedu.batch.closed.v1',
  z.object({
    batch_id: Id,
    final_status: z.enum([
      BatchStatus.COMPLETED_SUCCESSFULLY,
      BatchStatus.COMPLETED_WITH_FAILURES,
      BatchStatus.CANCELLED,
      BatchStatus.FAILED_CRITICALLY,
      BatchStatus.CONTENT_INGESTION_FAILED,
    ]),
    successful_essay_ids: z.array(Id).max(10_000),
    failed_essay_ids: z.array(Id).max(10_000),
    reason: Text.optional(),
  }),
  { sender: 'internal', batch: 'batch_id', targets: [{ machine: 'batch_tracker', types: ['BATCH_CLOSED'], entity: 'batch_id' }], alsoOutside: true },
);
