/** Student matching and association events (reference.md 6 and 7.2). */
import { z } from 'zod';
import { BaseEventFields, CourseCodeSchema, EssayRef } from './payloads.js';
import { defineEvent, Id, Text, Timestamp } from './envelope.js';
import { AssociationValidationMethod, valuesOf } from './statuses.js';

/** BOS -> ELS: start student matching for a REGULAR batch. */
export const BatchServiceStudentMatchingInitiateCommandDataV1 = defineEvent(
  'BatchServiceStudentMatchingInitiateCommandDataV1',
  'huleedu.batch.student.matching.initiate.command.v1',
  z.object({
    ...BaseEventFields,
    entity_id: Id,
    essays_to_process: z.array(EssayRef).max(10_000),
    class_id: Id,
    course_code: CourseCodeSchema,
  }),
  {
    sender: 'internal',
    batch: 'entity_id',
    targets: [{ machine: 'batch_tracker', types: ['STUDENT_MATCHING_INITIATE'], entity: 'entity_id' }],
  },
);

/** ELS -> NLP: match the batch's essays to the class's students. */
export const BatchStudentMatchingRequestedV1 = defineEvent(
  'BatchStudentMatchingRequestedV1',
  'huleedu.batch.student.matching.requested.v1',
  z.object({
    ...BaseEventFields,
    batch_id: Id,
    essays_to_process: z.array(EssayRef).max(10_000),
    class_id: Id,
    course_code: CourseCodeSchema,
  }),
  { sender: 'outbound', batch: 'batch_id' },
);

const Suggestion = z.object({
  student_id: Id,
  student_name: z.string().max(500),
  student_email: z.string().max(500).nullish(),
  confidence_score: z.number().min(0).max(1),
  match_reasons: z.array(z.string().max(500)).max(100).default([]),
  extraction_metadata: z.record(z.string(), z.unknown()).nullish(),
});

/** NLP -> CMS: suggested authors per essay. Creates the batch's association record. */
export const BatchAuthorMatchesSuggestedV1 = defineEvent(
  'BatchAuthorMatchesSuggestedV1',
  'huleedu.batch.author.matches.suggested.v1',
  z.object({
    ...BaseEventFields,
    batch_id: Id,
    class_id: Id,
    course_code: CourseCodeSchema,
    match_results: z
      .array(
        z.object({
          essay_id: Id,
          text_storage_id: Id.nullish(),
          filename: z.string().max(1_000).nullish(),
          suggestions: z.array(Suggestion).max(100).default([]),
          no_match_reason: Text.nullish(),
          extraction_metadata: z.record(z.string(), z.unknown()).nullish(),
        }),
      )
      .max(10_000),
    processing_summary: z.record(z.string(), z.number()).default({}),
    processing_metadata: z.record(z.string(), z.unknown()).nullish(),
  }),
  {
    sender: 'service_result',
    batch: 'batch_id',
    targets: [{ machine: 'associations', types: ['MATCHES_SUGGESTED'], entity: 'batch_id', create: 'from_event' }],
  },
);

/**
 * A person confirms or rejects the suggested associations of a batch (our own event: the
 * reference does this over HTTP, `POST /v1/batches/{id}/student-associations/confirm`).
 */
export const StudentAssociationsValidatedV1 = defineEvent(
  'StudentAssociationsValidatedV1',
  'huleedu.class.student.associations.validated.v1',
  z.object({
    batch_id: Id,
    user_id: Id,
    associations: z
      .array(z.object({ essay_id: Id, student_id: Id, confirmed: z.boolean() }))
      .max(10_000),
  }),
  {
    sender: 'client_command',
    batch: 'batch_id',
    targets: [{ machine: 'associations', types: ['ASSOCIATIONS_VALIDATED'], entity: 'batch_id' }],
  },
);

const ConfirmedAssociation = z.object({
  essay_id: Id,
  student_id: Id.nullish(),
  confidence_score: z.number().min(0).max(1),
  validation_method: z.enum(valuesOf(AssociationValidationMethod)),
  validated_by: Id.nullish(),
  validated_at: Timestamp,
});

/** CMS -> BOS, ELS: the batch's associations are final (by a person or by the 24 h timeout). */
export const StudentAssociationsConfirmedV1 = defineEvent(
  'StudentAssociationsConfirmedV1',
  'huleedu.class.student.associations.confirmed.v1',
  z.object({
    ...BaseEventFields,
    batch_id: Id,
    class_id: Id,
    course_code: CourseCodeSchema,
    associations: z.array(ConfirmedAssociation).max(10_000),
    timeout_triggered: z.boolean(),
    validation_summary: z.record(z.string(), z.number().int().nonnegative()),
  }),
  {
    sender: 'internal',
    batch: 'batch_id',
    targets: [
      { machine: 'batch', types: ['ASSOCIATIONS_CONFIRMED'], entity: 'batch_id' },
      { machine: 'batch_tracker', types: ['ASSOCIATIONS_CONFIRMED'], entity: 'batch_id' },
    ],
  },
);

/** ELS -> BOS (REGULAR): the batch's essays are ready after student validation. */
export const BatchEssaysReady = defineEvent(
  'BatchEssaysReady',
  'huleedu.els.batch.essays.ready.v1',
  z.object({
    event: z.literal('batch.essays.ready').default('batch.essays.ready'),
    batch_id: Id,
    ready_essays: z.array(EssayRef).min(1, 'ready_essays must list at least one essay (as in the reference)').max(10_000),
    metadata: z.record(z.string(), z.unknown()).nullish(),
    course_code: CourseCodeSchema,
    course_language: z.enum(['en', 'sv']),
    student_prompt_ref: Id.nullish(),
    class_type: z.enum(['GUEST', 'REGULAR']),
  }),
  { sender: 'internal', batch: 'batch_id', targets: [{ machine: 'batch', types: ['ESSAYS_READY'], entity: 'batch_id' }] },
);
