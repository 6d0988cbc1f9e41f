/**
 * Retry-phase (ClientBatchPhaseRetryRequestV1): re-run one pipeline phase for the essays that
 * failed it, then the phases those essays missed in the run where they failed. Pure and
 * deterministic, like the pipeline request's evaluation.
 */
import type { EventData } from '../contracts/events.js';
import type { PipelinePhase } from '../contracts/statuses.js';
import type { BatchContext, BatchEssay } from './context.js';
import { estimatePipelineCost, type AdmissionDecision } from './pipelines.js';
import { hasPromptFor, type BatchMachineOptions, type PipelinePlan } from './request.js';

/** The payload of a retry request. */
export type RetryRequest = EventData<'ClientBatchPhaseRetryRequestV1'>;

/** What a retry would run: the plan of its run and the essays it retries. */
export interface RetryPlan extends PipelinePlan {
  /** The phase retried (the run's first phase). */
  readonly phase: PipelinePhase;
  /** The essays retried, as the batch knows them (still marked failed). */
  readonly essays: readonly BatchEssay[];
  /** Why the operator retries (recorded on the run and in its completion). */
  readonly reason: string;
}

/** What a retry request leads to. */
export type RetryEvaluation =
  | { readonly kind: 'invalid'; readonly reason: string }
  | { readonly kind: 'denied'; readonly plan: RetryPlan; readonly decision: Extract<AdmissionDecision, { allowed: false }> }
  | { readonly kind: 'start'; readonly plan: RetryPlan };

/** The `requested_pipeline` a retry run reports (in its completion and in a denial). */
export function retryPipelineName(phase: PipelinePhase): string {
  return `retry-phase:${phase}`;
}

function chosenEssays(context: BatchContext, request: RetryRequest): readonly BatchEssay[] | string {
  const failed = context.essays.filter((essay) => essay.failed_phase === request.phase_name);
  if (failed.length === 0) return `nothing to retry: no essay of this batch failed ${request.phase_name}`;
  if (request.essay_ids === undefined) return failed;
  const byId = new Map(failed.map((essay) => [essay.essay_id, essay]));
  const others = request.essay_ids.filter((id) => !byId.has(id));
  if (others.length > 0) {
    const named = others.slice(0, 5).map((id) => `"${id}"`).join(', ');
    return `only essays that failed ${request.phase_name} can be retried; ${named}${others.length > 5 ? ` and ${others.length - 5} more` : ''} did not`;
  }
  return request.essay_ids.map((id) => byId.get(id) as BatchEssay);
}

/** The retried phase, then every phase a retried essay missed, in the order they were missed. */
function retryPhases(phase: PipelinePhase, essays: readonly BatchEssay[]): PipelinePhase[] {
  const phases: PipelinePhase[] = [phase];
  for (const essay of essays) {
    for (const missed of essay.missed_phases ?? []) if (!phases.includes(missed)) phases.push(missed);
  }
  return phases;
}

/**
 * Evaluates a retry in ready_for_pipeline_execution: which essays (all that failed the phase, or
 * the subset, every one of which must have failed it), the phases, the prompt, then the
 * admission hook (a retry spends credits like a pipeline).
 */
export function evaluateRetry(context: BatchContext, request: RetryRequest, options: BatchMachineOptions): RetryEvaluation {
  const essays = chosenEssays(context, request);
  if (typeof essays === 'string') return { kind: 'invalid', reason: essays };
  const plan: RetryPlan = {
    requested_pipeline: retryPipelineName(request.phase_name),
    phase: request.phase_name,
    phases: retryPhases(request.phase_name, essays),
    skipped: [],
    essays,
    reason: request.reason,
    user_id: request.user_id,
    student_prompt_ref: context.student_prompt_ref,
    assignment_id: context.assignment_id,
  };
  if (!hasPromptFor(plan)) return { kind: 'invalid', reason: `the retry runs ${plan.phases.join(', ')}, which need a prompt: attach one first` };
  const decision = (options.admission ?? (() => ({ allowed: true }) as const))({
    batch_id: context.batch_id,
    user_id: request.user_id,
    org_id: context.org_id,
    requested_pipeline: plan.requested_pipeline,
    phases: plan.phases,
    essay_count: essays.length,
    cost: estimatePipelineCost(plan.phases, essays.length),
  });
  return decision.allowed ? { kind: 'start', plan } : { kind: 'denied', plan, decision };
}

/**
 * The batch's essays with the retried ones no longer marked failed (they are in flight again), and
 * those retried essays as they now are, in batch order.
 */
export function essaysForRetry(context: BatchContext, plan: RetryPlan): { readonly essays: BatchEssay[]; readonly retried: BatchEssay[] } {
  const ids = new Set(plan.essays.map((essay) => essay.essay_id));
  const retried: BatchEssay[] = [];
  const essays = context.essays.map((essay) => {
    if (!ids.has(essay.essay_id)) return essay;
    const again: BatchEssay = { essay_id: essay.essay_id, text_storage_id: essay.text_storage_id, failed_phase: null };
    retried.push(again);
    return again;
  });
  return { essays, retried };
}
