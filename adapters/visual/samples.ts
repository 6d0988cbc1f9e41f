/**
 * Sample events for path generation on the library's four machines, and how each machine
 * event is produced through the engine (the inverse of machines/routing.ts).
 *
 * Every payload is parsed by its zod schema (`LifecycleEvents.<Name>.data.parse`), so the
 * machine sees exactly what the engine would hand it. Sample events depend on the snapshot
 * (a phase outcome names the run in flight), and their event ids derive from the vertex key
 * and the event, so the events of one path never share an id (the engine's idempotency
 * would answer `duplicate` otherwise).
 */
import type { AnyMachineSnapshot, EventObject } from 'xstate';
import { deterministicUuid } from '../engine/ids.js';
import { ASSOCIATION_TIMEOUT_EVENT, associationsLifecycle, DEFAULT_ASSOCIATION_TIMEOUT_MS, type AssociationsContext } from '../../machines/associations.js';
import { batchLifecycleOf, createBatchMachine, type BatchContext, type BatchMachineOptions } from '../../machines/batch/index.js';
import { batchTrackerLifecycle } from '../../machines/batch-tracker.js';
import type { BatchTrackerContext } from '../../machines/batch-tracker/types.js';
import type { EventMeta } from '../../machines/contracts/envelope.js';
import { LifecycleEvents } from '../../machines/contracts/events.js';
import { ESSAY_TRIGGERS, type EssayTrigger } from '../../machines/contracts/events-internal.js';
import { PIPELINE_PHASES, type PipelinePhase } from '../../machines/contracts/statuses.js';
import { essayLifecycle } from '../../machines/essay.js';
import type { LifecycleMachine } from '../../machines/lifecycle-machine.js';
import type { MachineId } from '../../machines/routing.js';
import type { PathSeed, PathSubject } from './paths.js';

/** Timestamp of every sample event (the association timeout fires 24 h later). */
export const SAMPLE_TIMESTAMP = '2026-01-01T10:00:00.000Z';

/** Correlation id of every sample event. */
export const SAMPLE_CORRELATION_ID = deterministicUuid('visual-paths:correlation');

/** `source_service` of every sample event. */
export const SAMPLE_SOURCE = 'path_generator';

/** How the engine produces one machine event: an envelope to dispatch, or a timer that falls due. */
export type EngineAction =
  | { readonly kind: 'dispatch'; readonly envelope: Record<string, unknown> }
  | { readonly kind: 'timer'; readonly at: string };

/** A machine of this library with its samples and its engine binding. */
export interface ProjectSubject extends PathSubject {
  /** The machine id (engine registry key and routing target). */
  readonly id: MachineId;
  /** What the engine registers for this machine (the same logic as `machine`). */
  readonly lifecycle: LifecycleMachine;
  /** The entity a seed creates. */
  readonly entityId: (seed: PathSeed) => string;
  /** The envelope that creates the entity for a seed; undefined when the first step creates it. */
  readonly create: (seed: PathSeed) => Record<string, unknown> | undefined;
  /** The engine action that produces `event` (inverse routing). */
  readonly toAction: (event: EventObject) => EngineAction;
}

interface SampleEvent<T extends string = string> extends EventObject {
  readonly type: T;
  readonly data?: unknown;
  readonly meta: EventMeta;
}

function metaOf(topic: string, idKey: string, timestamp = SAMPLE_TIMESTAMP): EventMeta {
  return {
    event_id: deterministicUuid(`visual-paths:${idKey}`),
    event_type: topic,
    correlation_id: SAMPLE_CORRELATION_ID,
    timestamp,
    source_service: SAMPLE_SOURCE,
  };
}

/** The wire envelope of a sample event (its meta becomes the header). */
export function envelopeOf(topic: string, event: { readonly data?: unknown; readonly meta: EventMeta }): Record<string, unknown> {
  return {
    event_id: event.meta.event_id,
    event_type: topic,
    event_timestamp: event.meta.timestamp,
    source_service: event.meta.source_service,
    schema_version: 1,
    correlation_id: event.meta.correlation_id,
    data: event.data,
  };
}

