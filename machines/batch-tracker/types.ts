/**
 * Types of the ELS batch tracker (one actor per batch_id): its events, its context, what it
 * emits, and the small record helpers its pure context functions share.
 *
 * The context is plain JSON (records, arrays, strings, numbers, booleans, null) so a
 * persisted snapshot survives a JSON round trip unchanged.
 */
import type { EventMeta } from '../contracts/envelope.js';
import type { MachineEventsOf } from '../contracts/machine-event.js';
import { machineEventTypes, type MachineEventTable } from '../contracts/event-tables.js';
import type { OutboundMessage } from '../contracts/messages.js';
import type { CourseCode, PhaseOutcomeStatus, PipelinePhase } from '../contracts/statuses.js';
import { emptyPartedMap, partedList, type PartedList, type PartedMap } from '../context-parts.js';

/** Payload of every event the tracker takes, by machine event type (derived from the event declarations). */
export type BatchTrackerEventData = MachineEventTable<'batch_tracker'>;

/** A machine event type of the tracker. */
export type BatchTrackerEventType = keyof BatchTrackerEventData;

/** Every event the tracker takes: `{ type, data, meta }`. */
export type BatchTrackerEvent = MachineEventsOf<BatchTrackerEventData>;

/** Every machine event type of the tracker, in declaration order. */
export const BATCH_TRACKER_EVENT_TYPES = machineEventTypes('batch_tracker');

/** A phase command with its phase, as the phase-request builders take it. */
export type PhaseCommand =
  | { readonly phase: 'spellcheck'; readonly data: BatchTrackerEventData['SPELLCHECK_INITIATE'] }
  | { readonly phase: 'nlp'; readonly data: BatchTrackerEventData['NLP_INITIATE'] }
  | { readonly phase: 'cj_assessment'; readonly data: BatchTrackerEventData['CJ_ASSESSMENT_INITIATE'] }
  | { readonly phase: 'ai_feedback'; readonly data: BatchTrackerEventData['AI_FEEDBACK_INITIATE'] };

/** Which phase each batch-level result event answers (these carry no run id). */
export const PHASE_OF_BATCH_RESULT = {
  CJ_ASSESSMENT_COMPLETED: 'cj_assessment',
  CJ_ASSESSMENT_FAILED: 'cj_assessment',
  NLP_ANALYSIS_COMPLETED: 'nlp',
  AI_FEEDBACK_COMPLETED: 'ai_feedback',
} as const satisfies Record<string, PipelinePhase>;

/** The phase a batch-level result event answers, or undefined for any other event type. */
export function batchResultPhaseOf(type: string): PipelinePhase | undefined {
  return Object.hasOwn(PHASE_OF_BATCH_RESULT, type) ? PHASE_OF_BATCH_RESULT[type as keyof typeof PHASE_OF_BATCH_RESULT] : undefined;
}

/** Every message the tracker emits (to essays, to the batch machine, to outside services). */
export type BatchTrackerEmitted = OutboundMessage<
  | 'huleedu.els.essay.slot.created.v1'
  | 'huleedu.els.essay.slot.assigned.v1'
  | 'huleedu.els.excess.content.provisioned.v1'
  | 'huleedu.els.essay.content.failed.v1'
  | 'huleedu.batch.content.provisioning.completed.v1'
  | 'huleedu.batch.student.matching.requested.v1'
  | 'huleedu.els.batch.essays.ready.v1'
  | 'huleedu.els.essay.transition.requested.v1'
  | 'huleedu.essay.spellcheck.requested.v1'
  | 'huleedu.batch.nlp.processing.requested.v2'
  | 'huleedu.els.cj_assessment.requested.v1'
  | 'huleedu.batch.ai_feedback.processing.requested.v1'
  | 'huleedu.els.batch.phase.outcome.v1'
>;

/** What the tracker keeps of the batch's registration. */
export interface TrackerRegistration {
  readonly course_code: CourseCode;
  readonly user_id: string;
  readonly org_id: string | null;
  readonly class_id: string | null;
  readonly student_prompt_ref: string | null;
  /** The registered number of essays (= number of slots). */
  readonly expected_count: number;
}

/** State of one essay slot: waiting for content, holding a text, or consumed by a failed file. */
export type SlotState = 'free' | 'assigned' | 'failed';

/** One essay slot, in registration order. */
export interface Slot {
  readonly essay_id: string;
  readonly state: SlotState;
  readonly text_storage_id: string | null;
  readonly file_upload_id: string | null;
  readonly original_file_name: string | null;
}

/** A content or validation-failure event that arrived before the registration. */
export type HeldItem =
  | { readonly kind: 'content'; readonly data: BatchTrackerEventData['CONTENT_PROVISIONED']; readonly meta: EventMeta }
  | { readonly kind: 'validation_failure'; readonly data: BatchTrackerEventData['CONTENT_VALIDATION_FAILED']; readonly meta: EventMeta };

/** An essay and the text it goes on with (EssayProcessingInputRefV1 without metrics). */
export interface ProcessedEssay {
  readonly essay_id: string;
  readonly text_storage_id: string;
}

