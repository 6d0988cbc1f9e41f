/**
 * One valid envelope of EVERY topic, built with the typed `envelope` builder (a missing topic or
 * a misspelt field does not compile). `sampleOf(topic, batch, essays)` names the batch the event
 * is for and the essays it mentions, so the cross-batch tests can point an event for one batch at
 * another batch's essays.
 */
import { envelope, type DataInput, type EnvelopeOf, type Topic } from '../../machines/contracts/index.js';
import { nextEventId, CORRELATION_ID } from './envelopes.js';

type Essays = readonly [string, string];
type Sample<T extends Topic> = (batch: string, essays: Essays) => DataInput<T>;

const at = '2026-01-01T10:00:00.000Z';
const refs = (essays: Essays) => essays.map((essay_id) => ({ essay_id, text_storage_id: `text-${essay_id}` }));
const summary = (essays: Essays) => ({ successful_essay_ids: [essays[0]], failed_essay_ids: [essays[1]] });

/** A sample payload per topic (the mapped type makes the list complete). */
export const SAMPLES: { [T in Topic]: Sample<T> } = {
  'huleedu.batch.essays.registered.v1': (batch, essays) => ({ entity_id: batch, expected_essay_count: 2, essay_ids: [...essays], course_code: 'ENG5', user_id: 'teacher-1', student_prompt_ref: 'prompt-1' }),
  'huleedu.file.essay.content.provisioned.v1': (batch) => ({ entity_id: batch, file_upload_id: `up-${batch}`, original_file_name: 'a.docx', raw_file_storage_id: `raw-${batch}`, text_storage_id: `text-new-${batch}`, file_size_bytes: 10 }),
  'huleedu.file.essay.validation.failed.v1': (batch) => ({ entity_id: batch, file_upload_id: `up-bad-${batch}`, original_file_name: 'bad.docx', validation_error_code: 'EMPTY' }),
  'huleedu.els.essay.slot.assigned.v1': (batch, essays) => ({ batch_id: batch, essay_id: essays[0], file_upload_id: 'up-1', text_storage_id: 'text-x', original_file_name: 'a.docx' }),
  'huleedu.els.excess.content.provisioned.v1': (batch) => ({ batch_id: batch, original_file_name: 'a.docx', text_storage_id: 'text-x', reason: 'NO_AVAILABLE_SLOT' }),
  'huleedu.batch.content.provisioning.completed.v1': (batch, essays) => ({ batch_id: batch, provisioned_count: 2, expected_count: 2, course_code: 'ENG5', user_id: 'teacher-1', essays_for_processing: refs(essays) }),
  'huleedu.els.batch.validation.errors.v1': (batch, essays) => ({ batch_id: batch, failed_essays: [{ essay_id: essays[0] }], error_summary: { total_errors: 1, critical_failure: true } }),
  'huleedu.batch.student.matching.initiate.command.v1': (batch, essays) => ({ entity_id: batch, essays_to_process: refs(essays), class_id: 'class-1', course_code: 'ENG5' }),
  'huleedu.batch.student.matching.requested.v1': (batch, essays) => ({ batch_id: batch, essays_to_process: refs(essays), class_id: 'class-1', course_code: 'ENG5' }),
  'huleedu.batch.author.matches.suggested.v1': (batch, essays) => ({ batch_id: batch, class_id: 'class-1', course_code: 'ENG5', match_results: essays.map((essay_id) => ({ essay_id, suggestions: [{ student_id: `s-${essay_id}`, student_name: 'S', confidence_score: 0.9 }] })) }),
  'huleedu.class.student.associations.validated.v1': (batch, essays) => ({ batch_id: batch, user_id: 'teacher-1', associations: essays.map((essay_id) => ({ essay_id, student_id: `s-${essay_id}`, confirmed: true })) }),
  'huleedu.class.student.associations.confirmed.v1': (batch, essays) => ({ batch_id: batch, class_id: 'class-1', course_code: 'ENG5', timeout_triggered: false, validation_summary: { confirmed: 2 }, associations: essays.map((essay_id) => ({ essay_id, student_id: `s-${essay_id}`, confidence_score: 1, validation_method: 'human', validated_at: at })) }),
  'huleedu.els.batch.essays.ready.v1': (batch, essays) => ({ batch_id: batch, ready_essays: refs(essays), course_code: 'ENG5', course_language: 'en', class_type: 'REGULAR' }),
  'huleedu.commands.batch.pipeline.v1': (batch) => ({ batch_id: batch, requested_pipeline: 'nlp', user_id: 'teacher-1' }),
  'huleedu.commands.batch.phase.retry.v1': (batch, essays) => ({ batch_id: batch, phase_name: 'spellcheck', essay_ids: [essays[1]], reason: 'spellcheck service outage', user_id: 'teacher-1' }),
  'huleedu.pipeline.denied.v1': (batch) => ({ batch_id: batch, user_id: 'teacher-1', requested_pipeline: 'nlp', denial_reason: 'no credits', required_credits: 1, available_credits: 0, denied_at: at }),
  'huleedu.batch.phase.skipped.v1': (batch) => ({ batch_id: batch, phase_name: 'spellcheck', skip_reason: 'already_completed' }),
  'huleedu.els.spellcheck.initiate.command.v1': (batch, essays) => ({ entity_id: batch, essays_to_process: refs(essays), language: 'en', run_id: 1 }),
  'huleedu.batch.nlp.initiate.command.v2': (batch, essays) => ({ entity_id: batch, essays_to_process: refs(essays), language: 'en', run_id: 1 }),
  'huleedu.batch.cj_assessment.initiate.command.v1': (batch, essays) => ({ entity_id: batch, essays_to_process: refs(essays), language: 'en', run_id: 1, course_code: 'ENG5', class_type: 'GUEST' }),
  'huleedu.batch.ai_feedback.initiate.command.v1': (batch, essays) => ({ entity_id: batch, essays_to_process: refs(essays), language: 'en', run_id: 1, course_code: 'ENG5', class_type: 'GUEST', owner_user_id: 'teacher-1' }),
  'huleedu.els.batch.phase.outcome.v1': (batch, essays) => ({ batch_id: batch, phase_name: 'spellcheck', phase_status: 'completed_with_failures', processed_essays: [{ essay_id: essays[0], text_storage_id: 'text-x' }], failed_essay_ids: [essays[1]], run_id: 1 }),
  'huleedu.batch.pipeline.completed.v1': (batch) => ({ batch_id: batch, completed_phases: ['spellcheck'], final_status: 'completed_successfully', processing_duration_seconds: 1, successful_essay_count: 2, failed_essay_count: 0 }),
  'huleedu.batch.prompt.attached.v1': (batch) => ({ batch_id: batch, user_id: 'teacher-1', student_prompt_ref: 'prompt-2' }),
  'huleedu.batch.pipeline.request.withdrawn.v1': (batch) => ({ batch_id: batch, user_id: 'teacher-1' }),
  'huleedu.batch.close.requested.v1': (batch) => ({ batch_id: batch, user_id: 'teacher-1' }),
  'huleedu.batch.cancel.requested.v1': (batch) => ({ batch_id: batch, user_id: 'teacher-1' }),
  'huleedu.batch.phase.cancel.command.v1': (batch, essays) => ({ batch_id: batch, run_id: 1, phase_name: 'spellcheck', essay_ids: [...essays] }),
  'huleedu.batch.closed.v1': (batch, essays) => ({ batch_id: batch, final_status: 'completed_successfully', successful_essay_ids: [...essays], failed_essay_ids: [] }),
  'huleedu.essay.spellcheck.requested.v1': (batch, essays) => ({ entity_id: essays[0], parent_id: batch, status: 'awaiting_spellcheck', text_storage_id: 'text-x', language: 'en' }),
  'huleedu.batch.spellcheck.phase.completed.v1': (batch, essays) => ({ entity_id: essays[0], batch_id: batch, status: 'completed', corrected_text_storage_id: 'forged', processing_duration_ms: 1 }),
  'huleedu.els.cj_assessment.requested.v1': (batch, essays) => ({ entity_id: batch, essays_for_cj: refs(essays), language: 'en', course_code: 'ENG5', user_id: 'teacher-1' }),
  'huleedu.cj_assessment.completed.v1': (batch, essays) => ({ entity_id: batch, cj_assessment_job_id: 'job-1', processing_summary: summary(essays) }),
  'huleedu.cj_assessment.failed.v1': (batch) => ({ entity_id: batch, cj_assessment_job_id: 'job-1' }),
  'huleedu.batch.nlp.processing.requested.v2': (batch, essays) => ({ batch_id: batch, essays_to_process: refs(essays), language: 'en' }),
  'huleedu.batch.nlp.analysis.completed.v1': (batch, essays) => ({ batch_id: batch, processing_summary: summary(essays) }),
  'huleedu.batch.ai_feedback.processing.requested.v1': (batch, essays) => ({ batch_id: batch, essays_to_process: refs(essays), language: 'en', course_code: 'ENG5', class_type: 'GUEST', owner_user_id: 'teacher-1' }),
  'huleedu.ai_feedback.completed.v1': (batch, essays) => ({ batch_id: batch, processing_summary: summary(essays) }),
  'huleedu.els.essay.slot.created.v1': (batch, essays) => ({ batch_id: batch, essay_id: essays[0], slot_index: 0 }),
  'huleedu.els.essay.content.failed.v1': (batch, essays) => ({ batch_id: batch, essay_id: essays[0], file_upload_id: 'up-1', original_file_name: 'a.docx', validation_error_code: 'EMPTY' }),
  'huleedu.els.essay.transition.requested.v1': (batch, essays) => ({ batch_id: batch, essay_id: essays[0], trigger: 'CMD_MARK_PIPELINE_COMPLETE' }),
  'huleedu.els.essay.phase.result.v1': (batch, essays) => ({ batch_id: batch, essay_id: essays[0], run_id: 1, phase_name: 'spellcheck', succeeded: true, text_storage_id: 'text-x' }),
  'huleedu.els.essay.critical.failure.v1': (batch, essays) => ({ batch_id: batch, essay_id: essays[0] }),
  'huleedu.class.validation.timeout.processed.v1': (batch) => ({ batch_id: batch, class_id: 'class-1', timeout_hours: 24, auto_confirmed_associations: 1, unknown_student_associations: 0 }),
};

/** A valid envelope of `topic` for `batch`, mentioning `essays`. */
export function sampleOf<T extends Topic>(topic: T, batch: string, essays: Essays): EnvelopeOf<T> {
  const data = (SAMPLES[topic] as Sample<T>)(batch, essays);
  return envelope(topic, data, { event_id: nextEventId(), correlation_id: CORRELATION_ID, event_timestamp: at, source_service: 'test' });
}