function dispatchOf(topics: Readonly<Record<string, string>>, machine: string) {
  return (event: EventObject): EngineAction => {
    const topic = topics[event.type];
    if (topic === undefined) throw new Error(`${machine}: no topic produces machine event ${event.type}`);
    return { kind: 'dispatch', envelope: envelopeOf(topic, event as SampleEvent) };
  };
}

/** Builds sample events for one vertex: ids derive from the vertex key, the type and a variant. */
function sampler(machine: string, vertexKey: string) {
  return <T extends string>(type: T, topic: string, data: unknown, variant = ''): SampleEvent<T> => ({
    type,
    data,
    meta: metaOf(topic, `${machine}:${vertexKey}:${type}:${variant}`),
  });
}

const ESSAY_IDS = ['essay-1', 'essay-2'] as const;
const refsOfEssays = (ids: readonly string[]) => ids.map((essay_id, index) => ({ essay_id, text_storage_id: `text-${index + 1}` }));

// ---------------------------------------------------------------------------------------
// batch

/** The user whose pipeline requests the sample admission policy denies (no credits). */
export const USER_WITHOUT_CREDITS = 'teacher-without-credits';

/**
 * The batch machine's options for path generation: the default pipelines and an admission
 * policy that denies {@link USER_WITHOUT_CREDITS}. The default machine admits everything,
 * so its `pipelineDenied` transition is unreachable; the graph is the same.
 */
export const SAMPLE_BATCH_OPTIONS: BatchMachineOptions = {
  admission: (request) =>
    request.user_id === USER_WITHOUT_CREDITS
      ? { allowed: false, denial_reason: 'insufficient_credits', required_credits: 10, available_credits: 0 }
      : { allowed: true },
};

const BATCH_TOPICS = {
  BATCH_REGISTERED: LifecycleEvents.BatchEssaysRegistered.topic,
  CONTENT_PROVISIONING_COMPLETED: LifecycleEvents.BatchContentProvisioningCompletedV1.topic,
  ASSOCIATIONS_CONFIRMED: LifecycleEvents.StudentAssociationsConfirmedV1.topic,
  ESSAYS_READY: LifecycleEvents.BatchEssaysReady.topic,
  VALIDATION_ERRORS: LifecycleEvents.BatchValidationErrorsV1.topic,
  PIPELINE_REQUESTED: LifecycleEvents.ClientBatchPipelineRequestV1.topic,
  PROMPT_ATTACHED: LifecycleEvents.BatchPromptAttachedV1.topic,
  PIPELINE_REQUEST_WITHDRAWN: LifecycleEvents.BatchPipelineRequestWithdrawnV1.topic,
  PHASE_OUTCOME: LifecycleEvents.ELSBatchPhaseOutcomeV1.topic,
  CLOSE_REQUESTED: LifecycleEvents.BatchCloseRequestedV1.topic,
  CANCEL_REQUESTED: LifecycleEvents.BatchCancelRequestedV1.topic,
} as const;

function registrationData(batchId: string, classId: string | null) {
  return LifecycleEvents.BatchEssaysRegistered.data.parse({
    entity_id: batchId,
    expected_essay_count: ESSAY_IDS.length,
    essay_ids: [...ESSAY_IDS],
    course_code: 'ENG5',
    user_id: 'teacher-1',
    ...(classId === null ? {} : { class_id: classId }),
  });
}

function batchSeed(name: string, classId: string | null): PathSeed {
  const batchId = `batch-${name}`;
  return {
    name,
    input: { data: registrationData(batchId, classId), meta: metaOf(BATCH_TOPICS.BATCH_REGISTERED, `batch:${name}:create`) },
  };
}

/** Vertex key of a batch snapshot: its status plus the facts its guards read. */
function batchKey(snapshot: AnyMachineSnapshot): string {
  const context = snapshot.context as BatchContext;
  const history = Object.entries(context.phase_history)
    .filter(([, status]) => status === 'completed_successfully' || status === 'completed_with_partial_success')
    .map(([phase]) => phase)
    .sort();
  return JSON.stringify([
    snapshot.value,
    context.class_type,
    context.essays.length,
    context.essays_ready,
    context.student_prompt_ref !== null || context.assignment_id !== null,
    context.parked !== null,
    context.run === null ? null : `${context.run.requested_pipeline}:${context.run.index}`,
    history,
    context.essays.filter((essay) => essay.failed_phase !== null).length,
  ]);
}

