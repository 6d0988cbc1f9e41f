/**
 * What each simulated outside service answers to a command: pure functions from a parsed
 * command envelope and a seeded random source to the reference's result envelope. All the
 * demo's randomness is drawn here (and in the simulator's delays), never in a machine.
 */
import type { LifecycleEnvelope } from '../../machines/contracts/events.js';
import type { EssayRef } from '../../machines/contracts/payloads.js';
import type { Random } from './random.js';

/** The outside services the simulator stands in for. */
export const SIMULATED_SERVICES = ['content', 'student_matching', 'spellcheck', 'nlp', 'cj_assessment', 'ai_feedback'] as const;
export type SimulatedService = (typeof SIMULATED_SERVICES)[number];

/** Who handles an outbox message, and for which batch. */
export interface Assignment {
  readonly service: SimulatedService;
  readonly batch_id: string;
}

/** What an answer is built with. */
export interface AnswerContext {
  readonly random: Random;
  /** Probability that one item (a file, an essay's result) fails. */
  readonly failureRate: number;
  /** The answer's event_id. */
  readonly eventId: string;
  /** The answer's event_timestamp (ISO). */
  readonly at: string;
}

/** A wire envelope, ready for `engine.dispatch`. */
export type AnswerEnvelope = Record<string, unknown> & { readonly event_id: string; readonly event_type: string };

/**
 * The service that answers `envelope`, or undefined when no simulated service consumes it.
 * EssaySlotCreatedV1 stands for "a slot waits for a file": the simulated file service fills it.
 */
export function assignmentOf(envelope: LifecycleEnvelope): Assignment | undefined {
  switch (envelope.event_type) {
    case 'huleedu.els.essay.slot.created.v1':
      return { service: 'content', batch_id: envelope.data.batch_id };
    case 'huleedu.batch.student.matching.requested.v1':
      return { service: 'student_matching', batch_id: envelope.data.batch_id };
    case 'huleedu.essay.spellcheck.requested.v1':
      return { service: 'spellcheck', batch_id: envelope.data.parent_id };
    case 'huleedu.batch.nlp.processing.requested.v2':
      return { service: 'nlp', batch_id: envelope.data.batch_id };
    case 'huleedu.els.cj_assessment.requested.v1':
      return { service: 'cj_assessment', batch_id: envelope.data.entity_id };
    case 'huleedu.batch.ai_feedback.processing.requested.v1':
      return { service: 'ai_feedback', batch_id: envelope.data.batch_id };
    default:
      return undefined;
  }
}

function wrap(ctx: AnswerContext, cause: LifecycleEnvelope, event_type: string, source: string, data: Record<string, unknown>): AnswerEnvelope {
  return {
    event_id: ctx.eventId,
    event_type,
    event_timestamp: ctx.at,
    source_service: `${source} (simulated)`,
    schema_version: 1,
    correlation_id: cause.correlation_id,
    data,
    metadata: { causation_id: cause.event_id, simulated: true },
  };
}

const VALIDATION_ERRORS = ['EMPTY_CONTENT', 'CONTENT_TOO_SHORT', 'UNSUPPORTED_FILE_TYPE', 'TEXT_EXTRACTION_FAILED'] as const;

function contentAnswer(cause: Extract<LifecycleEnvelope, { event_type: 'huleedu.els.essay.slot.created.v1' }>, ctx: AnswerContext): AnswerEnvelope {
  const { batch_id, slot_index } = cause.data;
  const file = { file_upload_id: `upload-${batch_id}-${slot_index}`, original_file_name: `essay-${slot_index + 1}.docx` };
  const file_size_bytes = ctx.random.int(2_000, 40_000);
  if (ctx.random.chance(ctx.failureRate)) {
    const code = ctx.random.pick(VALIDATION_ERRORS);
    return wrap(ctx, cause, 'huleedu.file.essay.validation.failed.v1', 'file_service', {
      entity_id: batch_id,
      ...file,
      raw_file_storage_id: `raw-${batch_id}-${slot_index}`,
      validation_error_code: code,
      validation_error_detail: { error_code: code, message: `simulated validation failure: ${code}` },
      file_size_bytes,
    });
  }
  return wrap(ctx, cause, 'huleedu.file.essay.content.provisioned.v1', 'file_service', {
    entity_id: batch_id,
    ...file,
    raw_file_storage_id: `raw-${batch_id}-${slot_index}`,
    text_storage_id: `text-${batch_id}-${slot_index}`,
    file_size_bytes,
  });
}

const FIRST_NAMES = ['Astrid', 'Erik', 'Maja', 'Oskar', 'Elsa', 'Hugo', 'Alva', 'Liam', 'Freja', 'Noah', 'Saga', 'Vera'] as const;
const LAST_NAMES = ['Lind', 'Berg', 'Holm', 'Nyström', 'Ek', 'Sjöberg', 'Dahl', 'Strand'] as const;

