/** Payload building blocks shared by several lifecycle events (reference.md 7.1). */
import { z } from 'zod';
import { Id, Text, Timestamp } from './envelope.js';
import { CourseCode, PIPELINE_PHASES, PhaseName, valuesOf } from './statuses.js';

/** zod schema of a course code. */
export const CourseCodeSchema = z.enum(valuesOf(CourseCode));
/** zod schema of any phase name (including student_matching). */
export const PhaseNameSchema = z.enum(valuesOf(PhaseName));
/** zod schema of a phase a pipeline may run. */
export const PipelinePhaseSchema = z.enum(PIPELINE_PHASES);

/** `EssayProcessingInputRefV1`: an essay and the text it should be processed with. */
export const EssayRef = z.object({
  essay_id: Id,
  text_storage_id: Id,
  spellcheck_metrics: z.record(z.string(), z.unknown()).nullish(),
});
export type EssayRef = z.infer<typeof EssayRef>;

/** `SystemProcessingMetadata` (every field optional: producers fill it unevenly). */
export const SystemProcessingMetadata = z.object({
  entity_id: Id.optional(),
  entity_type: z.string().max(100).optional(),
  parent_id: Id.nullish(),
  timestamp: Timestamp.optional(),
  processing_stage: z.string().max(100).nullish(),
  started_at: Timestamp.nullish(),
  completed_at: Timestamp.nullish(),
  event: z.string().max(200).nullish(),
  error_info: z.record(z.string(), z.unknown()).nullish(),
});

/** `BaseEventData`: the optional common header of many payloads. */
export const BaseEventFields = {
  event_name: z.string().max(200).optional(),
  entity_id: Id.optional(),
  entity_type: z.string().max(100).optional(),
  parent_id: Id.nullish(),
  timestamp: Timestamp.optional(),
};

/** Batch-level result summary of CJ, NLP and AI feedback (`processing_summary`). */
export const ProcessingSummary = z.object({
  total_essays: z.number().int().nonnegative().optional(),
  successful: z.number().int().nonnegative().optional(),
  failed: z.number().int().nonnegative().optional(),
  successful_essay_ids: z.array(Id).max(10_000),
  failed_essay_ids: z.array(Id).max(10_000).default([]),
  processing_time_seconds: z.number().nonnegative().optional(),
});
export type ProcessingSummary = z.infer<typeof ProcessingSummary>;

/**
 * Which pipeline run of a batch a command or outcome belongs to. Our own addition to the
 * reference's payloads; optional so that reference producers (which never send it) still parse.
 */
export const RunId = z.number().int().positive().max(1_000_000);

/** `ErrorDetail` of the reference (loosely: producers differ). */
export const ErrorDetail = z.object({
  error_code: z.string().max(200).optional(),
  message: Text.optional(),
}).loose();
