/**
 * Samples of the batch_tracker machine: one seed, a vertex key of the facts its guards read, and
 * the events a tracker can receive (content and validation failures new and known, phase commands
 * new and repeated, essay results and cancels for open and unknown aggregations).
 */
import type { AnyMachineSnapshot, EventObject } from 'xstate';
import { batchTrackerLifecycle } from '../../../machines/batch-tracker.js';
import type { BatchTrackerContext } from '../../../machines/batch-tracker/types.js';
import { listItems, mapKeys } from '../../../machines/context-parts.js';
import { machineEventTopics } from '../../../machines/contracts/event-tables.js';
import { LifecycleEvents } from '../../../machines/contracts/events.js';
import { PIPELINE_PHASES, type PipelinePhase } from '../../../machines/contracts/statuses.js';
import { dispatchOf, ESSAY_IDS, registrationData, sampler, type ProjectSubject, type Sampler } from './common.js';

/** Tracker event type -> topic, from the event declarations. */
const TRACKER_TOPICS = machineEventTopics('batch_tracker');

const PHASE_COMMAND_EVENTS = {
  spellcheck: 'SPELLCHECK_INITIATE',
  nlp: 'NLP_INITIATE',
  cj_assessment: 'CJ_ASSESSMENT_INITIATE',
  ai_feedback: 'AI_FEEDBACK_INITIATE',
} as const satisfies Record<PipelinePhase, keyof typeof TRACKER_TOPICS>;

/**
 * What the guards see of a phase: no aggregation yet, one still waiting for its batch-level
 * result (`awaitsBatchResult`), or one that exists otherwise (a repeated command is a duplicate).
 */
function phaseState(context: BatchTrackerContext, phase: PipelinePhase): string {
  const key = context.open_by_phase[phase];
  const aggregation = key === undefined ? undefined : context.aggregations[key];
  if (aggregation === undefined) return 'none';
  const awaiting = phase !== 'spellcheck' && !aggregation.concluded && !aggregation.cancelled && !aggregation.result_received;
  return awaiting ? 'awaiting' : 'started';
}

/** Vertex key of a tracker snapshot: its state plus the facts its guards read. */
function trackerKey(snapshot: AnyMachineSnapshot): string {
  const context = snapshot.context as BatchTrackerContext;
  return JSON.stringify([
    snapshot.value,
    context.registration !== null,
    context.held.length > 0,
    context.slots.length - context.next_free_slot,
    context.assigned_count > 0,
    context.matching_requested,
    context.essays_ready_sent,
    PIPELINE_PHASES.map((phase) => phaseState(context, phase)),
  ]);
}

function assignedRefs(context: BatchTrackerContext) {
  return listItems(context.slots).flatMap((slot) =>
    slot.state === 'assigned' && slot.text_storage_id !== null ? [{ essay_id: slot.essay_id, text_storage_id: slot.text_storage_id }] : [],
  );
}

type AssignedRefs = ReturnType<typeof assignedRefs>;

/** The events that create a tracker: its registration, and content or validation failures (new and known). */
function creatingEvents(context: BatchTrackerContext, sample: Sampler): EventObject[] {
  const E = LifecycleEvents;
  const batch_id = context.batch_id;
  const T = TRACKER_TOPICS;
  const knownTexts = [...mapKeys(context.slot_by_text), ...context.held.flatMap((item) => (item.kind === 'content' ? [item.data.text_storage_id] : []))];
  const knownUploads = [
    ...mapKeys(context.slot_by_failed_upload),
    ...context.held.flatMap((item) => (item.kind === 'validation_failure' ? [item.data.file_upload_id] : [])),
  ];
  const content = (text: string, variant: string) =>
    sample(
      'CONTENT_PROVISIONED',
      T.CONTENT_PROVISIONED,
      E.EssayContentProvisionedV1.data.parse({
        entity_id: batch_id,
        file_upload_id: `upload-${text}`,
        original_file_name: `${text}.docx`,
        raw_file_storage_id: `raw-${text}`,
        text_storage_id: text,
        file_size_bytes: 1234,
      }),
      variant,
    );
  const failure = (upload: string, variant: string) =>
    sample(
      'CONTENT_VALIDATION_FAILED',
      T.CONTENT_VALIDATION_FAILED,
      E.EssayValidationFailedV1.data.parse({ entity_id: batch_id, file_upload_id: upload, original_file_name: `${upload}.docx`, validation_error_code: 'EMPTY_CONTENT' }),
      variant,
    );
  return [
    sample('REGISTERED', T.REGISTERED, registrationData(batch_id, null)),
    content(`text-${knownTexts.length + 1}`, 'new'),
    ...knownTexts.slice(0, 1).map((text) => content(text, 'known')),
    failure(`bad-upload-${knownUploads.length + 1}`, 'new'),
    ...knownUploads.slice(0, 1).map((upload) => failure(upload, 'known')),
  ];
}

