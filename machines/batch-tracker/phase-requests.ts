/**
 * Starting a phase from the batch's phase command: the run id, duplicate detection, the
 * new aggregation, and the ordered messages (CMD_INITIATE per essay, the service
 * request(s), EVT_<PHASE>_STARTED per essay).
 *
 * Decision: STARTED is fired for all four phases right after dispatch, NLP included. The
 * reference never fires EVT_NLP_STARTED (its essays wait in `awaiting_nlp`); firing it
 * makes the four phases uniform and costs nothing, since NLP's SUCCEEDED and FAILED are
 * accepted from `nlp_processing_in_progress` as well.
 */
import type { EventMeta } from '../contracts/envelope.js';
import { outbound, SourceService } from '../contracts/messages.js';
import type { EssayRef } from '../contracts/payloads.js';
import { aggregationKey, concludeIfDone, isOpen, newAggregation } from './aggregation.js';
import { PHASE_TRIGGERS, transitionRequest } from './essay-requests.js';
import {
  has,
  lookup,
  requireRegistration,
  type BatchTrackerContext,
  type BatchTrackerEmitted,
  type PhaseCommand,
  type TrackerStep,
} from './types.js';
import { recordWith } from '../records.js';

/** The run a command belongs to: its own run_id, else one more than the highest run seen. */
export function resolveRunId(context: BatchTrackerContext, runId: number | undefined): number {
  return runId ?? context.highest_run_id + 1;
}

/**
 * True when the command would start a phase a second time: its (run, phase) aggregation
 * exists; or, for a command without run_id (reference producers), the phase's latest
 * aggregation is still open (a redelivered command cannot be told from a new one otherwise).
 */
export function isDuplicatePhaseCommand(context: BatchTrackerContext, command: PhaseCommand): boolean {
  if (command.data.run_id !== undefined) {
    return has(context.aggregations, aggregationKey(command.data.run_id, command.phase));
  }
  const latest = context.open_by_phase[command.phase];
  const aggregation = latest === undefined ? undefined : lookup(context.aggregations, latest);
  return aggregation !== undefined && isOpen(aggregation);
}

/**
 * Starts the phase (precondition: not a duplicate): a new aggregation, then the messages in
 * order (CMD_RETRY_<PHASE> instead of CMD_INITIATE_<PHASE> when the command is a retry). When every commanded essay is critical nothing is dispatched and the phase
 * concludes at once (failed_critically).
 */
export function startPhase(context: BatchTrackerContext, command: PhaseCommand, meta: EventMeta): TrackerStep {
  const runId = resolveRunId(context, command.data.run_id);
  const key = aggregationKey(runId, command.phase);
  const { aggregation, pending } = newAggregation(runId, command.phase, command.data.essays_to_process, context.critical);
  const next: BatchTrackerContext = {
    ...context,
    highest_run_id: Math.max(context.highest_run_id, runId),
    aggregations: recordWith(context.aggregations, key, aggregation),
    open_by_phase: { ...context.open_by_phase, [command.phase]: key },
  };
  if (pending.length === 0) return concludeIfDone(next, key, meta);
  const triggers = PHASE_TRIGGERS[command.phase];
  const messages: BatchTrackerEmitted[] = [
    ...pending.map((essay) =>
      transitionRequest(context.batch_id, essay.essay_id, command.data.is_retry === true ? triggers.retry : triggers.initiate, meta, {
        run_id: runId,
        text_storage_id: essay.text_storage_id,
      }),
    ),
    ...serviceRequests(next, command, runId, pending, meta),
    ...pending.map((essay) => transitionRequest(context.batch_id, essay.essay_id, triggers.started, meta, { run_id: runId })),
  ];
  return { context: next, messages };
}

/** One spellcheck request per essay. */
function spellcheckRequests(
  context: BatchTrackerContext,
  command: Extract<PhaseCommand, { phase: 'spellcheck' }>,
  runId: number,
  essays: readonly EssayRef[],
  meta: EventMeta,
): BatchTrackerEmitted[] {
  return essays.map((essay) =>
    outbound('huleedu.essay.spellcheck.requested.v1', meta, SourceService.TRACKER, {
      event_name: 'essay.spellcheck.requested',
      entity_id: essay.essay_id,
      parent_id: context.batch_id,
      status: 'awaiting_spellcheck',
      text_storage_id: essay.text_storage_id,
      language: command.data.language,
      run_id: runId,
    }),
  );
}

/** The request(s) to the phase's service: one per essay for spellcheck, one per batch otherwise. */
export function serviceRequests(
  context: BatchTrackerContext,
  command: PhaseCommand,
  runId: number,
  pending: readonly EssayRef[],
  meta: EventMeta,
): BatchTrackerEmitted[] {
  const registration = requireRegistration(context);
  const essays = [...pending];
  switch (command.phase) {
    case 'spellcheck':
      return spellcheckRequests(context, command, runId, essays, meta);
    case 'nlp':
      return [
        outbound('huleedu.batch.nlp.processing.requested.v2', meta, SourceService.TRACKER, {
          batch_id: context.batch_id,
          essays_to_process: essays,
          language: command.data.language,
          student_prompt_ref: command.data.student_prompt_ref ?? registration.student_prompt_ref,
          run_id: runId,
        }),
      ];
    case 'cj_assessment':
      return [
        outbound('huleedu.els.cj_assessment.requested.v1', meta, SourceService.TRACKER, {
          entity_id: context.batch_id,
          essays_for_cj: essays,
          language: command.data.language,
          course_code: command.data.course_code,
          student_prompt_ref: command.data.student_prompt_ref ?? registration.student_prompt_ref,
          assignment_id: command.data.assignment_id ?? null,
          user_id: registration.user_id,
          org_id: registration.org_id,
          run_id: runId,
        }),
      ];
    case 'ai_feedback':
      return [
        outbound('huleedu.batch.ai_feedback.processing.requested.v1', meta, SourceService.TRACKER, {
          batch_id: context.batch_id,
          essays_to_process: essays,
          language: command.data.language,
          course_code: command.data.course_code,
          student_prompt_ref: command.data.student_prompt_ref ?? registration.student_prompt_ref,
          class_type: command.data.class_type,
          owner_user_id: command.data.owner_user_id,
          run_id: runId,
        }),
      ];
  }
}