function batchEvents(snapshot: AnyMachineSnapshot): EventObject[] {
  const context = snapshot.context as BatchContext;
  const sample = sampler('batch', batchKey(snapshot));
  const batch_id = context.batch_id;
  const refs = refsOfEssays(ESSAY_IDS);
  const classId = context.class_id ?? 'class-1';
  const E = LifecycleEvents;
  const events: EventObject[] = [
    sample('BATCH_REGISTERED', BATCH_TOPICS.BATCH_REGISTERED, registrationData(batch_id, context.class_id)),
    ...[refs, []].map((essays, variant) =>
      sample(
        'CONTENT_PROVISIONING_COMPLETED',
        BATCH_TOPICS.CONTENT_PROVISIONING_COMPLETED,
        E.BatchContentProvisioningCompletedV1.data.parse({
          batch_id,
          provisioned_count: essays.length,
          expected_count: ESSAY_IDS.length,
          course_code: context.course_code,
          user_id: context.user_id,
          essays_for_processing: essays,
        }),
        String(variant),
      ),
    ),
    ...[false, true].map((timeout_triggered) =>
      sample(
        'ASSOCIATIONS_CONFIRMED',
        BATCH_TOPICS.ASSOCIATIONS_CONFIRMED,
        E.StudentAssociationsConfirmedV1.data.parse({
          batch_id,
          class_id: classId,
          course_code: context.course_code,
          associations: [],
          timeout_triggered,
          validation_summary: { total_associations: 0 },
        }),
        String(timeout_triggered),
      ),
    ),
    sample(
      'ESSAYS_READY',
      BATCH_TOPICS.ESSAYS_READY,
      E.BatchEssaysReady.data.parse({ batch_id, ready_essays: refs, course_code: context.course_code, course_language: 'en', class_type: 'REGULAR' }),
    ),
    ...[false, true].map((critical_failure) =>
      sample(
        'VALIDATION_ERRORS',
        BATCH_TOPICS.VALIDATION_ERRORS,
        E.BatchValidationErrorsV1.data.parse({
          batch_id,
          failed_essays: [{ file_name: 'broken.docx' }],
          error_summary: { total_errors: 1, critical_failure },
        }),
        String(critical_failure),
      ),
    ),
    ...[
      { requested_pipeline: 'spellcheck', phases: ['spellcheck'], user_id: 'teacher-1' },
      { requested_pipeline: 'nlp', user_id: 'teacher-1' },
      { requested_pipeline: 'nlp', user_id: USER_WITHOUT_CREDITS },
    ].map((request, variant) =>
      sample('PIPELINE_REQUESTED', BATCH_TOPICS.PIPELINE_REQUESTED, E.ClientBatchPipelineRequestV1.data.parse({ batch_id, ...request }), String(variant)),
    ),
    sample(
      'PROMPT_ATTACHED',
      BATCH_TOPICS.PROMPT_ATTACHED,
      E.BatchPromptAttachedV1.data.parse({ batch_id, user_id: 'teacher-1', student_prompt_ref: 'prompt-1' }),
    ),
    sample(
      'PIPELINE_REQUEST_WITHDRAWN',
      BATCH_TOPICS.PIPELINE_REQUEST_WITHDRAWN,
      E.BatchPipelineRequestWithdrawnV1.data.parse({ batch_id, user_id: 'teacher-1' }),
    ),
    sample('CLOSE_REQUESTED', BATCH_TOPICS.CLOSE_REQUESTED, E.BatchCloseRequestedV1.data.parse({ batch_id, user_id: 'teacher-1' })),
    sample(
      'CANCEL_REQUESTED',
      BATCH_TOPICS.CANCEL_REQUESTED,
      E.BatchCancelRequestedV1.data.parse({ batch_id, user_id: 'teacher-1', reason: 'path test' }),
    ),
  ];
  // Phase outcomes: for the phase in flight (success, partial, failure), and a stale one.
  const run = context.run;
  const outcome = (variant: string, fields: Record<string, unknown>) =>
    sample('PHASE_OUTCOME', BATCH_TOPICS.PHASE_OUTCOME, E.ELSBatchPhaseOutcomeV1.data.parse({ batch_id, ...fields }), variant);
  if (run === null) {
    events.push(outcome('stale', { phase_name: 'spellcheck', phase_status: 'completed_successfully', processed_essays: refs, failed_essay_ids: [], run_id: context.run_count + 1 }));
  } else {
    const phase_name = run.phases[run.index];
    const current = context.essays.filter((essay) => run.current_essay_ids.includes(essay.essay_id)).map(({ essay_id, text_storage_id }) => ({ essay_id, text_storage_id }));
    const [first, ...rest] = current;
    events.push(
      outcome('success', { phase_name, phase_status: 'completed_successfully', processed_essays: current, failed_essay_ids: [], run_id: run.run_id }),
      outcome('partial', {
        phase_name,
        phase_status: 'completed_with_failures',
        processed_essays: first === undefined ? [] : [first],
        failed_essay_ids: rest.map((essay) => essay.essay_id),
        run_id: run.run_id,
      }),
      outcome('failed', { phase_name, phase_status: 'failed_critically', processed_essays: [], failed_essay_ids: current.map((essay) => essay.essay_id), run_id: run.run_id }),
      outcome('stale', { phase_name, phase_status: 'completed_successfully', processed_essays: current, failed_essay_ids: [], run_id: run.run_id + 1 }),
    );
  }
  return events;
}

