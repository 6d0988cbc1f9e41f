/**
 * The zod schemas of the batch routes' bodies and of the query strings. The routes parse with
 * them and the OpenAPI document is generated from them; nothing is described twice. Bodies are
 * strict: an unknown field (e.g. a `user_id` the principal must supply) is a 400 naming it.
 */
import { z } from 'zod';
import { Id } from '../../machines/contracts/envelope.js';
import { LifecycleEvents } from '../../machines/contracts/events.js';
import { CourseCodeSchema, PipelinePhaseSchema } from '../../machines/contracts/payloads.js';
import { BatchStatus, valuesOf } from '../../machines/contracts/statuses.js';

const MAX_ESSAYS = 10_000;

/** `POST /batches`: register a batch; the server generates batch_id and essay ids. */
export const RegisterBatchBody = z
  .strictObject({
    expected_essay_count: z.number().int().positive().max(MAX_ESSAYS).optional().describe('How many essays the batch will hold'),
    essay_ids: z.array(Id).min(1).max(MAX_ESSAYS).optional().describe('Client ids of the essays; only their count is used (the server generates ids)'),
    course_code: CourseCodeSchema,
    class_id: Id.optional().describe('Set for a REGULAR batch (student matching); absent for GUEST'),
    student_prompt_ref: Id.optional(),
  })
  .refine((body) => body.expected_essay_count !== undefined || body.essay_ids !== undefined, {
    message: 'expected_essay_count or essay_ids is required',
    path: ['expected_essay_count'],
  })
  .refine((body) => body.expected_essay_count === undefined || body.essay_ids === undefined || body.essay_ids.length === body.expected_essay_count, {
    message: 'essay_ids must hold exactly expected_essay_count ids',
    path: ['essay_ids'],
  });
export type RegisterBatchBody = z.infer<typeof RegisterBatchBody>;

const pipelineData = LifecycleEvents.ClientBatchPipelineRequestV1.data.shape;

/** `POST /batches/:id/pipelines`: request a pipeline run. */
export const PipelineRequestBody = z.strictObject({
  requested_pipeline: pipelineData.requested_pipeline,
  phases: z.array(PipelinePhaseSchema).min(1).max(4).optional().describe('An explicit ordered phase list instead of a named pipeline'),
  prompt_payload: pipelineData.prompt_payload,
  is_retry: z.boolean().optional(),
  retry_reason: z.string().max(500).optional(),
});
export type PipelineRequestBody = z.infer<typeof PipelineRequestBody>;

const retryData = LifecycleEvents.ClientBatchPhaseRetryRequestV1.data.shape;

/**
 * `POST /batches/:id/retry-phase`: re-run one phase for the essays that failed it (all, or a
 * subset; never a subset for cj_assessment: the envelope's rule answers 400).
 */
export const RetryPhaseBody = z.strictObject({
  phase_name: retryData.phase_name,
  essay_ids: retryData.essay_ids,
  reason: retryData.reason,
});
export type RetryPhaseBody = z.infer<typeof RetryPhaseBody>;

/** `POST /batches/:id/student-associations/confirm`: a person's decision per essay. */
export const ConfirmAssociationsBody = z.strictObject({
  associations: z.array(z.strictObject({ essay_id: Id, student_id: Id, confirmed: z.boolean() })).max(MAX_ESSAYS),
});
export type ConfirmAssociationsBody = z.infer<typeof ConfirmAssociationsBody>;

/** `PATCH /batches/:id/prompt`: exactly one of student_prompt_ref and assignment_id. */
export const AttachPromptBody = z.union([
  z.strictObject({ student_prompt_ref: Id }),
  z.strictObject({ assignment_id: z.string().min(1).max(100) }),
]);
export type AttachPromptBody = z.infer<typeof AttachPromptBody>;

/** `POST /batches/:id/close`: no fields. */
export const CloseBatchBody = z.strictObject({});

/** `POST /batches/:id/cancel`: an optional reason. */
export const CancelBatchBody = z.strictObject({ reason: z.string().max(10_000).optional() });
export type CancelBatchBody = z.infer<typeof CancelBatchBody>;

/** `POST /events` with many envelopes (each envelope is checked on its own). */
export const EventGroupWrapper = z.strictObject({ events: z.array(z.unknown()).min(1) });

const pageLimit = z.coerce.number().int().min(1).max(1000);
const pageOffset = z.coerce.number().int().min(0).max(1_000_000);

/** `GET /batches` query. */
export const ListBatchesQuery = z.strictObject({
  status: z.enum(valuesOf(BatchStatus)).optional(),
  limit: pageLimit.default(100),
  offset: pageOffset.default(0),
});

/** `GET /batches/:id/essays` query. */
export const PageQuery = z.strictObject({ limit: pageLimit.default(1000), offset: pageOffset.default(0) });

/** `GET /entities/:machine/:id/history` query. */
export const HistoryQuery = z.strictObject({
  limit: pageLimit.default(100),
  after: z.coerce.number().int().min(0).default(0).describe('Only rows with a position greater than this'),
});

/** `GET /machines/:name` query. */
export const MachineQuery = z.strictObject({
  format: z.enum(['json', 'svg']).optional(),
  active: z.string().max(2_000).optional().describe('Comma-separated state names to highlight in the SVG'),
});

/** A path id (batch, essay, entity). */
export const PathId = Id;

/** `POST /entities/:machine/:id/force`: the state to move to and why (admin only). */
export const ForceBody = z.strictObject({
  to: Id.describe('A top-level state (status) of the machine'),
  reason: z.string().trim().min(1).max(2000).describe('Why; recorded in the audit row with the principal'),
  event_id: Id.optional().describe('Idempotency key: the same id again answers duplicate and changes nothing'),
});
export type ForceBody = z.infer<typeof ForceBody>;

/** `GET /dead-letters` query. */
export const DeadLetterQuery = z.strictObject({
  queue: z.enum(['embedded', 'nats']).optional().describe('Only this queue'),
  limit: pageLimit.default(100),
  after: z.coerce.number().int().min(0).default(0).describe('Only dead letters with a greater id'),
});

/** `GET /stream` query: where to start (the `Last-Event-ID` header, sent by a reconnecting EventSource, wins). */
export const StreamQuery = z.strictObject({
  after: z.coerce.number().int().min(0).optional().describe('Start after this audit position (default: the newest, so only new commits)'),
});
