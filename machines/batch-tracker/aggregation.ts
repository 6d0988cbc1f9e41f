/**
 * Batch phase aggregation (domain.md "Batch phase aggregation"): one counter per
 * (pipeline run, phase). Every essay result costs O(1) counting: a set lookup, a removal
 * and a decrement, never a scan over the batch's essays. When the last commanded essay is
 * terminal for the phase, exactly one ELSBatchPhaseOutcomeV1 is emitted.
 *
 * The essay sets are context parts (machines/context-parts.ts): settling an essay copies
 * one part of PART_SIZE essays, and the engine writes only that part. A concluded or
 * cancelled aggregation is compacted: its sets are emptied and only the summary stays, so
 * the tracker does not grow with every run.
 */
import type { EventMeta } from '../contracts/envelope.js';
import { outbound, SourceService } from '../contracts/messages.js';
import type { EssayRef, ProcessingSummary } from '../contracts/payloads.js';
import type { PhaseOutcomeStatus, PipelinePhase } from '../contracts/statuses.js';
import { PHASE_TRIGGERS, transitionRequest } from './essay-requests.js';
import {
  listItems,
  listPush,
  mapDelete,
  mapHas,
  mapKeys,
  partedList,
  partedMap,
  type PartedList,
  type PartedMap,
} from '../context-parts.js';
import {
  has,
  lookup,
  type AggregationKey,
  type BatchTrackerContext,
  type BatchTrackerEmitted,
  type BatchTrackerEventData,
  type PhaseAggregation,
  type TrackerStep,
} from './types.js';
import { recordWith } from '../records.js';

/** The key of the aggregation of `phase` in pipeline run `runId`. */
export function aggregationKey(runId: number, phase: PipelinePhase): AggregationKey {
  return `${runId}:${phase}`;
}

/** True while the aggregation still counts (neither concluded nor cancelled). */
export function isOpen(aggregation: PhaseAggregation): boolean {
  return !aggregation.concluded && !aggregation.cancelled;
}

/**
 * A new aggregation for the commanded essays. Duplicate essay ids count once; critical
 * essays go straight to `failed` and are not pending. Returns the pending essays in command order.
 */
export function newAggregation(
  runId: number,
  phase: PipelinePhase,
  essays: readonly EssayRef[],
  critical: Readonly<Record<string, true>>,
): { aggregation: PhaseAggregation; pending: EssayRef[] } {
  const failed: string[] = [];
  const seen = new Set<string>();
  const pending: EssayRef[] = [];
  for (const essay of essays) {
    if (seen.has(essay.essay_id)) continue;
    seen.add(essay.essay_id);
    if (has(critical, essay.essay_id)) {
      failed.push(essay.essay_id);
    } else {
      pending.push(essay);
    }
  }
  const prefix = `agg/${aggregationKey(runId, phase)}`;
  const aggregation: PhaseAggregation = {
    run_id: runId,
    phase,
    pending: partedMap(`${prefix}/pending`, pending.map((essay) => [essay.essay_id, true as const] as const), pending.length),
    pending_count: pending.length,
    processed: partedList(`${prefix}/processed`, []),
    failed: partedList(`${prefix}/failed`, failed),
    result_received: false,
    concluded: false,
    cancelled: false,
    summary: null,
  };
  return { aggregation, pending };
}

/** Part-id prefix of an aggregation's list (`processed` or `failed`). */
function listPrefix(aggregation: PhaseAggregation, list: 'processed' | 'failed'): string {
  return `agg/${aggregationKey(aggregation.run_id, aggregation.phase)}/${list}`;
}

const NO_ESSAYS: PartedMap<true> = { size: 0, parts: [] };

function emptied<V>(list: PartedList<V>): PartedList<V> {
  return { part_size: list.part_size, length: 0, parts: [] };
}

/** The aggregation without its essay sets (concluded or cancelled: nothing reads them any more). */
export function compacted(aggregation: PhaseAggregation, summary: PhaseAggregation['summary']): PhaseAggregation {
  return { ...aggregation, pending: NO_ESSAYS, processed: emptied(aggregation.processed), failed: emptied(aggregation.failed), summary };
}

/** The phase status of a concluded aggregation: all, some or none of its essays succeeded. */
export function phaseOutcomeStatus(aggregation: PhaseAggregation): PhaseOutcomeStatus {
  if (aggregation.processed.length === 0) return 'failed_critically';
  if (aggregation.failed.length === 0) return 'completed_successfully';
  return 'completed_with_failures';
}

/** Removes a pending essay (precondition: it is pending) as succeeded with its output text, or failed. */
export function settleEssay(aggregation: PhaseAggregation, essayId: string, outputTextId: string | null): PhaseAggregation {
  return {
    ...aggregation,
    pending: mapDelete(aggregation.pending, essayId),
    pending_count: aggregation.pending_count - 1,
    processed:
      outputTextId === null
        ? aggregation.processed
        : listPush(aggregation.processed, listPrefix(aggregation, 'processed'), { essay_id: essayId, text_storage_id: outputTextId }),
    failed: outputTextId === null ? listPush(aggregation.failed, listPrefix(aggregation, 'failed'), essayId) : aggregation.failed,
  };
}

function withAggregation(context: BatchTrackerContext, key: string, aggregation: PhaseAggregation): BatchTrackerContext {
  return { ...context, aggregations: recordWith(context.aggregations, key, aggregation) };
}