function batchSubject(): ProjectSubject {
  const machine = createBatchMachine(SAMPLE_BATCH_OPTIONS);
  const lifecycle = batchLifecycleOf(machine, SAMPLE_BATCH_OPTIONS) as unknown as LifecycleMachine;
  return {
    id: 'batch',
    machine,
    lifecycle,
    seeds: [batchSeed('guest', null), batchSeed('regular', 'class-1')],
    events: batchEvents,
    serializeState: batchKey,
    entityId: (seed) => `batch-${seed.name}`,
    create: (seed) => envelopeOf(BATCH_TOPICS.BATCH_REGISTERED, seed.input as SampleEvent),
    toAction: dispatchOf(BATCH_TOPICS, 'batch'),
  };
}

// ---------------------------------------------------------------------------------------
// essay

const ESSAY_TOPICS: Readonly<Record<string, string>> = {
  SLOT_ASSIGNED: LifecycleEvents.EssaySlotAssignedV1.topic,
  CONTENT_FAILED: LifecycleEvents.EssayContentFailedV1.topic,
  ...Object.fromEntries(ESSAY_TRIGGERS.map((trigger) => [trigger, LifecycleEvents.EssayTransitionRequestedV1.topic])),
};

function triggerData(trigger: EssayTrigger, essay_id: string, batch_id: string) {
  const extra = trigger.startsWith('CMD_INITIATE_')
    ? { run_id: 1, text_storage_id: 'text-1' }
    : trigger.endsWith('_SUCCEEDED')
      ? { run_id: 1, text_storage_id: `text-1-${trigger.toLowerCase()}` }
      : trigger.endsWith('_FAILED') || trigger === 'EVT_CRITICAL_FAILURE'
        ? { run_id: 1, reason: 'path test' }
        : { run_id: 1 };
  return LifecycleEvents.EssayTransitionRequestedV1.data.parse({ essay_id, batch_id, trigger, ...extra });
}

function essayEvents(snapshot: AnyMachineSnapshot): EventObject[] {
  const { essay_id, batch_id } = snapshot.context as { essay_id: string; batch_id: string };
  const sample = sampler('essay', JSON.stringify(snapshot.value));
  const file = { batch_id, essay_id, file_upload_id: 'upload-1', original_file_name: 'essay-1.docx' };
  return [
    sample('SLOT_ASSIGNED', LifecycleEvents.EssaySlotAssignedV1.topic, LifecycleEvents.EssaySlotAssignedV1.data.parse({ ...file, text_storage_id: 'text-1' })),
    sample('CONTENT_FAILED', LifecycleEvents.EssayContentFailedV1.topic, LifecycleEvents.EssayContentFailedV1.data.parse({ ...file, validation_error_code: 'EMPTY_CONTENT' })),
    ...ESSAY_TRIGGERS.map((trigger) => sample(trigger, LifecycleEvents.EssayTransitionRequestedV1.topic, triggerData(trigger, essay_id, batch_id))),
  ];
}

