/** Builders of valid wire envelopes for tests (deterministic ids from a counter). */
import { deterministicUuid } from '../../adapters/engine/ids.js';

let counter = 0;

/** A fresh, valid event id (deterministic per process run). */
export function nextEventId(): string {
  counter += 1;
  return deterministicUuid(`test-event:${counter}`);
}

/** The correlation id used by default in tests. */
export const CORRELATION_ID = deterministicUuid('test-correlation');

/** A full envelope of `event_type` with `data`. */
export function envelope(
  event_type: string,
  data: Record<string, unknown>,
  options: { event_id?: string; correlation_id?: string; timestamp?: string; source_service?: string } = {},
): Record<string, unknown> {
  return {
    event_id: options.event_id ?? nextEventId(),
    event_type,
    event_timestamp: options.timestamp ?? '2026-01-01T10:00:00.000Z',
    source_service: options.source_service ?? 'test',
    schema_version: 1,
    correlation_id: options.correlation_id ?? CORRELATION_ID,
    data,
  };
}

/** BatchEssaysRegistered for a GUEST (no class) or REGULAR (class_id) batch. */
export function registration(
  batchId: string,
  essayIds: readonly string[],
  extra: { class_id?: string; student_prompt_ref?: string; course_code?: string; user_id?: string } = {},
): Record<string, unknown> {
  return envelope('huleedu.batch.essays.registered.v1', {
    entity_id: batchId,
    expected_essay_count: essayIds.length,
    essay_ids: [...essayIds],
    course_code: extra.course_code ?? 'ENG5',
    user_id: extra.user_id ?? 'teacher-1',
    ...(extra.class_id === undefined ? {} : { class_id: extra.class_id }),
    ...(extra.student_prompt_ref === undefined ? {} : { student_prompt_ref: extra.student_prompt_ref }),
  });
}

/** EssayContentProvisionedV1 for one file of a batch. */
export function content(batchId: string, textStorageId: string): Record<string, unknown> {
  return envelope('huleedu.file.essay.content.provisioned.v1', {
    entity_id: batchId,
    file_upload_id: `upload-${textStorageId}`,
    original_file_name: `${textStorageId}.docx`,
    raw_file_storage_id: `raw-${textStorageId}`,
    text_storage_id: textStorageId,
    file_size_bytes: 1234,
  });
}

/** ClientBatchPipelineRequestV1. */
export function pipelineRequest(batchId: string, pipeline: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return envelope('huleedu.commands.batch.pipeline.v1', { batch_id: batchId, requested_pipeline: pipeline, user_id: 'teacher-1', ...extra });
}

/** SpellcheckPhaseCompletedV1 for one essay. */
export function spellchecked(batchId: string, essayId: string, ok: boolean): Record<string, unknown> {
  return envelope('huleedu.batch.spellcheck.phase.completed.v1', {
    entity_id: essayId,
    batch_id: batchId,
    status: ok ? 'completed' : 'failed',
    ...(ok ? { corrected_text_storage_id: `corrected-${essayId}` } : { error_code: 'SPELLCHECK_ERROR' }),
    processing_duration_ms: 10,
  });
}

/** A batch-level result (CJ, NLP or AI feedback) with the given successful and failed essays. */
export function batchResult(
  phase: 'cj_assessment' | 'nlp' | 'ai_feedback',
  batchId: string,
  successful: readonly string[],
  failed: readonly string[] = [],
): Record<string, unknown> {
  const processing_summary = { successful_essay_ids: [...successful], failed_essay_ids: [...failed] };
  switch (phase) {
    case 'cj_assessment':
      return envelope('huleedu.cj_assessment.completed.v1', { entity_id: batchId, cj_assessment_job_id: `cj-${batchId}`, processing_summary });
    case 'nlp':
      return envelope('huleedu.batch.nlp.analysis.completed.v1', { batch_id: batchId, processing_summary });
    case 'ai_feedback':
      return envelope('huleedu.ai_feedback.completed.v1', { batch_id: batchId, processing_summary });
  }
}
