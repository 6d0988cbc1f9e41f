/** The messages the batch machine emits, built from its context (pure). */
import type { EventMeta } from '../contracts/envelope.js';
import { outbound, SourceService, type OutboundMessage } from '../contracts/messages.js';
import type { AdmissionDecision } from './pipelines.js';
import { courseLanguage, type PipelinePhase } from '../contracts/statuses.js';
import { failedEssayIds, refsOf, successfulEssayIds, type BatchContext, type BatchEssay, type RunSummary } from './context.js';

/** Topics the batch machine emits. */
export type BatchEmittedTopic =
  | 'huleedu.els.spellcheck.initiate.command.v1'
  | 'huleedu.batch.nlp.initiate.command.v2'
  | 'huleedu.batch.cj_assessment.initiate.command.v1'
  | 'huleedu.batch.ai_feedback.initiate.command.v1'
  | 'huleedu.batch.student.matching.initiate.command.v1'
  | 'huleedu.pipeline.denied.v1'
  | 'huleedu.batch.phase.skipped.v1'
  | 'huleedu.batch.pipeline.completed.v1'
  | 'huleedu.batch.phase.cancel.command.v1'
  | 'huleedu.batch.closed.v1';

/** What the batch machine emits. */
export type BatchEmitted = OutboundMessage<BatchEmittedTopic>;

const SOURCE = SourceService.BATCH;

/** The initiate command of one phase for these essays (with their newest text ids); a retry says so. */
export function phaseCommand(
  context: BatchContext,
  phase: PipelinePhase,
  essays: readonly BatchEssay[],
  runId: number,
  cause: EventMeta,
  isRetry = false,
): BatchEmitted {
  const common = {
    entity_id: context.batch_id,
    entity_type: 'batch',
    essays_to_process: refsOf(essays),
    language: courseLanguage(context.course_code),
    run_id: runId,
    ...(isRetry ? { is_retry: true } : {}),
  };
  switch (phase) {
    case 'spellcheck':
      return outbound('huleedu.els.spellcheck.initiate.command.v1', cause, SOURCE, common);
    case 'nlp':
      return outbound('huleedu.batch.nlp.initiate.command.v2', cause, SOURCE, {
        ...common,
        student_prompt_ref: context.student_prompt_ref,
      });
    case 'cj_assessment':
      return outbound('huleedu.batch.cj_assessment.initiate.command.v1', cause, SOURCE, {
        ...common,
        course_code: context.course_code,
        student_prompt_ref: context.student_prompt_ref,
        class_type: context.class_type,
        assignment_id: context.assignment_id,
      });
    case 'ai_feedback':
      return outbound('huleedu.batch.ai_feedback.initiate.command.v1', cause, SOURCE, {
        ...common,
        course_code: context.course_code,
        student_prompt_ref: context.student_prompt_ref,
        class_type: context.class_type,
        owner_user_id: context.user_id,
      });
  }
}

/** BatchPipelineCompletedV1 with the run's real numbers. */
export function pipelineCompleted(context: BatchContext, summary: RunSummary, cause: EventMeta): BatchEmitted {
  return outbound('huleedu.batch.pipeline.completed.v1', cause, SOURCE, {
    event: 'batch.pipeline.completed',
    batch_id: context.batch_id,
    requested_pipeline: summary.requested_pipeline,
    run_id: summary.run_id,
    completed_phases: [...summary.completed_phases],
    final_status: summary.final_status,
    processing_duration_seconds: summary.processing_duration_seconds,
    successful_essay_count: summary.successful_essay_count,
    failed_essay_count: summary.failed_essay_count,
    metadata: {
      batch_id: context.batch_id,
      completed_phases: [...summary.completed_phases],
      final_status: summary.final_status,
      phase_status: { ...summary.phase_status },
      ...(summary.retry === undefined ? {} : { is_retry: true, retried_phase: summary.retry.phase, retry_reason: summary.retry.reason }),
    },
  });
}

/** One PhaseSkippedV1 per pruned phase. */
export function phasesSkipped(context: BatchContext, skipped: readonly PipelinePhase[], cause: EventMeta): BatchEmitted[] {
  return skipped.map((phase) =>
    outbound('huleedu.batch.phase.skipped.v1', cause, SOURCE, {
      batch_id: context.batch_id,
      phase_name: phase,
      skip_reason: 'already_completed',
    }),
  );
}

/** The student-matching command for a REGULAR batch. */
export function studentMatchingCommand(context: BatchContext, cause: EventMeta): BatchEmitted {
  return outbound('huleedu.batch.student.matching.initiate.command.v1', cause, SOURCE, {
    entity_id: context.batch_id,
    entity_type: 'batch',
    essays_to_process: refsOf(context.essays),
    class_id: context.class_id ?? '',
    course_code: context.course_code,
  });
}

/** Tells the phase in flight (ELS and its service) that the batch no longer wants it. */
export function phaseCancel(context: BatchContext, reason: string, cause: EventMeta): BatchEmitted[] {
  const run = context.run;
  if (run === null) return [];
  const phase = run.phases[run.index];
  if (phase === undefined || run.phase_status[phase] !== 'dispatch_initiated') return [];
  return [
    outbound('huleedu.batch.phase.cancel.command.v1', cause, SOURCE, {
      batch_id: context.batch_id,
      run_id: run.run_id,
      phase_name: phase,
      essay_ids: [...run.current_essay_ids],
      reason,
    }),
  ];
}

/** BatchClosedV1 for a final status. */
export function batchClosed(
  context: BatchContext,
  final_status: 'completed_successfully' | 'completed_with_failures' | 'cancelled' | 'failed_critically',
  cause: EventMeta,
  reason?: string,
): BatchEmitted {
  const completed = final_status === 'completed_successfully' || final_status === 'completed_with_failures';
  return outbound('huleedu.batch.closed.v1', cause, SOURCE, {
    batch_id: context.batch_id,
    final_status,
    successful_essay_ids: completed ? successfulEssayIds(context) : [],
    failed_essay_ids: failedEssayIds(context),
    ...(reason === undefined ? {} : { reason }),
  });
}

/** PipelineDeniedV1: the admission hook refused a pipeline or a retry run. */
export function pipelineDenied(
  context: BatchContext,
  request: { readonly user_id: string; readonly requested_pipeline: string },
  decision: Extract<AdmissionDecision, { allowed: false }>,
  cause: EventMeta,
): BatchEmitted {
  return outbound('huleedu.pipeline.denied.v1', cause, SOURCE, {
    batch_id: context.batch_id,
    user_id: request.user_id,
    org_id: context.org_id,
    requested_pipeline: request.requested_pipeline,
    denial_reason: decision.denial_reason,
    required_credits: decision.required_credits,
    available_credits: decision.available_credits,
    resource_breakdown: decision.resource_breakdown === undefined ? null : { ...decision.resource_breakdown },
    denied_at: cause.timestamp,
  });
}
