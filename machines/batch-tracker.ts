/**
 * The ELS batch tracker: one actor per batch_id (domain.md "Registration and content
 * provisioning" and "Batch phase aggregation"). It creates a batch's essay slots, assigns
 * content to them, reports provisioning completion, relays student matching and essay
 * readiness, starts phases on the essays and aggregates their results into exactly one
 * phase outcome per (pipeline run, phase).
 *
 * Pure: no I/O, no clock, no randomness. Its only effects are emitted OutboundMessages
 * (correlation_id carried over from the causing event). Every duplicate or late event the
 * tracker can meet is an explicit, named no-op transition (`ignore...`), so "accepted but
 * nothing to do" and "refused" (no transition in this state) are never confused.
 */
import { assign, enqueueActions, setup, type SnapshotFrom } from 'xstate';
import type { LifecycleMachine } from './lifecycle-machine.js';
import { TRACKER_INVARIANTS } from './invariants/tracker.js';
import {
  awaitsBatchResult,
  cancelAggregation,
  fanOutBatchResult,
  isCancellable,
  isPendingResult,
  recordCriticalFailure,
  recordEssayResult,
} from './batch-tracker/aggregation.js';
import { transitionRequest } from './batch-tracker/essay-requests.js';
import { trackerPartsMigration } from './batch-tracker/migrations.js';
import { isDuplicatePhaseCommand, startPhase } from './batch-tracker/phase-requests.js';
import {
  allSlotsSettled,
  applyContent,
  applyValidationFailure,
  essaysReady,
  excessContent,
  holdItem,
  isKnownFailedUpload,
  isKnownText,
  provisioningCompleted,
  register,
  studentMatchingRequested,
} from './batch-tracker/slots.js';
import {
  batchResultPhaseOf,
  has,
  initialTrackerContext,
  type BatchTrackerContext,
  type BatchTrackerEmitted,
  type BatchTrackerEvent,
  type BatchTrackerInput,
  type PhaseCommand,
  type TrackerStep,
} from './batch-tracker/types.js';

// The public face of the tracker; the context's parts are exported under Tracker* names so
// their generic names (Slot, PhaseAggregation, ...) never clash in the package index.
export {
  BATCH_TRACKER_EVENT_TYPES,
  type AggregationKey as TrackerAggregationKey,
  type HeldItem as TrackerHeldItem,
  type PhaseAggregation as TrackerPhaseAggregation,
  type ProcessedEssay as TrackerProcessedEssay,
  type Slot as TrackerSlot,
  type SlotState as TrackerSlotState,
  type TrackerRegistration,
  type BatchTrackerContext,
  type BatchTrackerEmitted,
  type BatchTrackerEvent,
  type BatchTrackerEventData,
  type BatchTrackerEventType,
  type BatchTrackerInput,
} from './batch-tracker/types.js';

/**
 * Bumped when a persisted tracker snapshot changes meaning. Version 2: per-essay facts in
 * context parts, finished aggregations compacted (migration from 1 in batch-tracker/migrations.ts).
 */
export const BATCH_TRACKER_MACHINE_VERSION = 2;

/** The tracker's states, in lifecycle order (the last two are final). */
export const BATCH_TRACKER_STATES = [
  'awaiting_registration',
  'awaiting_content',
  'content_provisioned',
  'no_usable_content',
  'closed',
] as const;
/** A state of the tracker. */
export type BatchTrackerState = (typeof BATCH_TRACKER_STATES)[number];

/** The phase command carried by an event, or undefined for any other event. */
function phaseCommandOf(event: BatchTrackerEvent): PhaseCommand | undefined {
  switch (event.type) {
    case 'SPELLCHECK_INITIATE':
      return { phase: 'spellcheck', data: event.data };
    case 'NLP_INITIATE':
      return { phase: 'nlp', data: event.data };
    case 'CJ_ASSESSMENT_INITIATE':
      return { phase: 'cj_assessment', data: event.data };
    case 'AI_FEEDBACK_INITIATE':
      return { phase: 'ai_feedback', data: event.data };
    default:
      return undefined;
  }
}

