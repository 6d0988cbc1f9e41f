/** The batch machine's context and the pure functions that compute its changes. */
import type { EventMeta } from '../contracts/envelope.js';
import type { EventData } from '../contracts/events.js';
import type { EssayRef } from '../contracts/payloads.js';
import type {
  ClassType,
  CourseCode,
  PhaseOutcomeStatus,
  PipelineExecutionStatus,
  PipelinePhase,
} from '../contracts/statuses.js';

/** One essay as the batch sees it: its newest text and the phase it failed in, if any. */
export interface BatchEssay {
  readonly essay_id: string;
  readonly text_storage_id: string;
  readonly failed_phase: PipelinePhase | null;
  /**
   * The phases after `failed_phase` that the essay missed in the run where it failed (absent
   * when none): a retry of that phase runs them next.
   */
  readonly missed_phases?: readonly PipelinePhase[];
}

/** Why a run is a retry: the phase retried and the operator's reason. */
export interface RunRetry {
  readonly phase: PipelinePhase;
  readonly reason: string;
}

/** A pipeline run in flight (or just finished). */
export interface PipelineRun {
  readonly run_id: number;
  readonly requested_pipeline: string;
  readonly phases: readonly PipelinePhase[];
  /** Index in `phases` of the phase in flight. */
  readonly index: number;
  readonly phase_status: Readonly<Partial<Record<PipelinePhase, PipelineExecutionStatus>>>;
  readonly started_at: string;
  readonly user_id: string;
  /** Essays commanded into the current phase. */
  readonly current_essay_ids: readonly string[];
  readonly started_essay_count: number;
  /** Essays that failed a phase of this run. */
  readonly failed_essay_ids: readonly string[];
  /** Present when the run retries a phase (ClientBatchPhaseRetryRequestV1). */
  readonly retry?: RunRetry;
}

/** What the last finished run reported (BatchPipelineCompletedV1's numbers). */
export interface RunSummary {
  readonly run_id: number;
  readonly requested_pipeline: string;
  readonly completed_phases: readonly PipelinePhase[];
  /** Final status of every phase of the run (skipped_due_to_dependency_failure included). */
  readonly phase_status: Readonly<Partial<Record<PipelinePhase, PipelineExecutionStatus>>>;
  readonly final_status: PhaseOutcomeStatus;
  readonly successful_essay_count: number;
  readonly failed_essay_count: number;
  readonly processing_duration_seconds: number;
  /** Present when the run retried a phase. */
  readonly retry?: RunRetry;
}

/** A request parked in awaiting_pipeline_configuration until a prompt is attached. */
export interface ParkedPipeline {
  readonly requested_pipeline: string;
  readonly phases: readonly PipelinePhase[];
  readonly skipped: readonly PipelinePhase[];
  readonly user_id: string;
}

/** Everything the batch machine knows. */
export interface BatchContext {
  readonly batch_id: string;
  readonly course_code: CourseCode;
  readonly class_id: string | null;
  readonly class_type: ClassType;
  readonly user_id: string;
  readonly org_id: string | null;
  readonly expected_essay_count: number;
  readonly student_prompt_ref: string | null;
  readonly assignment_id: string | null;
  readonly essays: readonly BatchEssay[];
  readonly essays_ready: boolean;
  readonly associations: { readonly method: 'human' | 'timeout'; readonly confirmed_at: string } | null;
  /** Best status each phase reached for this batch (drives pruning). */
  readonly phase_history: Readonly<Partial<Record<PipelinePhase, PipelineExecutionStatus>>>;
  readonly run_count: number;
  readonly run: PipelineRun | null;
  readonly last_run: RunSummary | null;
  readonly parked: ParkedPipeline | null;
  readonly validation_error_count: number;
  readonly final_reason: string | null;
}

/** The batch is created from its registration. */
export interface BatchInput {
  readonly data: EventData<'BatchEssaysRegistered'>;
  readonly meta: EventMeta;
}

/** Initial context from the registration. GUEST vs REGULAR is decided here, once. */
export function contextFromRegistration({ data }: BatchInput): BatchContext {
  return {
    batch_id: data.entity_id,
    course_code: data.course_code,
    class_id: data.class_id ?? null,
    class_type: data.class_id == null ? 'GUEST' : 'REGULAR',
    user_id: data.user_id,
    org_id: data.org_id ?? null,
    expected_essay_count: data.expected_essay_count,
    student_prompt_ref: data.student_prompt_ref ?? null,
    assignment_id: null,
    essays: [],
    essays_ready: false,
    associations: null,
    phase_history: {},
    run_count: 0,
    run: null,
    last_run: null,
    parked: null,
    validation_error_count: 0,
    final_reason: null,
  };
}

/** Essays from a provisioning or readiness list (keeps failures already known). */
export function essaysFrom(refs: readonly EssayRef[], known: readonly BatchEssay[]): BatchEssay[] {
  const byId = new Map(known.map((essay) => [essay.essay_id, essay]));
  return refs.map((ref) => {
    const before = byId.get(ref.essay_id);
    const essay: BatchEssay = { essay_id: ref.essay_id, text_storage_id: ref.text_storage_id, failed_phase: before?.failed_phase ?? null };
    return before?.missed_phases === undefined ? essay : { ...essay, missed_phases: before.missed_phases };
  });
}

/** Essays that may enter a phase: none that ever failed one. */
export function eligibleEssays(context: BatchContext): BatchEssay[] {
  return context.essays.filter((essay) => essay.failed_phase === null);
}

/** The ids of essays that failed any phase. */
export function failedEssayIds(context: BatchContext): string[] {
  return context.essays.filter((essay) => essay.failed_phase !== null).map((essay) => essay.essay_id);
}

/** Essays that ran at least one phase and never failed (they can be marked complete). */
export function successfulEssayIds(context: BatchContext): string[] {
  if (Object.keys(context.phase_history).length === 0) return [];
  return eligibleEssays(context).map((essay) => essay.essay_id);
}

/** Refs for a phase command, with each essay's newest text id. */
export function refsOf(essays: readonly BatchEssay[]): EssayRef[] {
  return essays.map((essay) => ({ essay_id: essay.essay_id, text_storage_id: essay.text_storage_id }));
}

/** Per-phase status written for a phase outcome status. */
export function executionStatusOf(outcome: PhaseOutcomeStatus): PipelineExecutionStatus {
  switch (outcome) {
    case 'completed_successfully':
      return 'completed_successfully';
    case 'completed_with_failures':
      return 'completed_with_partial_success';
    case 'failed_critically':
      return 'failed';
  }
}

/** Seconds between two ISO timestamps, never negative. */
export function secondsBetween(from: string, to: string): number {
  const ms = Date.parse(to) - Date.parse(from);
  return Number.isFinite(ms) && ms > 0 ? ms / 1000 : 0;
}
