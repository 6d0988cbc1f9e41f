/** Evaluation of a pipeline request against the batch (pure, deterministic). */
import type { EventData } from '../contracts/events.js';
import type { PipelinePhase } from '../contracts/statuses.js';
import { eligibleEssays, type BatchContext } from './context.js';
import {
  estimatePipelineCost,
  PHASES_NEEDING_PROMPT,
  resolvePipeline,
  type AdmissionDecision,
  type AdmissionPolicy,
  type PipelineDefinitions,
} from './pipelines.js';

/** A resolved request: what would run, for whom, with which prompt. */
export interface PipelinePlan {
  readonly requested_pipeline: string;
  readonly phases: readonly PipelinePhase[];
  readonly skipped: readonly PipelinePhase[];
  readonly user_id: string;
  readonly student_prompt_ref: string | null;
  readonly assignment_id: string | null;
}

/** What a pipeline request leads to. */
export type RequestEvaluation =
  | { readonly kind: 'invalid'; readonly reason: string }
  | { readonly kind: 'denied'; readonly plan: PipelinePlan; readonly decision: Extract<AdmissionDecision, { allowed: false }> }
  | { readonly kind: 'needs_prompt'; readonly plan: PipelinePlan }
  | { readonly kind: 'start'; readonly plan: PipelinePlan };

/** Options the batch machine is built with. */
export interface BatchMachineOptions {
  /** Decides whether a pipeline may start (default: all admitted). */
  readonly admission?: AdmissionPolicy;
  /** Named pipelines (default: the reference's, see DEFAULT_PIPELINES). */
  readonly pipelines?: PipelineDefinitions;
}

/** True when the plan's phases can run with the prompt the batch (or the request) has. */
export function hasPromptFor(plan: PipelinePlan): boolean {
  const needs = plan.phases.some((phase) => PHASES_NEEDING_PROMPT.has(phase));
  return !needs || plan.student_prompt_ref !== null || plan.assignment_id !== null;
}

/**
 * Evaluates a pipeline request in ready_for_pipeline_execution: resolution and pruning,
 * eligible essays, the admission hook, then the prompt requirement, in that order.
 */
export function evaluatePipelineRequest(
  context: BatchContext,
  request: EventData<'ClientBatchPipelineRequestV1'>,
  options: BatchMachineOptions,
): RequestEvaluation {
  const resolution = resolvePipeline(
    { requested_pipeline: request.requested_pipeline, phases: request.phases },
    context.phase_history,
    options.pipelines,
  );
  if (!resolution.ok) return { kind: 'invalid', reason: resolution.reason };
  const essays = eligibleEssays(context);
  if (essays.length === 0) return { kind: 'invalid', reason: 'no essay is eligible: every essay failed an earlier phase' };
  const prompt = request.prompt_payload ?? undefined;
  const plan: PipelinePlan = {
    requested_pipeline: request.requested_pipeline,
    phases: resolution.phases,
    skipped: resolution.skipped,
    user_id: request.user_id,
    student_prompt_ref: prompt?.cms_prompt_ref ?? context.student_prompt_ref,
    assignment_id: prompt?.assignment_id ?? context.assignment_id,
  };
  const decision = (options.admission ?? (() => ({ allowed: true }) as const))({
    batch_id: context.batch_id,
    user_id: request.user_id,
    org_id: context.org_id,
    requested_pipeline: request.requested_pipeline,
    phases: plan.phases,
    essay_count: essays.length,
    cost: estimatePipelineCost(plan.phases, essays.length),
  });
  if (!decision.allowed) return { kind: 'denied', plan, decision };
  return hasPromptFor(plan) ? { kind: 'start', plan } : { kind: 'needs_prompt', plan };
}
