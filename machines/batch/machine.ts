/**
 * The batch machine: one actor per batch_id; every BatchStatus is a top-level state, so the
 * snapshot's value is the batch's status. Pure: effects are emitted messages only.
 */
import { assign, enqueueActions, setup } from 'xstate';
import type { EventData } from '../contracts/events.js';
import type { MachineEventsOf } from '../contracts/machine-event.js';
import { machineEventTypes, type MachineEventTable } from '../contracts/event-tables.js';
import { applyOutcome, currentPhase, isCurrentOutcome, newRun } from './run.js';
import { contextFromRegistration, eligibleEssays, essaysFrom, type BatchContext, type BatchInput } from './context.js';
import {
  batchClosed,
  phaseCancel,
  phaseCommand,
  phasesSkipped,
  pipelineDenied,
  pipelineCompleted,
  studentMatchingCommand,
  type BatchEmitted,
} from './messages.js';
import { evaluatePipelineRequest, type BatchMachineOptions, type PipelinePlan } from './request.js';
import { essaysForRetry, evaluateRetry, type RetryPlan } from './retry.js';
import { memoByPair } from '../memo.js';
import type { EventMeta } from '../contracts/envelope.js';

/**
 * Bumped when a persisted batch snapshot changes meaning. 2: failed essays record the phases they
 * missed (`missed_phases`, for retry-phase; migration from 1 in migrations.ts).
 */
export const BATCH_MACHINE_VERSION = 2;

/** Machine event type -> payload: derived from the event declarations that target the batch. */
export type BatchEventTable = MachineEventTable<'batch'>;

/** Every event the batch machine takes. */
export type BatchEvent = MachineEventsOf<BatchEventTable>;

/** Every event type of the batch machine (from the declarations, in declaration order). */
export const BATCH_EVENT_TYPES = machineEventTypes('batch');

function startRun(context: BatchContext, plan: PipelinePlan, cause: EventMeta): { context: BatchContext; emits: BatchEmitted[] } {
  const essays = eligibleEssays(context);
  const withPrompt: BatchContext = {
    ...context,
    student_prompt_ref: plan.student_prompt_ref,
    assignment_id: plan.assignment_id,
  };
  const run = newRun(withPrompt, plan, essays, cause.timestamp);
  const next: BatchContext = { ...withPrompt, run, run_count: run.run_id, parked: null };
  return {
    context: next,
    emits: [...phasesSkipped(next, plan.skipped, cause), phaseCommand(next, currentPhase(run), essays, run.run_id, cause)],
  };
}

/** Starts a retry run: the retried essays are in flight again, the phase command says retry. */
function startRetryRun(context: BatchContext, plan: RetryPlan, cause: EventMeta): { context: BatchContext; emits: BatchEmitted[] } {
  const { essays: all, retried: essays } = essaysForRetry(context, plan);
  const withEssays: BatchContext = { ...context, essays: all };
  const run = { ...newRun(withEssays, plan, essays, cause.timestamp), retry: { phase: plan.phase, reason: plan.reason } };
  const next: BatchContext = { ...withEssays, run, run_count: run.run_id, parked: null };
  return { context: next, emits: [phaseCommand(next, plan.phase, essays, run.run_id, cause, true)] };
}

function promptOf(data: EventData<'BatchPromptAttachedV1'>, context: BatchContext): Pick<BatchContext, 'student_prompt_ref' | 'assignment_id'> {
  return {
    student_prompt_ref: data.student_prompt_ref ?? context.student_prompt_ref,
    assignment_id: data.assignment_id ?? context.assignment_id,
  };
}

/**
 * Transitions every non-final state has (a final state takes nothing): late or duplicate
 * upstream events are clean no-ops, a critical validation failure and a cancel end the batch.
 * State-specific handlers of the same event override these.
 */
const IN_EVERY_ACTIVE_STATE = {
  BATCH_REGISTERED: { actions: 'ignore' },
  CONTENT_PROVISIONING_COMPLETED: { actions: 'ignore' },
  ASSOCIATIONS_CONFIRMED: { actions: 'ignore' },
  ESSAYS_READY: { actions: 'ignore' },
  PHASE_OUTCOME: { actions: 'ignore' },
  VALIDATION_ERRORS: [
    { guard: 'isCriticalFailure', target: 'failed_critically', actions: 'failBatchCritically' },
    { actions: 'recordValidationErrors' },
  ],
  CANCEL_REQUESTED: { target: 'cancelled', actions: 'cancelBatch' },
} as const;