function essaySubject(): ProjectSubject {
  const data = LifecycleEvents.EssaySlotCreatedV1.data.parse({ batch_id: 'batch-1', essay_id: 'essay-1', slot_index: 0 });
  const topic = LifecycleEvents.EssaySlotCreatedV1.topic;
  return {
    id: 'essay',
    machine: essayLifecycle.logic,
    lifecycle: essayLifecycle,
    seeds: [{ name: 'default', input: { data, meta: metaOf(topic, 'essay:default:create') } }],
    events: essayEvents,
    entityId: () => 'essay-1',
    create: (seed) => envelopeOf(topic, seed.input as SampleEvent),
    toAction: dispatchOf(ESSAY_TOPICS, 'essay'),
  };
}

// ---------------------------------------------------------------------------------------
// batch_tracker

const TRACKER_TOPICS = {
  REGISTERED: LifecycleEvents.BatchEssaysRegistered.topic,
  CONTENT_PROVISIONED: LifecycleEvents.EssayContentProvisionedV1.topic,
  CONTENT_VALIDATION_FAILED: LifecycleEvents.EssayValidationFailedV1.topic,
  STUDENT_MATCHING_INITIATE: LifecycleEvents.BatchServiceStudentMatchingInitiateCommandDataV1.topic,
  ASSOCIATIONS_CONFIRMED: LifecycleEvents.StudentAssociationsConfirmedV1.topic,
  SPELLCHECK_INITIATE: LifecycleEvents.BatchServiceSpellcheckInitiateCommandDataV1.topic,
  NLP_INITIATE: LifecycleEvents.BatchServiceNLPInitiateCommandDataV2.topic,
  CJ_ASSESSMENT_INITIATE: LifecycleEvents.BatchServiceCJAssessmentInitiateCommandDataV1.topic,
  AI_FEEDBACK_INITIATE: LifecycleEvents.BatchServiceAIFeedbackInitiateCommandDataV1.topic,
  ESSAY_PHASE_RESULT: LifecycleEvents.EssayPhaseResultV1.topic,
  ESSAY_CRITICAL_FAILURE: LifecycleEvents.EssayCriticalFailureV1.topic,
  CJ_ASSESSMENT_COMPLETED: LifecycleEvents.CJAssessmentCompletedV1.topic,
  CJ_ASSESSMENT_FAILED: LifecycleEvents.CJAssessmentFailedV1.topic,
  NLP_ANALYSIS_COMPLETED: LifecycleEvents.BatchNlpAnalysisCompletedV1.topic,
  AI_FEEDBACK_COMPLETED: LifecycleEvents.AIFeedbackCompletedV1.topic,
  PHASE_CANCEL: LifecycleEvents.BatchPhaseCancelCommandV1.topic,
  BATCH_CLOSED: LifecycleEvents.BatchClosedV1.topic,
} as const;

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
  return context.slots.flatMap((slot) =>
    slot.state === 'assigned' && slot.text_storage_id !== null ? [{ essay_id: slot.essay_id, text_storage_id: slot.text_storage_id }] : [],
  );
}

