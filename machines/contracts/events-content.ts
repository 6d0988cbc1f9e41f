/** Registration and content provisioning events (reference.md 7.2, ELS batch tracker). */
import { z } from 'zod';
import { defineEvent, Id, Text, Timestamp } from './envelope.js';
import { CourseCodeSchema, EssayRef, ErrorDetail, SystemProcessingMetadata } from './payloads.js';

/** BOS -> ELS: a batch and its essay slots exist. Creates the batch, its tracker and its essays. */
export const BatchEssaysRegistered = defineEvent(
  'BatchEssaysRegistered',
  'huleedu.batch.essays.registered.v1',
  z
    .object({
      event: z.literal('batch.essays.registered').default('batch.essays.registered'),
      entity_id: Id,
      expected_essay_count: z.number().int().positive().max(10_000),
      essay_ids: z.array(Id).max(10_000),
      metadata: SystemProcessingMetadata.optional(),
      course_code: CourseCodeSchema,
      student_prompt_ref: Id.nullish(),
      user_id: Id,
      org_id: Id.nullish(),
      class_id: Id.nullish(),
    })
    .refine((d) => d.essay_ids.length === d.expected_essay_count, {
      message: 'essay_ids must hold exactly expected_essay_count ids',
      path: ['essay_ids'],
    })
    .refine((d) => new Set(d.essay_ids).size === d.essay_ids.length, {
      message: 'essay_ids must be unique',
      path: ['essay_ids'],
    }),
  {
    sender: 'client_command',
    batch: 'entity_id',
    targets: [
      { machine: 'batch', types: ['BATCH_REGISTERED'], entity: 'entity_id', create: 'from_event' },
      { machine: 'batch_tracker', types: ['REGISTERED'], entity: 'entity_id', create: 'then_apply' },
    ],
  },
);

/** File service -> ELS: one essay's text is stored (entity_id is the batch). */
export const EssayContentProvisionedV1 = defineEvent(
  'EssayContentProvisionedV1',
  'huleedu.file.essay.content.provisioned.v1',
  z.object({
    event: z.string().max(200).optional(),
    entity_id: Id,
    file_upload_id: Id,
    original_file_name: z.string().min(1).max(1_000),
    raw_file_storage_id: Id,
    text_storage_id: Id,
    file_size_bytes: z.number().int().nonnegative(),
    content_md5_hash: z.string().max(64).nullish(),
    correlation_id: z.uuid().optional(),
    timestamp: Timestamp.optional(),
  }),
  {
    sender: 'service_result',
    batch: 'entity_id',
    targets: [{ machine: 'batch_tracker', types: ['CONTENT_PROVISIONED'], entity: 'entity_id', create: 'then_apply' }],
  },
);

/** File service -> ELS: one uploaded file could not be used; it consumes a slot. */
export const EssayValidationFailedV1 = defineEvent(
  'EssayValidationFailedV1',
  'huleedu.file.essay.validation.failed.v1',
  z.object({
    entity_id: Id,
    file_upload_id: Id,
    original_file_name: z.string().min(1).max(1_000),
    raw_file_storage_id: Id.nullish(),
    validation_error_code: z.string().min(1).max(200),
    validation_error_detail: ErrorDetail.optional(),
    file_size_bytes: z.number().int().nonnegative().optional(),
    correlation_id: z.uuid().optional(),
    timestamp: Timestamp.optional(),
  }),
  {
    sender: 'service_result',
    batch: 'entity_id',
    targets: [{ machine: 'batch_tracker', types: ['CONTENT_VALIDATION_FAILED'], entity: 'entity_id', create: 'then_apply' }],
  },
);

/** ELS -> clients: content went into an essay slot. Also drives the essay to ready_for_processing. */
export const EssaySlotAssignedV1 = defineEvent(
  'EssaySlotAssignedV1',
  'huleedu.els.essay.slot.assigned.v1',
  z.object({
    batch_id: Id,
    essay_id: Id,
    file_upload_id: Id,
    text_storage_id: Id,
    original_file_name: z.string().min(1).max(1_000),
    correlation_id: z.uuid().optional(),
    timestamp: Timestamp.optional(),
  }),
  { sender: 'internal', batch: 'batch_id', targets: [{ machine: 'essay', types: ['SLOT_ASSIGNED'], entity: 'essay_id' }], alsoOutside: true },
);

/** ELS: content arrived for a batch with no free slot. */
export const ExcessContentProvisionedV1 = defineEvent(
  'ExcessContentProvisionedV1',
  'huleedu.els.excess.content.provisioned.v1',
  z.object({
    batch_id: Id,
    original_file_name: z.string().min(1).max(1_000),
    text_storage_id: Id,
    reason: z.literal('NO_AVAILABLE_SLOT'),
    correlation_id: z.uuid().optional(),
    timestamp: Timestamp.optional(),
  }),
  { sender: 'outbound', batch: 'batch_id' },
);

/** ELS -> BOS: no slot of the batch is waiting for content any more. */
export const BatchContentProvisioningCompletedV1 = defineEvent(
  'BatchContentProvisioningCompletedV1',
  'huleedu.batch.content.provisioning.completed.v1',
  z.object({
    batch_id: Id,
    provisioned_count: z.number().int().nonnegative(),
    expected_count: z.number().int().nonnegative(),
    course_code: CourseCodeSchema,
    user_id: Id,
    essays_for_processing: z.array(EssayRef).max(10_000),
    correlation_id: z.uuid().optional(),
    timestamp: Timestamp.optional(),
  }),
  {
    sender: 'internal',
    batch: 'batch_id',
    targets: [{ machine: 'batch', types: ['CONTENT_PROVISIONING_COMPLETED'], entity: 'batch_id' }],
  },
);

/** ELS -> BOS (critical or not): validation errors of a batch's files. */
export const BatchValidationErrorsV1 = defineEvent(
  'BatchValidationErrorsV1',
  'huleedu.els.batch.validation.errors.v1',
  z.object({
    batch_id: Id,
    failed_essays: z
      .array(
        z.object({
          essay_id: Id.nullish(),
          file_name: z.string().max(1_000).nullish(),
          error_detail: ErrorDetail.nullish(),
          failed_at: Timestamp.nullish(),
        }),
      )
      .max(10_000),
    error_summary: z.object({
      total_errors: z.number().int().nonnegative(),
      error_categories: z.record(z.string(), z.number().int().nonnegative()).default({}),
      critical_failure: z.boolean(),
    }),
    correlation_id: z.uuid().optional(),
    metadata: z.record(z.string(), z.unknown()).nullish(),
  }),
  { sender: 'service_result', batch: 'batch_id', targets: [{ machine: 'batch', types: ['VALIDATION_ERRORS'], entity: 'batch_id' }] },
);

/** Free-text reason fields used by our own events. */
export const Reason = Text;