/**
 * Builds the batch machine. `admission` and `pipelines` are the host's hooks; the default
 * machine (`batchMachine`) admits everything and knows the reference's four pipelines.
 */
// One declarative statechart (XState's setup + createMachine): its guards, actions and states are
// read together, as Stately shows them, and splitting them would lose setup's typing of their names.
// eslint-disable-next-line max-lines-per-function
export function createBatchMachine(options: BatchMachineOptions = {}) {
  // The guards and the action of one transition see the same context and event objects: each
  // request is evaluated (and the admission hook asked) once, not once per guard and action.
  const evaluate = memoByPair((context: BatchContext, event: BatchEvent) =>
    event.type === 'PIPELINE_REQUESTED' ? evaluatePipelineRequest(context, event.data, options) : undefined,
  );
  const evaluateRetryOf = memoByPair((context: BatchContext, event: BatchEvent) =>
    event.type === 'PHASE_RETRY_REQUESTED' ? evaluateRetry(context, event.data, options) : undefined,
  );

  return setup({
    types: {
      context: {} as BatchContext,
      events: {} as BatchEvent,
      input: {} as BatchInput,
      emitted: {} as BatchEmitted,
    },
    guards: {
      noUsableEssays: ({ event }) =>
        event.type === 'CONTENT_PROVISIONING_COMPLETED' && event.data.essays_for_processing.length === 0,
      isGuestBatch: ({ context }) => context.class_type === 'GUEST',
      essaysAlreadyReady: ({ context }) => context.essays_ready,
      confirmedByTimeout: ({ event }) => event.type === 'ASSOCIATIONS_CONFIRMED' && event.data.timeout_triggered,
      isCriticalFailure: ({ event }) => event.type === 'VALIDATION_ERRORS' && event.data.error_summary.critical_failure,
      pipelineDenied: ({ context, event }) => evaluate(context, event)?.kind === 'denied',
      pipelineNeedsPrompt: ({ context, event }) => evaluate(context, event)?.kind === 'needs_prompt',
      pipelineRunnable: ({ context, event }) => evaluate(context, event)?.kind === 'start',
      retryDenied: ({ context, event }) => evaluateRetryOf(context, event)?.kind === 'denied',
      retryRunnable: ({ context, event }) => evaluateRetryOf(context, event)?.kind === 'start',
      outcomeStartsNextPhase: ({ context, event }) =>
        event.type === 'PHASE_OUTCOME' &&
        isCurrentOutcome(context, event.data) &&
        applyOutcome(context, event.data, event.meta.timestamp).next.kind === 'phase',
      outcomeEndsPipeline: ({ context, event }) => event.type === 'PHASE_OUTCOME' && isCurrentOutcome(context, event.data),
      anyEssayFailed: ({ context }) => context.essays.some((essay) => essay.failed_phase !== null),
    },
    actions: {
      ignore: () => undefined,
      recordProvisionedEssays: assign(({ context, event }) =>
        event.type === 'CONTENT_PROVISIONING_COMPLETED'
          ? { essays: essaysFrom(event.data.essays_for_processing, context.essays) }
          : {},
      ),
      emitStudentMatching: enqueueActions(({ context, event, enqueue }) => {
        enqueue.emit(studentMatchingCommand(context, event.meta));
      }),
      recordAssociations: assign(({ event }) =>
        event.type === 'ASSOCIATIONS_CONFIRMED'
          ? { associations: { method: event.data.timeout_triggered ? 'timeout' : 'human', confirmed_at: event.meta.timestamp } as const }
          : {},
      ),
      recordReadyEssays: assign(({ context, event }) =>
        event.type === 'ESSAYS_READY' ? { essays: essaysFrom(event.data.ready_essays, context.essays), essays_ready: true } : {},
      ),
      recordValidationErrors: assign(({ context, event }) =>
        event.type === 'VALIDATION_ERRORS'
          ? { validation_error_count: context.validation_error_count + event.data.error_summary.total_errors }
          : {},
      ),
      recordPrompt: assign(({ context, event }) => (event.type === 'PROMPT_ATTACHED' ? promptOf(event.data, context) : {})),
      emitPipelineDenied: enqueueActions(({ context, event, enqueue }) => {
        const evaluation = evaluate(context, event);
        if (evaluation?.kind !== 'denied' || event.type !== 'PIPELINE_REQUESTED') return;
        enqueue.emit(pipelineDenied(context, event.data, evaluation.decision, event.meta));
      }),
      emitRetryDenied: enqueueActions(({ context, event, enqueue }) => {
        const evaluation = evaluateRetryOf(context, event);
        if (evaluation?.kind !== 'denied') return;
        enqueue.emit(pipelineDenied(context, evaluation.plan, evaluation.decision, event.meta));
      }),
      startRetry: enqueueActions(({ context, event, enqueue }) => {
        const evaluation = evaluateRetryOf(context, event);
        if (evaluation?.kind !== 'start') return;
        const started = startRetryRun(context, evaluation.plan, event.meta);
        enqueue.assign(started.context);
        for (const message of started.emits) enqueue.emit(message);
      }),
      parkPipeline: assign(({ context, event }) => {
        const evaluation = evaluate(context, event);
        if (evaluation?.kind !== 'needs_prompt') return {};
        const { plan } = evaluation;
        return {
          parked: { requested_pipeline: plan.requested_pipeline, phases: plan.phases, skipped: plan.skipped, user_id: plan.user_id },
        };
      }),
      clearParked: assign({ parked: null }),
      startPipeline: enqueueActions(({ context, event, enqueue }) => {
        const evaluation = evaluate(context, event);
        if (evaluation?.kind !== 'start') return;
        const started = startRun(context, evaluation.plan, event.meta);
        enqueue.assign(started.context);
        for (const message of started.emits) enqueue.emit(message);
      }),
      startParkedPipeline: enqueueActions(({ context, event, enqueue }) => {
        if (event.type !== 'PROMPT_ATTACHED' || context.parked === null) return;
        const prompt = promptOf(event.data, context);
        const plan: PipelinePlan = { ...context.parked, ...prompt };
        const started = startRun(context, plan, event.meta);
        enqueue.assign(started.context);
        for (const message of started.emits) enqueue.emit(message);
      }),
      advancePipeline: enqueueActions(({ context, event, enqueue }) => {
        if (event.type !== 'PHASE_OUTCOME') return;
        const step = applyOutcome(context, event.data, event.meta.timestamp);
        enqueue.assign(step.context);
        const run = step.context.run;
        if (step.next.kind === 'phase' && run !== null) {
          enqueue.emit(phaseCommand(step.context, step.next.phase, step.next.essays, run.run_id, event.meta));
        } else if (step.next.kind === 'finished') {
          enqueue.emit(pipelineCompleted(step.context, step.next.summary, event.meta));
        }
      }),
      closeBatch: enqueueActions(({ context, event, enqueue }) => {
        const failed = context.essays.some((essay) => essay.failed_phase !== null);
        enqueue.emit(batchClosed(context, failed ? 'completed_with_failures' : 'completed_successfully', event.meta));
      }),
      cancelBatch: enqueueActions(({ context, event, enqueue }) => {
        const reason = event.type === 'CANCEL_REQUESTED' ? (event.data.reason ?? 'cancelled by user') : 'cancelled';
        for (const message of phaseCancel(context, reason, event.meta)) enqueue.emit(message);
        enqueue.emit(batchClosed(context, 'cancelled', event.meta, reason));
        enqueue.assign({ final_reason: reason, parked: null });
      }),
      failBatchCritically: enqueueActions(({ context, event, enqueue }) => {
        const reason = 'critical validation failure (BatchValidationErrorsV1)';
        for (const message of phaseCancel(context, reason, event.meta)) enqueue.emit(message);
        enqueue.emit(batchClosed(context, 'failed_critically', event.meta, reason));
        enqueue.assign({ final_reason: reason, parked: null });
      }),
      recordNoUsableContent: assign({ final_reason: 'content provisioning completed with no usable essay' }),
    },
  }).createMachine({
    id: 'batch',
    initial: 'awaiting_content_validation',
    context: ({ input }) => contextFromRegistration(input),
    states: {
      awaiting_content_validation: {
        description: 'Registered; waiting until no essay slot is waiting for content.',
        on: {
          ...IN_EVERY_ACTIVE_STATE,
          CONTENT_PROVISIONING_COMPLETED: [
            { guard: 'noUsableEssays', target: 'content_ingestion_failed', actions: 'recordNoUsableContent' },
            { guard: 'isGuestBatch', target: 'ready_for_pipeline_execution', actions: 'recordProvisionedEssays' },
            { target: 'awaiting_student_validation', actions: ['recordProvisionedEssays', 'emitStudentMatching'] },
          ],
          PROMPT_ATTACHED: { actions: 'recordPrompt' },
        },
      },
      content_ingestion_failed: { type: 'final', description: 'Content provisioning completed with no usable essay.' },
      awaiting_student_validation: {
        description: 'REGULAR batch: student matching requested; waiting for confirmed associations and ready essays (either order).',
        on: {
          ...IN_EVERY_ACTIVE_STATE,
          ASSOCIATIONS_CONFIRMED: [
            { guard: 'essaysAlreadyReady', target: 'ready_for_pipeline_execution', actions: 'recordAssociations' },
            { guard: 'confirmedByTimeout', target: 'validation_timeout_processed', actions: 'recordAssociations' },
            { target: 'student_validation_completed', actions: 'recordAssociations' },
          ],
          ESSAYS_READY: { actions: 'recordReadyEssays' },
        },
      },
      student_validation_completed: {
        description: 'Associations confirmed by a person; waiting for BatchEssaysReady.',
        on: { ...IN_EVERY_ACTIVE_STATE, ESSAYS_READY: { target: 'ready_for_pipeline_execution', actions: 'recordReadyEssays' } },
      },
      validation_timeout_processed: {
        description: 'Associations confirmed by the 24-hour timeout; waiting for BatchEssaysReady.',
        on: { ...IN_EVERY_ACTIVE_STATE, ESSAYS_READY: { target: 'ready_for_pipeline_execution', actions: 'recordReadyEssays' } },
      },
      ready_for_pipeline_execution: {
        description: 'Accepts a pipeline request, a phase retry, a prompt, close and cancel.',
        on: {
          ...IN_EVERY_ACTIVE_STATE,
          PIPELINE_REQUESTED: [
            { guard: 'pipelineDenied', actions: 'emitPipelineDenied' },
            { guard: 'pipelineNeedsPrompt', target: 'awaiting_pipeline_configuration', actions: 'parkPipeline' },
            { guard: 'pipelineRunnable', target: 'processing_pipelines', actions: 'startPipeline' },
          ],
          PHASE_RETRY_REQUESTED: [
            { guard: 'retryDenied', actions: 'emitRetryDenied' },
            { guard: 'retryRunnable', target: 'processing_pipelines', actions: 'startRetry' },
          ],
          PROMPT_ATTACHED: { actions: 'recordPrompt' },
          CLOSE_REQUESTED: [
            { guard: 'anyEssayFailed', target: 'completed_with_failures', actions: 'closeBatch' },
            { target: 'completed_successfully', actions: 'closeBatch' },
          ],
        },
      },
      awaiting_pipeline_configuration: {
        description: 'A pipeline request that needs a prompt is parked until a prompt is attached (then it starts) or it is withdrawn.',
        on: {
          ...IN_EVERY_ACTIVE_STATE,
          PROMPT_ATTACHED: { target: 'processing_pipelines', actions: 'startParkedPipeline' },
          PIPELINE_REQUEST_WITHDRAWN: { target: 'ready_for_pipeline_execution', actions: 'clearParked' },
        },
      },
      processing_pipelines: {
        description: 'A pipeline run is in flight; one phase at a time.',
        on: {
          ...IN_EVERY_ACTIVE_STATE,
          PHASE_OUTCOME: [
            { guard: 'outcomeStartsNextPhase', actions: 'advancePipeline' },
            { guard: 'outcomeEndsPipeline', target: 'ready_for_pipeline_execution', actions: 'advancePipeline' },
            { actions: 'ignore' },
          ],
        },
      },
      completed_successfully: { type: 'final', description: 'Closed; no essay failed any phase.' },
      completed_with_failures: { type: 'final', description: 'Closed; at least one essay failed a phase.' },
      failed_critically: { type: 'final', description: 'A critical validation failure ended the batch.' },
      cancelled: { type: 'final', description: 'Cancelled; an in-flight phase was told to stop.' },
    },
  });
}