/** Key of an aggregation: `${run_id}:${phase}`. */
export type AggregationKey = `${number}:${PipelinePhase}`;

/** What a concluded aggregation keeps: its outcome's status and counts (the essay lists are dropped). */
export interface AggregationSummary {
  readonly phase_status: PhaseOutcomeStatus;
  readonly processed_count: number;
  readonly failed_count: number;
}

/**
 * The counting state of one (pipeline run, phase) of the batch. Its essay sets live in context
 * parts (machines/context-parts.ts), so counting one result rewrites one part, not the batch;
 * once concluded or cancelled the sets are emptied and only the summary stays.
 */
export interface PhaseAggregation {
  readonly run_id: number;
  readonly phase: PipelinePhase;
  /** Commanded essays that are not terminal for the phase yet (a set: every value is `true`). */
  readonly pending: PartedMap<true>;
  /** Number of keys of `pending`, kept so that counting never scans. */
  readonly pending_count: number;
  /** Succeeded essays with their output text, in the order their results came. */
  readonly processed: PartedList<ProcessedEssay>;
  /** Failed essays (critical ones first, then in the order their results came). */
  readonly failed: PartedList<string>;
  /** The batch-level result (CJ, NLP, AI feedback) was fanned out to the essays. */
  readonly result_received: boolean;
  /** The outcome was emitted; nothing counts any more. */
  readonly concluded: boolean;
  /** The phase was cancelled; no outcome will be emitted. */
  readonly cancelled: boolean;
  /** Set when the outcome was emitted (the sets above are then empty). */
  readonly summary: AggregationSummary | null;
}

/** Everything the tracker knows about its batch. */
export interface BatchTrackerContext {
  readonly batch_id: string;
  readonly registration: TrackerRegistration | null;
  /** One slot per registered essay, in registration order (in context parts). */
  readonly slots: PartedList<Slot>;
  /**
   * Index of the first free slot. Slots are filled strictly in order and never freed, so
   * every slot before it is settled and every slot from it on is free.
   */
  readonly next_free_slot: number;
  /** Number of slots in state `assigned`. */
  readonly assigned_count: number;
  /** Slot index by assigned text_storage_id (the same text returns the same essay). */
  readonly slot_by_text: PartedMap<number>;
  /** Slot index by the file_upload_id of a failed file (a repeated failure is a no-op). */
  readonly slot_by_failed_upload: PartedMap<number>;
  /** Content and validation failures that arrived before the registration, in arrival order. */
  readonly held: readonly HeldItem[];
  /** De-duplication keys of `held`: `text:<text_storage_id>` and `upload:<file_upload_id>`. */
  readonly held_keys: Readonly<Record<string, true>>;
  readonly matching_requested: boolean;
  readonly essays_ready_sent: boolean;
  /** Essays that failed critically: they take part in no further phase. */
  readonly critical: Readonly<Record<string, true>>;
  readonly aggregations: Readonly<Record<string, PhaseAggregation>>;
  /** The latest aggregation of each phase (batch-level results carry no run id). */
  readonly open_by_phase: Readonly<Partial<Record<PipelinePhase, AggregationKey>>>;
  /** The highest run id any phase command used (0 before the first). */
  readonly highest_run_id: number;
}

/** Input of the tracker: the batch it tracks. */
export interface BatchTrackerInput {
  readonly batch_id: string;
}

/** The result of a pure context function: the next context and the messages to emit, in order. */
export interface TrackerStep {
  readonly context: BatchTrackerContext;
  readonly messages: readonly BatchTrackerEmitted[];
}

/** Part-id prefixes of the tracker's collections (unique within one tracker). */
export const SLOTS_PART = 'slots';
export const TEXTS_PART = 'texts';
export const UPLOADS_PART = 'uploads';

/** The context of a freshly created tracker. */
export function initialTrackerContext(input: BatchTrackerInput): BatchTrackerContext {
  return {
    batch_id: input.batch_id,
    registration: null,
    slots: partedList(SLOTS_PART, []),
    next_free_slot: 0,
    assigned_count: 0,
    slot_by_text: emptyPartedMap(TEXTS_PART, 0),
    slot_by_failed_upload: emptyPartedMap(UPLOADS_PART, 0),
    held: [],
    held_keys: {},
    matching_requested: false,
    essays_ready_sent: false,
    critical: {},
    aggregations: {},
    open_by_phase: {},
    highest_run_id: 0,
  };
}

/**
 * Own-property lookup: ids are arbitrary strings, so `record['constructor']` must not find
 * Object.prototype's members.
 */
export function has(record: Readonly<Record<string, unknown>>, key: string): boolean {
  return Object.hasOwn(record, key);
}

/** The value stored under `key` (own properties only), or undefined. */
export function lookup<V>(record: Readonly<Record<string, V>>, key: string): V | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

/** The registration, which every state after `awaiting_registration` has by construction. */
export function requireRegistration(context: BatchTrackerContext): TrackerRegistration {
  if (context.registration === null) {
    throw new Error(`batch tracker ${context.batch_id}: no registration recorded (unreachable by construction)`);
  }
  return context.registration;
}
