/**
 * What the read routes answer: snake_case views of stored entities. The batch view adds the
 * client status (toClientStatus), essay counts per status and the pipeline run in flight.
 */
import { toClientStatus } from '../../machines/contracts/statuses.js';
import type { BatchContext, PipelineRun } from '../../machines/batch/context.js';
import type { EntityView } from '../engine/queries.js';
import type { QueriesPort } from './context.js';

/** Most essays counted for one batch (the registration schema's maximum). */
const MAX_COUNTED_ESSAYS = 10_000;
const PAGE = 1000;

function batchContextOf(view: EntityView): Partial<BatchContext> {
  const context = view.context;
  return typeof context === 'object' && context !== null && !Array.isArray(context) ? context : {};
}

/** A batch in a list. */
export function batchSummary(view: EntityView): Record<string, unknown> {
  const context = batchContextOf(view);
  return {
    batch_id: view.entity_id,
    status: view.status,
    client_status: toClientStatus(view.status),
    class_type: context.class_type ?? null,
    course_code: context.course_code ?? null,
    user_id: context.user_id ?? null,
    org_id: context.org_id ?? null,
    expected_essay_count: context.expected_essay_count ?? null,
    version: view.version,
    created_at: view.created_at,
    updated_at: view.updated_at,
  };
}

function runView(run: PipelineRun | null | undefined): Record<string, unknown> | null {
  if (run == null) return null;
  return {
    run_id: run.run_id,
    requested_pipeline: run.requested_pipeline,
    phases: run.phases,
    current_phase: run.phases[run.index] ?? null,
    phase_status: run.phase_status,
    started_at: run.started_at,
    user_id: run.user_id,
    essay_count: run.started_essay_count,
    failed_essay_ids: run.failed_essay_ids,
  };
}

/**
 * The last finished run as the batch machine summarised it, plus `excluded_essay_count`: the
 * batch's essays that never entered the run because they had failed a phase of an earlier one.
 */
function lastRunView(context: Partial<BatchContext>): Record<string, unknown> | null {
  const run = context.last_run;
  if (run == null) return null;
  const started = run.successful_essay_count + run.failed_essay_count;
  return { ...run, excluded_essay_count: Math.max(0, (context.essays?.length ?? started) - started) };
}

/** Essay counts of a batch by status (at most 10,000 essays are counted). */
export async function essayCounts(queries: QueriesPort, batchId: string): Promise<{ total: number; by_status: Record<string, number> }> {
  const byStatus: Record<string, number> = {};
  let total = 0;
  for (let offset = 0; offset < MAX_COUNTED_ESSAYS; offset += PAGE) {
    const page = await queries.essaysOf(batchId, { limit: PAGE, offset });
    for (const essay of page) byStatus[essay.status] = (byStatus[essay.status] ?? 0) + 1;
    total += page.length;
    if (page.length < PAGE) break;
  }
  return { total, by_status: byStatus };
}

/** One batch with everything a client shows. */
export function batchDetail(view: EntityView, counts: { total: number; by_status: Record<string, number> }): Record<string, unknown> {
  const context = batchContextOf(view);
  return {
    ...batchSummary(view),
    class_id: context.class_id ?? null,
    student_prompt_ref: context.student_prompt_ref ?? null,
    assignment_id: context.assignment_id ?? null,
    essay_counts: counts,
    pipeline: runView(context.run),
    phase_history: context.phase_history ?? {},
    run_count: context.run_count ?? 0,
    last_run: lastRunView(context),
    parked_pipeline: context.parked ?? null,
    associations: context.associations ?? null,
    final_reason: context.final_reason ?? null,
  };
}

/** One essay. */
export function essayView(view: EntityView): Record<string, unknown> {
  return {
    essay_id: view.entity_id,
    batch_id: view.parent_id,
    status: view.status,
    context: view.context,
    version: view.version,
    created_at: view.created_at,
    updated_at: view.updated_at,
  };
}