/** Where a step goes: the enqueue functions of an `enqueueActions` action. */
interface StepSink {
  assign(context: BatchTrackerContext): void;
  emit(message: BatchTrackerEmitted): void;
}

/** Applies a pure step: the next context, then its messages in order. */
function commit(enqueue: StepSink, step: TrackerStep): void {
  enqueue.assign(step.context);
  for (const message of step.messages) enqueue.emit(message);
}

/** An accepted event that changes nothing and emits nothing. */
function noOp(): void {}

const trackerSetup = setup({
  types: {
    context: {} as BatchTrackerContext,
    events: {} as BatchTrackerEvent,
    input: {} as BatchTrackerInput,
    emitted: {} as BatchTrackerEmitted,
  },
  guards: {
    isKnownText: ({ context, event }) => event.type === 'CONTENT_PROVISIONED' && isKnownText(context, event.data.text_storage_id),
    isKnownFailedUpload: ({ context, event }) =>
      event.type === 'CONTENT_VALIDATION_FAILED' && isKnownFailedUpload(context, event.data.file_upload_id),
    allSlotsSettledWithContent: ({ context }) => allSlotsSettled(context) && context.assigned_count > 0,
    allSlotsSettled: ({ context }) => allSlotsSettled(context),
    studentMatchingRequested: ({ context }) => context.matching_requested,
    essaysReadySent: ({ context }) => context.essays_ready_sent,
    isDuplicatePhaseCommand: ({ context, event }) => {
      const command = phaseCommandOf(event);
      return command !== undefined && isDuplicatePhaseCommand(context, command);
    },
    isPendingResult: ({ context, event }) => event.type === 'ESSAY_PHASE_RESULT' && isPendingResult(context, event.data),
    awaitsBatchResult: ({ context, event }) => {
      const phase = batchResultPhaseOf(event.type);
      return phase !== undefined && awaitsBatchResult(context, phase);
    },
    isCancellablePhase: ({ context, event }) =>
      event.type === 'PHASE_CANCEL' && isCancellable(context, event.data.run_id, event.data.phase_name),
  },
  actions: {
    holdContent: assign(({ context, event }) =>
      event.type === 'CONTENT_PROVISIONED' ? holdItem(context, { kind: 'content', data: event.data, meta: event.meta }) : {},
    ),
    holdValidationFailure: assign(({ context, event }) =>
      event.type === 'CONTENT_VALIDATION_FAILED'
        ? holdItem(context, { kind: 'validation_failure', data: event.data, meta: event.meta })
        : {},
    ),
    registerBatch: enqueueActions(({ context, event, enqueue }) => {
      if (event.type === 'REGISTERED') commit(enqueue, register(context, event.data, event.meta));
    }),
    assignContent: enqueueActions(({ context, event, enqueue }) => {
      if (event.type === 'CONTENT_PROVISIONED') commit(enqueue, applyContent(context, event.data, event.meta));
    }),
    reportExcessContent: enqueueActions(({ context, event, enqueue }) => {
      if (event.type === 'CONTENT_PROVISIONED') enqueue.emit(excessContent(context, event.data, event.meta));
    }),
    failSlot: enqueueActions(({ context, event, enqueue }) => {
      if (event.type === 'CONTENT_VALIDATION_FAILED') commit(enqueue, applyValidationFailure(context, event.data, event.meta));
    }),
    emitProvisioningCompleted: enqueueActions(({ context, event, enqueue }) => {
      enqueue.emit(provisioningCompleted(context, event.meta));
    }),
    requestStudentMatching: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'STUDENT_MATCHING_INITIATE') return;
      enqueue.assign({ matching_requested: true });
      enqueue.emit(studentMatchingRequested(context, event.data, event.meta));
    }),
    sendEssaysReady: enqueueActions(({ context, event, enqueue }) => {
      enqueue.assign({ essays_ready_sent: true });
      enqueue.emit(essaysReady(context, event.meta));
    }),
    startPhase: enqueueActions(({ context, event, enqueue }) => {
      const command = phaseCommandOf(event);
      if (command !== undefined) commit(enqueue, startPhase(context, command, event.meta));
    }),
    recordPhaseResult: enqueueActions(({ context, event, enqueue }) => {
      if (event.type === 'ESSAY_PHASE_RESULT') commit(enqueue, recordEssayResult(context, event.data, event.meta));
    }),
    recordCriticalFailure: enqueueActions(({ context, event, enqueue }) => {
      if (event.type === 'ESSAY_CRITICAL_FAILURE') commit(enqueue, recordCriticalFailure(context, event.data.essay_id, event.meta));
    }),
    fanOutBatchResult: enqueueActions(({ context, event, enqueue }) => {
      const phase = batchResultPhaseOf(event.type);
      if (phase !== undefined && 'processing_summary' in event.data) {
        commit(enqueue, fanOutBatchResult(context, phase, event.data.processing_summary, event.meta));
      }
    }),
    failPendingCjEssays: enqueueActions(({ context, event, enqueue }) => {
      commit(enqueue, fanOutBatchResult(context, 'cj_assessment', null, event.meta, 'cj assessment failed'));
    }),
    cancelPhase: assign(({ context, event }) =>
      event.type === 'PHASE_CANCEL' ? cancelAggregation(context, event.data.run_id, event.data.phase_name) : {},
    ),
    closeBatch: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'BATCH_CLOSED') return;
      const { final_status, successful_essay_ids } = event.data;
      if (final_status !== 'completed_successfully' && final_status !== 'completed_with_failures') return;
      for (const essayId of new Set(successful_essay_ids)) {
        if (has(context.critical, essayId)) continue;
        enqueue.emit(transitionRequest(context.batch_id, essayId, 'CMD_MARK_PIPELINE_COMPLETE', event.meta));
      }
    }),
    ignoreDuplicateRegistration: noOp,
    ignoreDuplicateContent: noOp,
    ignoreDuplicateValidationFailure: noOp,
    ignoreLateValidationFailure: noOp,
    ignoreDuplicateMatchingCommand: noOp,
    ignoreDuplicateConfirmation: noOp,
    ignoreDuplicatePhaseCommand: noOp,
    ignoreStaleResult: noOp,
    ignoreStaleBatchResult: noOp,
    ignoreUnknownPhaseCancel: noOp,
  },
});