/** Matching, associations, a critical essay failure, batch-level phase results and the close. */
function signalEvents(context: BatchTrackerContext, sample: Sampler, refs: AssignedRefs): EventObject[] {
  const E = LifecycleEvents;
  const batch_id = context.batch_id;
  const T = TRACKER_TOPICS;
  const processing_summary = { successful_essay_ids: refs.map((ref) => ref.essay_id), failed_essay_ids: [] };
  return [
    sample(
      'STUDENT_MATCHING_INITIATE',
      T.STUDENT_MATCHING_INITIATE,
      E.BatchServiceStudentMatchingInitiateCommandDataV1.data.parse({ entity_id: batch_id, essays_to_process: refs, class_id: 'class-1', course_code: 'ENG5' }),
    ),
    sample(
      'ASSOCIATIONS_CONFIRMED',
      T.ASSOCIATIONS_CONFIRMED,
      E.StudentAssociationsConfirmedV1.data.parse({
        batch_id,
        class_id: 'class-1',
        course_code: 'ENG5',
        associations: [],
        timeout_triggered: false,
        validation_summary: { total_associations: 0 },
      }),
    ),
    sample('ESSAY_CRITICAL_FAILURE', T.ESSAY_CRITICAL_FAILURE, E.EssayCriticalFailureV1.data.parse({ batch_id, essay_id: ESSAY_IDS[0], reason: 'path test' })),
    sample(
      'CJ_ASSESSMENT_COMPLETED',
      T.CJ_ASSESSMENT_COMPLETED,
      E.CJAssessmentCompletedV1.data.parse({ entity_id: batch_id, cj_assessment_job_id: 'cj-1', processing_summary }),
    ),
    sample('CJ_ASSESSMENT_FAILED', T.CJ_ASSESSMENT_FAILED, E.CJAssessmentFailedV1.data.parse({ entity_id: batch_id, cj_assessment_job_id: 'cj-1' })),
    sample('NLP_ANALYSIS_COMPLETED', T.NLP_ANALYSIS_COMPLETED, E.BatchNlpAnalysisCompletedV1.data.parse({ batch_id, processing_summary })),
    sample('AI_FEEDBACK_COMPLETED', T.AI_FEEDBACK_COMPLETED, E.AIFeedbackCompletedV1.data.parse({ batch_id, processing_summary })),
    sample(
      'BATCH_CLOSED',
      T.BATCH_CLOSED,
      E.BatchClosedV1.data.parse({ batch_id, final_status: 'completed_successfully', successful_essay_ids: refs.map((ref) => ref.essay_id), failed_essay_ids: [] }),
    ),
  ];
}