function suggestionsFor(classId: string, random: Random): Array<Record<string, unknown>> {
  const count = random.chance(0.15) ? 0 : random.chance(0.55) ? 1 : 2;
  let confidence = 0.45 + random.next() * 0.54;
  const suggestions: Array<Record<string, unknown>> = [];
  for (let i = 0; i < count; i += 1) {
    const first = random.pick(FIRST_NAMES);
    const last = random.pick(LAST_NAMES);
    const number = random.int(1, 30);
    suggestions.push({
      student_id: `${classId}-student-${number}`,
      student_name: `${first} ${last}`,
      student_email: `${first}.${last}@school.example`.toLowerCase(),
      confidence_score: Math.round(confidence * 100) / 100,
      match_reasons: i === 0 ? ['name found in essay header'] : ['similar name in class roster'],
    });
    confidence = Math.max(0.05, confidence - 0.05 - random.next() * 0.25);
  }
  return suggestions;
}

function matchingAnswer(
  cause: Extract<LifecycleEnvelope, { event_type: 'huleedu.batch.student.matching.requested.v1' }>,
  ctx: AnswerContext,
): AnswerEnvelope {
  const { batch_id, class_id, course_code, essays_to_process } = cause.data;
  const match_results = essays_to_process.map((essay) => {
    const suggestions = suggestionsFor(class_id, ctx.random);
    return {
      essay_id: essay.essay_id,
      text_storage_id: essay.text_storage_id,
      suggestions,
      ...(suggestions.length === 0 ? { no_match_reason: 'no student name found in the text' } : {}),
    };
  });
  const matched = match_results.filter((result) => result.suggestions.length > 0).length;
  return wrap(ctx, cause, 'huleedu.batch.author.matches.suggested.v1', 'nlp_service', {
    batch_id,
    class_id,
    course_code,
    match_results,
    processing_summary: { total_essays: essays_to_process.length, matched, no_match: essays_to_process.length - matched },
  });
}

function spellcheckAnswer(
  cause: Extract<LifecycleEnvelope, { event_type: 'huleedu.essay.spellcheck.requested.v1' }>,
  ctx: AnswerContext,
): AnswerEnvelope {
  const { entity_id, parent_id, text_storage_id, run_id } = cause.data;
  const failed = ctx.random.chance(ctx.failureRate);
  const processing_duration_ms = ctx.random.int(80, 2_500);
  return wrap(ctx, cause, 'huleedu.batch.spellcheck.phase.completed.v1', 'spellchecker_service', {
    entity_id,
    batch_id: parent_id,
    status: failed ? 'failed' : 'completed',
    ...(failed ? { error_code: 'SPELLCHECK_SERVICE_ERROR' } : { corrected_text_storage_id: `corrected-${text_storage_id}-r${run_id ?? 0}`.slice(0, 255) }),
    processing_duration_ms,
  });
}

function summarize(essays: readonly EssayRef[], ctx: AnswerContext): Record<string, unknown> {
  const successful_essay_ids: string[] = [];
  const failed_essay_ids: string[] = [];
  for (const essay of essays) (ctx.random.chance(ctx.failureRate) ? failed_essay_ids : successful_essay_ids).push(essay.essay_id);
  return {
    total_essays: essays.length,
    successful: successful_essay_ids.length,
    failed: failed_essay_ids.length,
    successful_essay_ids,
    failed_essay_ids,
    processing_time_seconds: Math.round(ctx.random.next() * 300) / 10,
  };
}

/** The answer of the assigned simulated service to `cause` (draws from `ctx.random`). */
export function answerFor(cause: LifecycleEnvelope, ctx: AnswerContext): AnswerEnvelope | undefined {
  switch (cause.event_type) {
    case 'huleedu.els.essay.slot.created.v1':
      return contentAnswer(cause, ctx);
    case 'huleedu.batch.student.matching.requested.v1':
      return matchingAnswer(cause, ctx);
    case 'huleedu.essay.spellcheck.requested.v1':
      return spellcheckAnswer(cause, ctx);
    case 'huleedu.batch.nlp.processing.requested.v2':
      return wrap(ctx, cause, 'huleedu.batch.nlp.analysis.completed.v1', 'nlp_service', {
        batch_id: cause.data.batch_id,
        status: 'completed',
        processing_summary: summarize(cause.data.essays_to_process, ctx),
      });
    case 'huleedu.els.cj_assessment.requested.v1':
      return wrap(ctx, cause, 'huleedu.cj_assessment.completed.v1', 'cj_assessment_service', {
        entity_id: cause.data.entity_id,
        cj_assessment_job_id: `cj-${cause.data.entity_id}-r${cause.data.run_id ?? 0}`.slice(0, 255),
        status: 'completed',
        processing_summary: summarize(cause.data.essays_for_cj, ctx),
      });
    case 'huleedu.batch.ai_feedback.processing.requested.v1':
      return wrap(ctx, cause, 'huleedu.ai_feedback.completed.v1', 'ai_feedback_service', {
        batch_id: cause.data.batch_id,
        status: 'completed',
        processing_summary: summarize(cause.data.essays_to_process, ctx),
      });
    default:
      return undefined;
  }
}