const phaseCommand = [
  { guard: 'isDuplicatePhaseCommand', actions: 'ignoreDuplicatePhaseCommand' },
  { actions: 'startPhase' },
] as const;
const batchResult = [
  { guard: 'awaitsBatchResult', actions: 'fanOutBatchResult' },
  { actions: 'ignoreStaleBatchResult' },
] as const;
const close = { target: 'closed', actions: 'closeBatch' } as const;

/**
 * The tracker machine (id `batch_tracker`). States: awaiting_registration (initial),
 * awaiting_content, content_provisioned, and the finals no_usable_content and closed.
 * An event with no transition in the current state is refused (and every event in a final
 * state is).
 */
export const batchTrackerMachine = trackerSetup.createMachine({
  id: 'batch_tracker',
  initial: 'awaiting_registration',
  context: ({ input }) => initialTrackerContext(input),
  states: {
    awaiting_registration: {
      on: {
        REGISTERED: { target: 'awaiting_content', actions: 'registerBatch' },
        CONTENT_PROVISIONED: { actions: 'holdContent' },
        CONTENT_VALIDATION_FAILED: { actions: 'holdValidationFailure' },
        BATCH_CLOSED: close,
      },
    },
    awaiting_content: {
      always: [
        { guard: 'allSlotsSettledWithContent', target: 'content_provisioned', actions: 'emitProvisioningCompleted' },
        { guard: 'allSlotsSettled', target: 'no_usable_content', actions: 'emitProvisioningCompleted' },
      ],
      on: {
        REGISTERED: { actions: 'ignoreDuplicateRegistration' },
        CONTENT_PROVISIONED: [{ guard: 'isKnownText', actions: 'ignoreDuplicateContent' }, { actions: 'assignContent' }],
        CONTENT_VALIDATION_FAILED: [
          { guard: 'isKnownFailedUpload', actions: 'ignoreDuplicateValidationFailure' },
          { actions: 'failSlot' },
        ],
        ESSAY_CRITICAL_FAILURE: { actions: 'recordCriticalFailure' },
        BATCH_CLOSED: close,
      },
    },
    content_provisioned: {
      on: {
        REGISTERED: { actions: 'ignoreDuplicateRegistration' },
        CONTENT_PROVISIONED: [{ guard: 'isKnownText', actions: 'ignoreDuplicateContent' }, { actions: 'reportExcessContent' }],
        CONTENT_VALIDATION_FAILED: { actions: 'ignoreLateValidationFailure' },
        STUDENT_MATCHING_INITIATE: [
          { guard: 'studentMatchingRequested', actions: 'ignoreDuplicateMatchingCommand' },
          { actions: 'requestStudentMatching' },
        ],
        ASSOCIATIONS_CONFIRMED: [
          { guard: 'essaysReadySent', actions: 'ignoreDuplicateConfirmation' },
          { actions: 'sendEssaysReady' },
        ],
        SPELLCHECK_INITIATE: phaseCommand,
        NLP_INITIATE: phaseCommand,
        CJ_ASSESSMENT_INITIATE: phaseCommand,
        AI_FEEDBACK_INITIATE: phaseCommand,
        ESSAY_PHASE_RESULT: [{ guard: 'isPendingResult', actions: 'recordPhaseResult' }, { actions: 'ignoreStaleResult' }],
        ESSAY_CRITICAL_FAILURE: { actions: 'recordCriticalFailure' },
        CJ_ASSESSMENT_COMPLETED: batchResult,
        NLP_ANALYSIS_COMPLETED: batchResult,
        AI_FEEDBACK_COMPLETED: batchResult,
        CJ_ASSESSMENT_FAILED: [
          { guard: 'awaitsBatchResult', actions: 'failPendingCjEssays' },
          { actions: 'ignoreStaleBatchResult' },
        ],
        PHASE_CANCEL: [{ guard: 'isCancellablePhase', actions: 'cancelPhase' }, { actions: 'ignoreUnknownPhaseCancel' }],
        BATCH_CLOSED: close,
      },
    },
    no_usable_content: { type: 'final' },
    closed: { type: 'final' },
  },
});

/** A snapshot of the tracker. */
export type BatchTrackerSnapshot = SnapshotFrom<typeof batchTrackerMachine>;

/**
 * Why a guard refused `event` in a state that accepts its type. The tracker has no such
 * refusals: every guarded event has an unguarded fallback (a named no-op), so this always
 * answers undefined; a refusal of the tracker always means "no transition in this state".
 */
export function explainTrackerGuard(_snapshot: BatchTrackerSnapshot, _event: unknown): string | undefined {
  return undefined;
}

/** The tracker as the engine sees it (a batch's tracker has no parent entity). */
export const batchTrackerLifecycle: LifecycleMachine<typeof batchTrackerMachine> = {
  id: 'batch_tracker',
  version: BATCH_TRACKER_MACHINE_VERSION,
  migrations: { 1: trackerPartsMigration },
  logic: batchTrackerMachine,
  batchOf: (snapshot) => snapshot.context.batch_id,
  parentOf: () => null,
  explainGuard: explainTrackerGuard,
  plainContext: true,
  invariants: TRACKER_INVARIANTS,
};