/** Emits the outcome and marks the aggregation concluded when nothing is pending; otherwise nothing. */
export function concludeIfDone(context: BatchTrackerContext, key: string, meta: EventMeta): TrackerStep {
  const aggregation = lookup(context.aggregations, key);
  if (aggregation === undefined || !isOpen(aggregation) || aggregation.pending_count > 0) {
    return { context, messages: [] };
  }
  const phase_status = phaseOutcomeStatus(aggregation);
  const outcome = outbound('huleedu.els.batch.phase.outcome.v1', meta, SourceService.TRACKER, {
    batch_id: context.batch_id,
    phase_name: aggregation.phase,
    phase_status,
    processed_essays: listItems(aggregation.processed),
    failed_essay_ids: listItems(aggregation.failed),
    run_id: aggregation.run_id,
  });
  const summary = { phase_status, processed_count: aggregation.processed.length, failed_count: aggregation.failed.length };
  return { context: withAggregation(context, key, { ...compacted(aggregation, summary), concluded: true }), messages: [outcome] };
}

/** True when this essay result counts: its run and phase are open and the essay is pending there. */
export function isPendingResult(context: BatchTrackerContext, data: BatchTrackerEventData['ESSAY_PHASE_RESULT']): boolean {
  const aggregation = lookup(context.aggregations, aggregationKey(data.run_id, data.phase_name));
  return aggregation !== undefined && isOpen(aggregation) && mapHas(aggregation.pending, data.essay_id);
}

/** Counts one essay result (precondition: `isPendingResult`); may conclude the phase. */
export function recordEssayResult(
  context: BatchTrackerContext,
  data: BatchTrackerEventData['ESSAY_PHASE_RESULT'],
  meta: EventMeta,
): TrackerStep {
  const key = aggregationKey(data.run_id, data.phase_name);
  const aggregation = lookup(context.aggregations, key);
  if (aggregation === undefined) return { context, messages: [] };
  const settled = settleEssay(aggregation, data.essay_id, data.succeeded ? data.text_storage_id : null);
  return concludeIfDone(withAggregation(context, key, settled), key, meta);
}

/**
 * Marks an essay critical (it joins no later phase) and counts it as failed in every open
 * aggregation where it is pending; each of those may conclude.
 */
export function recordCriticalFailure(context: BatchTrackerContext, essayId: string, meta: EventMeta): TrackerStep {
  let current: BatchTrackerContext = { ...context, critical: recordWith(context.critical, essayId, true) };
  const messages: BatchTrackerEmitted[] = [];
  for (const [key, aggregation] of Object.entries(context.aggregations)) {
    if (!isOpen(aggregation) || !mapHas(aggregation.pending, essayId)) continue;
    const step = concludeIfDone(withAggregation(current, key, settleEssay(aggregation, essayId, null)), key, meta);
    current = step.context;
    messages.push(...step.messages);
  }
  return { context: current, messages };
}

/** The latest aggregation of `phase` if it still waits for its batch-level result. */
function awaitingBatchResult(context: BatchTrackerContext, phase: PipelinePhase): [string, PhaseAggregation] | undefined {
  const key = context.open_by_phase[phase];
  if (key === undefined) return undefined;
  const aggregation = lookup(context.aggregations, key);
  if (aggregation === undefined || !isOpen(aggregation) || aggregation.result_received) return undefined;
  return [key, aggregation];
}

/** True when the latest aggregation of `phase` is open and has not had its batch-level result yet. */
export function awaitsBatchResult(context: BatchTrackerContext, phase: PipelinePhase): boolean {
  return awaitingBatchResult(context, phase) !== undefined;
}

/**
 * Fans a batch-level result out to the essays still pending in the phase's latest
 * aggregation: EVT_<PHASE>_SUCCEEDED for the ids in `summary.successful_essay_ids`,
 * EVT_<PHASE>_FAILED for every other (reason `failed` when listed as failed, `missing from
 * result` otherwise). Without a summary (the whole job failed) every pending essay fails
 * with `failReason`. The essays answer with phase results, which conclude the aggregation.
 */
export function fanOutBatchResult(
  context: BatchTrackerContext,
  phase: PipelinePhase,
  summary: ProcessingSummary | null,
  meta: EventMeta,
  failReason = 'failed',
): TrackerStep {
  const found = awaitingBatchResult(context, phase);
  if (found === undefined) return { context, messages: [] };
  const [key, aggregation] = found;
  const succeeded = new Set(summary?.successful_essay_ids ?? []);
  const failed = new Set(summary?.failed_essay_ids ?? []);
  const triggers = PHASE_TRIGGERS[phase];
  const messages = mapKeys(aggregation.pending).map((essayId) =>
    succeeded.has(essayId)
      ? transitionRequest(context.batch_id, essayId, triggers.succeeded, meta, { run_id: aggregation.run_id })
      : transitionRequest(context.batch_id, essayId, triggers.failed, meta, {
          run_id: aggregation.run_id,
          reason: summary === null || failed.has(essayId) ? failReason : 'missing from result',
        }),
  );
  return { context: withAggregation(context, key, { ...aggregation, result_received: true }), messages };
}

/** True when the aggregation exists and is still open (so a cancel changes something). */
export function isCancellable(context: BatchTrackerContext, runId: number, phase: PipelinePhase): boolean {
  const aggregation = lookup(context.aggregations, aggregationKey(runId, phase));
  return aggregation !== undefined && isOpen(aggregation);
}

/** Marks the aggregation cancelled: it emits no outcome, whatever arrives later. */
export function cancelAggregation(context: BatchTrackerContext, runId: number, phase: PipelinePhase): BatchTrackerContext {
  const key = aggregationKey(runId, phase);
  const aggregation = lookup(context.aggregations, key);
  if (aggregation === undefined) return context;
  return withAggregation(context, key, { ...compacted(aggregation, null), cancelled: true });
}
