/**
 * Pipeline resolution (reference.md 4.3): a named pipeline or an explicit ordered phase
 * list becomes the phases to run, with already-completed phases pruned; plus the admission
 * hook through which a host can deny a pipeline (credits, rate limits).
 */
import { PIPELINE_PHASES, type PipelineExecutionStatus, type PipelinePhase } from '../contracts/statuses.js';

/** Named pipelines and their phases in execution order (dependencies first). */
export type PipelineDefinitions = Readonly<Record<string, readonly PipelinePhase[]>>;

/** The reference's pipelines.yaml, resolved with dependencies (reference.md 4.3). */
export const DEFAULT_PIPELINES: PipelineDefinitions = {
  nlp: ['spellcheck', 'nlp'],
  cj_assessment: ['spellcheck', 'cj_assessment'],
  ai_feedback: ['spellcheck', 'nlp', 'ai_feedback'],
  comprehensive: ['spellcheck', 'cj_assessment', 'nlp', 'ai_feedback'],
};

/** Phases that need a student prompt (BCS's `prompt_attached` compatibility rule). */
export const PHASES_NEEDING_PROMPT: ReadonlySet<PipelinePhase> = new Set(['nlp', 'cj_assessment', 'ai_feedback']);

/** Statuses that count as "this phase already ran for the batch" and prune it from later pipelines. */
export const PRUNING_STATUSES: ReadonlySet<PipelineExecutionStatus> = new Set([
  'completed_successfully',
  'completed_with_partial_success',
]);

/** The phases to run and the phases pruned, or why the request cannot be resolved. */
export type Resolution =
  | { readonly ok: true; readonly phases: readonly PipelinePhase[]; readonly skipped: readonly PipelinePhase[] }
  | { readonly ok: false; readonly reason: string };

/** What a pipeline request asks for. */
export interface PipelineAsk {
  readonly requested_pipeline: string;
  readonly phases?: readonly PipelinePhase[] | undefined;
}

function orderedPhases(ask: PipelineAsk, pipelines: PipelineDefinitions): readonly PipelinePhase[] | string {
  if (ask.phases !== undefined) {
    if (new Set(ask.phases).size !== ask.phases.length) return 'the phase list names a phase twice';
    return ask.phases;
  }
  if (!Object.hasOwn(pipelines, ask.requested_pipeline)) {
    return `unknown pipeline "${ask.requested_pipeline}" (known: ${Object.keys(pipelines).join(', ')}; or send an explicit "phases" list)`;
  }
  return pipelines[ask.requested_pipeline] ?? [];
}

/**
 * Resolves a request against the batch's phase history. Guarantees: the result keeps the
 * requested order; pruned phases are exactly those whose history status is in
 * PRUNING_STATUSES; the first phase to run is spellcheck unless spellcheck already ran
 * (essays only leave ready_for_processing through spellcheck); never an empty list.
 */
export function resolvePipeline(
  ask: PipelineAsk,
  history: Readonly<Partial<Record<PipelinePhase, PipelineExecutionStatus>>>,
  pipelines: PipelineDefinitions = DEFAULT_PIPELINES,
): Resolution {
  const ordered = orderedPhases(ask, pipelines);
  if (typeof ordered === 'string') return { ok: false, reason: ordered };
  const done = (phase: PipelinePhase): boolean => {
    const status = history[phase];
    return status !== undefined && PRUNING_STATUSES.has(status);
  };
  const skipped = ordered.filter(done);
  const phases = ordered.filter((phase) => !done(phase));
  if (phases.length === 0) {
    return { ok: false, reason: `nothing to run: every phase of "${ask.requested_pipeline}" already completed for this batch` };
  }
  if (!done('spellcheck') && phases[0] !== 'spellcheck') {
    return { ok: false, reason: 'spellcheck must run first: the essays have not been spellchecked yet' };
  }
  return { ok: true, phases, skipped };
}

/** Credits a pipeline would consume, per resource (reference.md 4.2 step 8). */
export interface PipelineCost {
  /** CJ compares every pair: n(n-1)/2. */
  readonly cj_comparison: number;
  /** One AI feedback generation per essay. */
  readonly ai_feedback_generation: number;
}

/** The reference's cost strategy: CJ n(n-1)/2 comparisons, AI feedback n generations, others free. */
export function estimatePipelineCost(phases: readonly PipelinePhase[], essayCount: number): PipelineCost {
  return {
    cj_comparison: phases.includes('cj_assessment') ? (essayCount * (essayCount - 1)) / 2 : 0,
    ai_feedback_generation: phases.includes('ai_feedback') ? essayCount : 0,
  };
}

/** What the admission hook is asked. */
export interface AdmissionRequest {
  readonly batch_id: string;
  readonly user_id: string;
  readonly org_id: string | null;
  readonly requested_pipeline: string;
  readonly phases: readonly PipelinePhase[];
  readonly essay_count: number;
  readonly cost: PipelineCost;
}

/** The hook's answer; a denial becomes PipelineDeniedV1 and the batch stays ready. */
export type AdmissionDecision =
  | { readonly allowed: true }
  | {
      readonly allowed: false;
      readonly denial_reason: string;
      readonly required_credits: number;
      readonly available_credits: number;
      readonly resource_breakdown?: Readonly<Record<string, number>>;
    };

/**
 * Decides whether a pipeline may start. Must be pure and deterministic (it runs inside the
 * machine, also on replay): read credits from the request, not from a database.
 */
export type AdmissionPolicy = (request: AdmissionRequest) => AdmissionDecision;

/** The default policy: every pipeline is admitted. */
export const allowAllPipelines: AdmissionPolicy = () => ({ allowed: true });

/** Every pipeline phase, for validation messages. */
export const KNOWN_PHASES: readonly PipelinePhase[] = PIPELINE_PHASES;
