/** Pure pipeline-run progression: starting a run and applying a phase outcome to it. */
import type { EventData } from '../contracts/events.js';
import type { PipelineExecutionStatus, PipelinePhase } from '../contracts/statuses.js';
import {
  executionStatusOf,
  secondsBetween,
  type BatchContext,
  type BatchEssay,
  type PipelineRun,
  type RunSummary,
} from './context.js';

/** A new run over `essays`, its first phase dispatch_initiated and the rest pending. */
export function newRun(
  context: BatchContext,
  plan: { requested_pipeline: string; phases: readonly PipelinePhase[]; user_id: string },
  essays: readonly BatchEssay[],
  startedAt: string,
): PipelineRun {
  const phase_status: Partial<Record<PipelinePhase, PipelineExecutionStatus>> = {};
  plan.phases.forEach((phase, index) => {
    phase_status[phase] = index === 0 ? 'dispatch_initiated' : 'pending_dependencies';
  });
  return {
    run_id: context.run_count + 1,
    requested_pipeline: plan.requested_pipeline,
    phases: plan.phases,
    index: 0,
    phase_status,
    started_at: startedAt,
    user_id: plan.user_id,
    current_essay_ids: essays.map((essay) => essay.essay_id),
    started_essay_count: essays.length,
    failed_essay_ids: [],
  };
}

/** The phase a run is waiting on. */
export function currentPhase(run: PipelineRun): PipelinePhase {
  const phase = run.phases[run.index];
  if (phase === undefined) throw new Error(`run ${run.run_id} has no phase at index ${run.index}`);
  return phase;
}

type Outcome = EventData<'ELSBatchPhaseOutcomeV1'>;

/**
 * True when the outcome concludes the phase in flight: same phase, same run (when the
 * producer says which), and the phase not concluded yet. Late and duplicate outcomes are not.
 */
export function isCurrentOutcome(context: BatchContext, outcome: Outcome): boolean {
  const run = context.run;
  if (run === null) return false;
  const phase = currentPhase(run);
  return (
    outcome.phase_name === phase &&
    (outcome.run_id === undefined || outcome.run_id === run.run_id) &&
    run.phase_status[phase] === 'dispatch_initiated'
  );
}

/** The context after an outcome, and what happens next. */
export interface OutcomeStep {
  readonly context: BatchContext;
  readonly next: { readonly kind: 'phase'; readonly phase: PipelinePhase; readonly essays: readonly BatchEssay[] } | { readonly kind: 'finished'; readonly summary: RunSummary };
}

function updatedEssays(essays: readonly BatchEssay[], outcome: Outcome, run: PipelineRun): BatchEssay[] {
  const newText = new Map(outcome.processed_essays.map((ref) => [ref.essay_id, ref.text_storage_id]));
  const failed = new Set(outcome.failed_essay_ids);
  const missed = run.phases.slice(run.index + 1);
  return essays.map((essay) => {
    if (failed.has(essay.essay_id) && essay.failed_phase === null) {
      const marked: BatchEssay = { essay_id: essay.essay_id, text_storage_id: essay.text_storage_id, failed_phase: outcome.phase_name };
      return missed.length === 0 ? marked : { ...marked, missed_phases: missed };
    }
    const text = newText.get(essay.essay_id);
    return text === undefined ? essay : { ...essay, text_storage_id: text };
  });
}

function finish(run: PipelineRun, successful: number, failedCritically: boolean, at: string): RunSummary {
  const completed_phases = run.phases.filter((phase) => {
    const status = run.phase_status[phase];
    return status === 'completed_successfully' || status === 'completed_with_partial_success';
  });
  return {
    run_id: run.run_id,
    requested_pipeline: run.requested_pipeline,
    completed_phases,
    phase_status: run.phase_status,
    final_status: failedCritically
      ? 'failed_critically'
      : run.failed_essay_ids.length > 0
        ? 'completed_with_failures'
        : 'completed_successfully',
    successful_essay_count: successful,
    failed_essay_count: run.started_essay_count - successful,
    processing_duration_seconds: secondsBetween(run.started_at, at),
    ...(run.retry === undefined ? {} : { retry: run.retry }),
  };
}

/** Applies the outcome of the phase in flight (callers check isCurrentOutcome first). */
export function applyOutcome(context: BatchContext, outcome: Outcome, at: string): OutcomeStep {
  const run = context.run;
  if (run === null) throw new Error('applyOutcome without a run');
  const phase = currentPhase(run);
  const essays = updatedEssays(context.essays, outcome, run);
  const failedNow = outcome.failed_essay_ids.filter((id) => run.current_essay_ids.includes(id));
  const succeeded = new Set(outcome.processed_essays.map((ref) => ref.essay_id));
  const nextEssays = essays.filter((essay) => succeeded.has(essay.essay_id) && essay.failed_phase === null);
  // A phase no essay came through failed, whatever the outcome claims (invariant
  // batch.one_completion_per_run: a pipeline stops as failed_critically only for a failed phase).
  const status = nextEssays.length === 0 ? 'failed' : executionStatusOf(outcome.phase_status);
  const phase_status: Partial<Record<PipelinePhase, PipelineExecutionStatus>> = { ...run.phase_status, [phase]: status };
  const nextPhase = run.phases[run.index + 1];
  const stops = status === 'failed';
  if (stops) {
    for (const later of run.phases.slice(run.index + 1)) phase_status[later] = 'skipped_due_to_dependency_failure';
  }
  const updatedRun: PipelineRun = {
    ...run,
    phase_status,
    failed_essay_ids: [...run.failed_essay_ids, ...failedNow],
    ...(stops || nextPhase === undefined
      ? {}
      : { index: run.index + 1, current_essay_ids: nextEssays.map((essay) => essay.essay_id) }),
  };
  if (!stops && nextPhase !== undefined) phase_status[nextPhase] = 'dispatch_initiated';
  const base: BatchContext = {
    ...context,
    essays,
    phase_history: { ...context.phase_history, [phase]: status },
    run: updatedRun,
  };
  if (!stops && nextPhase !== undefined) {
    return { context: base, next: { kind: 'phase', phase: nextPhase, essays: nextEssays } };
  }
  const summary = finish(updatedRun, stops ? 0 : nextEssays.length, stops, at);
  return { context: { ...base, run: null, last_run: summary }, next: { kind: 'finished', summary } };
}
