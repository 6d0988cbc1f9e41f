/** The batch machine, its default instance and its lifecycle descriptor. */
import type { SnapshotFrom } from 'xstate';
import type { LifecycleMachine } from '../lifecycle-machine.js';
import { BATCH_INVARIANTS } from '../invariants/batch.js';
import { BATCH_MACHINE_VERSION, createBatchMachine, type BatchEvent } from './machine.js';
import { evaluatePipelineRequest, type BatchMachineOptions } from './request.js';
import { evaluateRetry } from './retry.js';
import { batchMissedPhasesMigration } from './migrations.js';

export * from './context.js';
export * from './pipelines.js';
export { applyOutcome, isCurrentOutcome, type OutcomeStep } from './run.js';
export type { BatchEmitted, BatchEmittedTopic } from './messages.js';
export { batchMissedPhasesMigration } from './migrations.js';
export { evaluateRetry, retryPipelineName, type RetryEvaluation, type RetryPlan, type RetryRequest } from './retry.js';
export { evaluatePipelineRequest, hasPromptFor, type BatchMachineOptions, type PipelinePlan, type RequestEvaluation } from './request.js';
export { BATCH_EVENT_TYPES, BATCH_MACHINE_VERSION, createBatchMachine, type BatchEvent, type BatchEventTable } from './machine.js';
export { BATCH_EVENT_TOPICS } from './topics.js';

/** The default batch machine: every pipeline admitted, the reference's pipelines. */
export const batchMachine = createBatchMachine();

/** Type of a batch machine built by createBatchMachine. */
export type BatchMachine = ReturnType<typeof createBatchMachine>;

/**
 * The domain reason a pipeline request or a phase retry is refused in
 * ready_for_pipeline_execution (unknown pipeline, nothing left to run, no eligible essay,
 * nothing failed the phase). Undefined otherwise.
 */
export function explainBatchGuard(
  snapshot: SnapshotFrom<BatchMachine>,
  event: unknown,
  options: BatchMachineOptions = {},
): string | undefined {
  const candidate = event as BatchEvent;
  if (snapshot.value !== 'ready_for_pipeline_execution') return undefined;
  const evaluation =
    candidate.type === 'PIPELINE_REQUESTED'
      ? evaluatePipelineRequest(snapshot.context, candidate.data, options)
      : candidate.type === 'PHASE_RETRY_REQUESTED'
        ? evaluateRetry(snapshot.context, candidate.data, options)
        : undefined;
  return evaluation?.kind === 'invalid' ? evaluation.reason : undefined;
}

/** Describes a batch machine for the engine (pass the same options you built it with). */
export function batchLifecycleOf(logic: BatchMachine, options: BatchMachineOptions = {}): LifecycleMachine<BatchMachine> {
  return {
    id: 'batch',
    version: BATCH_MACHINE_VERSION,
    logic,
    batchOf: (snapshot) => snapshot.context.batch_id,
    parentOf: () => null,
    explainGuard: (snapshot, event) => explainBatchGuard(snapshot, event, options),
    migrations: { 1: batchMissedPhasesMigration },
    plainContext: true,
    invariants: BATCH_INVARIANTS,
  };
}

/** The default batch machine as the engine sees it. */
export const batchLifecycle = batchLifecycleOf(batchMachine);