function trackerEvents(snapshot: AnyMachineSnapshot): EventObject[] {
  const context = snapshot.context as BatchTrackerContext;
  const sample = sampler('batch_tracker', trackerKey(snapshot));
  const E = LifecycleEvents;
  const batch_id = context.batch_id;
  const T = TRACKER_TOPICS;
  const knownTexts = [...Object.keys(context.slot_by_text), ...context.held.flatMap((item) => (item.kind === 'content' ? [item.data.text_storage_id] : []))];
  const knownUploads = [
    ...Object.keys(context.slot_by_failed_upload),
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
  const creating: EventObject[] = [
    sample('REGISTERED', T.REGISTERED, registrationData(batch_id, null)),
    content(`text-${knownTexts.length + 1}`, 'new'),
    ...knownTexts.slice(0, 1).map((text) => content(text, 'known')),
    failure(`bad-upload-${knownUploads.length + 1}`, 'new'),
    ...knownUploads.slice(0, 1).map((upload) => failure(upload, 'known')),
  ];
  // A tracker that took no event does not exist in the engine: only creating events reach it.
  if (context.registration === null && context.held.length === 0) return creating;

  const refs = assignedRefs(context);
  const processing_summary = { successful_essay_ids: refs.map((ref) => ref.essay_id), failed_essay_ids: [] };
  const events: EventObject[] = [
    ...creating,
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
  // Phase commands: a new run of each phase, and a repeat of the phase's latest run.
  if (refs.length > 0) {
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
  }
  // Essay results and cancels: one for the first open aggregation, one for no aggregation.
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
  const pendingEssay = open === undefined ? undefined : Object.keys(open.pending).sort()[0];
  if (open !== undefined && pendingEssay !== undefined) {
    events.push(result(open.run_id, open.phase, pendingEssay, 'pending'), cancel(open.run_id, open.phase, 'open'));
  }
  events.push(result(stale, 'spellcheck', ESSAY_IDS[0], 'stale'), cancel(stale, 'spellcheck', 'unknown'));
  return events;
}

function trackerSubject(): ProjectSubject {
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

// ---------------------------------------------------------------------------------------
// associations

/** The time the association timeout of the sample batch falls due. */
export const SAMPLE_TIMEOUT_AT = new Date(Date.parse(SAMPLE_TIMESTAMP) + DEFAULT_ASSOCIATION_TIMEOUT_MS).toISOString();

function suggestionsData(batch_id: string, essayIds: readonly string[]) {
  return LifecycleEvents.BatchAuthorMatchesSuggestedV1.data.parse({
    batch_id,
    class_id: 'class-1',
    course_code: 'ENG5',
    match_results: essayIds.map((essay_id, index) => ({
      essay_id,
      suggestions: index === 0 ? [{ student_id: 'student-1', student_name: 'Ada Lovelace', confidence_score: 0.9 }] : [],
    })),
  });
}

/** The timeout as the engine's timer delivers it (the timer's meta; no payload). */
function timeoutEvent(batchId: string): SampleEvent {
  return {
    type: ASSOCIATION_TIMEOUT_EVENT,
    meta: { ...metaOf(ASSOCIATION_TIMEOUT_EVENT, `associations:timeout:${batchId}`, SAMPLE_TIMEOUT_AT), source_service: 'lifecycle_engine.timers' },
  };
}

function associationsEvents(snapshot: AnyMachineSnapshot): EventObject[] {
  const context = snapshot.context as AssociationsContext;
  const sample = sampler('associations', JSON.stringify(snapshot.value));
  const E = LifecycleEvents;
  return [
    sample('MATCHES_SUGGESTED', E.BatchAuthorMatchesSuggestedV1.topic, suggestionsData(context.batch_id, ['essay-3'])),
    sample(
      'ASSOCIATIONS_VALIDATED',
      E.StudentAssociationsValidatedV1.topic,
      E.StudentAssociationsValidatedV1.data.parse({
        batch_id: context.batch_id,
        user_id: 'teacher-1',
        associations: [{ essay_id: 'essay-1', student_id: 'student-1', confirmed: true }],
      }),
    ),
    timeoutEvent(context.batch_id),
  ];
}

function associationsSubject(): ProjectSubject {
  const topic = LifecycleEvents.BatchAuthorMatchesSuggestedV1.topic;
  const topics: Readonly<Record<string, string>> = {
    MATCHES_SUGGESTED: topic,
    ASSOCIATIONS_VALIDATED: LifecycleEvents.StudentAssociationsValidatedV1.topic,
  };
  const dispatch = dispatchOf(topics, 'associations');
  return {
    id: 'associations',
    machine: associationsLifecycle.logic,
    lifecycle: associationsLifecycle,
    seeds: [{ name: 'default', input: { data: suggestionsData('batch-1', ['essay-1', 'essay-2']), meta: metaOf(topic, 'associations:default:create') } }],
    events: associationsEvents,
    entityId: () => 'batch-1',
    create: (seed) => envelopeOf(topic, seed.input as SampleEvent),
    toAction: (event) => (event.type === ASSOCIATION_TIMEOUT_EVENT ? { kind: 'timer', at: (event as SampleEvent).meta.timestamp } : dispatch(event)),
  };
}

/**
 * The library's four machines as path subjects, in registry order: batch (GUEST and
 * REGULAR seeds, sample admission policy), essay, batch_tracker, associations.
 */
export function projectSubjects(): ProjectSubject[] {
  return [batchSubject(), essaySubject(), trackerSubject(), associationsSubject()];
}