/** Phase commands: a new run of each phase, and a repeat of the phase's latest run. */
function phaseCommandEvents(context: BatchTrackerContext, sample: Sampler, refs: AssignedRefs): EventObject[] {
  const E = LifecycleEvents;
  const batch_id = context.batch_id;
  const T = TRACKER_TOPICS;
  const events: EventObject[] = [];
  for (const phase of PIPELINE_PHASES) {
    const latest = context.open_by_phase[phase];
    const runIds = [context.highest_run_id + 1, ...(latest === undefined ? [] : [context.aggregations[latest]?.run_id ?? 1])];
    runIds.forEach((run_id, index) => {
      const common = { entity_id: batch_id, essays_to_process: refs, language: 'en', run_id };
      const type = PHASE_COMMAND_EVENTS[phase];
      const variant = index === 0 ? 'new' : 'repeat';
      switch (phase) {
        case 'spellcheck':
          events.push(sample(type, T[type], E.BatchServiceSpellcheckInitiateCommandDataV1.data.parse(common), variant));
          break;
        case 'nlp':
          events.push(sample(type, T[type], E.BatchServiceNLPInitiateCommandDataV2.data.parse(common), variant));
          break;
        case 'cj_assessment':
          events.push(
            sample(type, T[type], E.BatchServiceCJAssessmentInitiateCommandDataV1.data.parse({ ...common, course_code: 'ENG5', class_type: 'GUEST' }), variant),
          );
          break;
        case 'ai_feedback':
          events.push(
            sample(
              type,
              T[type],
              E.BatchServiceAIFeedbackInitiateCommandDataV1.data.parse({ ...common, course_code: 'ENG5', class_type: 'GUEST', owner_user_id: 'teacher-1' }),
              variant,
            ),
          );
          break;
      }
    });
  }
  return events;
}

/** Essay results and cancels: one for the first open aggregation, one for no aggregation. */
function resultAndCancelEvents(context: BatchTrackerContext, sample: Sampler): EventObject[] {
  const E = LifecycleEvents;
  const batch_id = context.batch_id;
  const T = TRACKER_TOPICS;
  const events: EventObject[] = [];
  const open = Object.keys(context.aggregations)
    .sort()
    .map((key) => context.aggregations[key])
    .find((aggregation) => aggregation !== undefined && !aggregation.concluded && !aggregation.cancelled && aggregation.pending_count > 0);
  const stale = context.highest_run_id + 100;
  const result = (run_id: number, phase_name: PipelinePhase, essay_id: string, variant: string) =>
    sample(
      'ESSAY_PHASE_RESULT',
      T.ESSAY_PHASE_RESULT,
      E.EssayPhaseResultV1.data.parse({ batch_id, essay_id, run_id, phase_name, succeeded: true, text_storage_id: `${essay_id}-after-${phase_name}` }),
      variant,
    );
  const cancel = (run_id: number, phase_name: PipelinePhase, variant: string) =>
    sample('PHASE_CANCEL', T.PHASE_CANCEL, E.BatchPhaseCancelCommandV1.data.parse({ batch_id, run_id, phase_name, essay_ids: [], reason: 'path test' }), variant);
  const pendingEssay = open === undefined ? undefined : mapKeys(open.pending).sort()[0];
  if (open !== undefined && pendingEssay !== undefined) {
    events.push(result(open.run_id, open.phase, pendingEssay, 'pending'), cancel(open.run_id, open.phase, 'open'));
  }
  events.push(result(stale, 'spellcheck', ESSAY_IDS[0], 'stale'), cancel(stale, 'spellcheck', 'unknown'));
  return events;
}

function trackerEvents(snapshot: AnyMachineSnapshot): EventObject[] {
  const context = snapshot.context as BatchTrackerContext;
  const sample = sampler('batch_tracker', trackerKey(snapshot));
  const creating = creatingEvents(context, sample);
  // A tracker that took no event does not exist in the engine: only creating events reach it.
  if (context.registration === null && context.held.length === 0) return creating;

  const refs = assignedRefs(context);
  const events: EventObject[] = [...creating, ...signalEvents(context, sample, refs)];
  if (refs.length > 0) events.push(...phaseCommandEvents(context, sample, refs));
  events.push(...resultAndCancelEvents(context, sample));
  return events;
}

export function trackerSubject(): ProjectSubject {
  return {
    id: 'batch_tracker',
    machine: batchTrackerLifecycle.logic,
    lifecycle: batchTrackerLifecycle,
    seeds: [{ name: 'default', input: { batch_id: 'batch-1' } }],
    events: trackerEvents,
    serializeState: trackerKey,
    entityId: () => 'batch-1',
    create: () => undefined,
    toAction: dispatchOf(TRACKER_TOPICS, 'batch_tracker'),
  };
}
