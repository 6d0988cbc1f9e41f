/**
 * Builders for driving the batch machine with xstate's pure functions: machine events whose
 * data is parsed by the real zod schemas, contexts for `resolveState`, and a driver that
 * collects the emitted messages of every step.
 */
import { initialTransition, transition, type SnapshotFrom } from 'xstate';
import type { EventMeta } from '../../machines/contracts/envelope.js';
import { LifecycleEvents, type EventData } from '../../machines/contracts/events.js';
import type { BatchStatus, CourseCode, PhaseOutcomeStatus, PipelinePhase } from '../../machines/contracts/statuses.js';
import {
  BATCH_EVENT_TOPICS,
  batchMachine,
  contextFromRegistration,
  type BatchContext,
  type BatchEmitted,
  type BatchEmittedTopic,
  type BatchEvent,
  type BatchInput,
  type BatchMachine,
} from '../../machines/batch/index.js';
import { emitted, meta } from './xstate-helpers.js';

export const BATCH = 'batch-1';
export const USER = 'teacher-1';
export const CLASS = 'class-1';
export const PROMPT = 'prompt-1';
export const ESSAYS = ['e1', 'e2', 'e3'] as const;
export const CORRELATION = '33333333-3333-4333-8333-333333333333';
export const T0 = '2026-02-01T08:00:00.000Z';

export type BatchSnapshot = SnapshotFrom<BatchMachine>;
export type BatchEventType = BatchEvent['type'];
export type EventOf<T extends BatchEventType> = Extract<BatchEvent, { type: T }>;
export type MessageOf<T extends BatchEmittedTopic> = Extract<BatchEmitted, { type: T }>;

/** Where and when an event happens (its meta). */
export interface At {
  readonly at?: string;
  readonly correlation_id?: string;
}

const TOPIC_OF: Record<BatchEventType, string> = BATCH_EVENT_TOPICS;

/** The meta of a machine event of `type`. */
export function metaFor(type: BatchEventType, at: At = {}): EventMeta {
  return meta({
    event_type: TOPIC_OF[type],
    timestamp: at.at ?? T0,
    correlation_id: at.correlation_id ?? CORRELATION,
  });
}

function event<T extends BatchEventType>(type: T, data: EventOf<T>['data'], at: At): EventOf<T> {
  return { type, data, meta: metaFor(type, at) } as EventOf<T>;
}

/** Essay refs `[essay_id, text_storage_id]` -> wire refs. */
export type Ref = readonly [essay_id: string, text_storage_id: string];
const refs = (list: readonly Ref[]) => list.map(([essay_id, text_storage_id]) => ({ essay_id, text_storage_id }));

/** The original text ids of the test essays. */
export const ORIGINAL: readonly Ref[] = ESSAYS.map((id) => [id, `text-${id}`] as const);

// ---------------------------------------------------------------------------------------------
// Registration

export interface RegistrationOptions {
  readonly class_id?: string;
  readonly student_prompt_ref?: string;
  readonly course_code?: CourseCode;
  readonly essays?: readonly string[];
  readonly org_id?: string;
}

/** BatchEssaysRegistered data (GUEST unless class_id is given). */
export function registrationData(options: RegistrationOptions = {}): EventData<'BatchEssaysRegistered'> {
  const essays = options.essays ?? ESSAYS;
  return LifecycleEvents.BatchEssaysRegistered.data.parse({
    entity_id: BATCH,
    expected_essay_count: essays.length,
    essay_ids: [...essays],
    course_code: options.course_code ?? 'ENG5',
    user_id: USER,
    ...(options.class_id === undefined ? {} : { class_id: options.class_id }),
    ...(options.student_prompt_ref === undefined ? {} : { student_prompt_ref: options.student_prompt_ref }),
    ...(options.org_id === undefined ? {} : { org_id: options.org_id }),
  });
}

/** The machine's input for a registration. */
export function registration(options: RegistrationOptions = {}, at: At = {}): BatchInput {
  return { data: registrationData(options), meta: metaFor('BATCH_REGISTERED', at) };
}

/** The batch right after registration. */
export function register(options: RegistrationOptions = {}, at: At = {}, machine: BatchMachine = batchMachine): Step {
  const [snapshot, actions] = initialTransition(machine, registration(options, at));
  return { snapshot, messages: emitted<BatchEmitted>(actions), actionTypes: actions.map((action) => action.type) };
}

// ---------------------------------------------------------------------------------------------
// Events

export function provisioned(essays: readonly Ref[] = ORIGINAL, at: At = {}, course_code: CourseCode = 'ENG5'): EventOf<'CONTENT_PROVISIONING_COMPLETED'> {
  return event(
    'CONTENT_PROVISIONING_COMPLETED',
    LifecycleEvents.BatchContentProvisioningCompletedV1.data.parse({
      batch_id: BATCH,
      provisioned_count: essays.length,
      expected_count: ESSAYS.length,
      course_code,
      user_id: USER,
      essays_for_processing: refs(essays),
    }),
    at,
  );
}

export function confirmed(timeout_triggered = false, at: At = {}): EventOf<'ASSOCIATIONS_CONFIRMED'> {
  return event(
    'ASSOCIATIONS_CONFIRMED',
    LifecycleEvents.StudentAssociationsConfirmedV1.data.parse({
      batch_id: BATCH,
      class_id: CLASS,
      course_code: 'ENG5',
      associations: ESSAYS.map((essay_id, index) => ({
        essay_id,
        student_id: `student-${index + 1}`,
        confidence_score: 0.95,
        validation_method: timeout_triggered ? 'timeout' : 'human',
        validated_by: timeout_triggered ? null : USER,
        validated_at: at.at ?? T0,
      })),
      timeout_triggered,
      validation_summary: { confirmed: ESSAYS.length },
    }),
    at,
  );
}

export function essaysReady(essays: readonly Ref[] = ORIGINAL, at: At = {}): EventOf<'ESSAYS_READY'> {
  return event(
    'ESSAYS_READY',
    LifecycleEvents.BatchEssaysReady.data.parse({
      batch_id: BATCH,
      ready_essays: refs(essays),
      course_code: 'ENG5',
      course_language: 'en',
      class_type: 'REGULAR',
    }),
    at,
  );
}

export function validationErrors(critical_failure: boolean, total_errors = 1, at: At = {}): EventOf<'VALIDATION_ERRORS'> {
  return event(
    'VALIDATION_ERRORS',
    LifecycleEvents.BatchValidationErrorsV1.data.parse({
      batch_id: BATCH,
      failed_essays: [{ essay_id: 'e1', file_name: 'e1.docx', error_detail: { error_code: 'EMPTY_CONTENT', message: 'empty' } }],
      error_summary: { total_errors, critical_failure },
    }),
    at,
  );
}

export interface RequestOptions {
  readonly phases?: readonly PipelinePhase[];
  readonly prompt_payload?: { readonly cms_prompt_ref: string } | { readonly assignment_id: string };
}

export function pipelineRequested(requested_pipeline: string, options: RequestOptions = {}, at: At = {}): EventOf<'PIPELINE_REQUESTED'> {
  return event(
    'PIPELINE_REQUESTED',
    LifecycleEvents.ClientBatchPipelineRequestV1.data.parse({
      batch_id: BATCH,
      requested_pipeline,
      user_id: USER,
      ...(options.phases === undefined ? {} : { phases: [...options.phases] }),
      ...(options.prompt_payload === undefined ? {} : { prompt_payload: { ...options.prompt_payload } }),
    }),
    at,
  );
}

export function promptAttached(student_prompt_ref: string = PROMPT, at: At = {}): EventOf<'PROMPT_ATTACHED'> {
  return event('PROMPT_ATTACHED', LifecycleEvents.BatchPromptAttachedV1.data.parse({ batch_id: BATCH, user_id: USER, student_prompt_ref }), at);
}

export function withdrawn(at: At = {}): EventOf<'PIPELINE_REQUEST_WITHDRAWN'> {
  return event(
    'PIPELINE_REQUEST_WITHDRAWN',
    LifecycleEvents.BatchPipelineRequestWithdrawnV1.data.parse({ batch_id: BATCH, user_id: USER, reason: 'changed my mind' }),
    at,
  );
}

export interface OutcomeOptions {
  readonly failed?: readonly string[];
  readonly run_id?: number;
}

export function phaseOutcome(
  phase_name: PipelinePhase,
  phase_status: PhaseOutcomeStatus,
  processed: readonly Ref[],
  options: OutcomeOptions = {},
  at: At = {},
): EventOf<'PHASE_OUTCOME'> {
  return event(
    'PHASE_OUTCOME',
    LifecycleEvents.ELSBatchPhaseOutcomeV1.data.parse({
      batch_id: BATCH,
      phase_name,
      phase_status,
      processed_essays: refs(processed),
      failed_essay_ids: [...(options.failed ?? [])],
      ...(options.run_id === undefined ? {} : { run_id: options.run_id }),
    }),
    at,
  );
}

export function retryRequested(phase: PipelinePhase, essayIds?: readonly string[], at: At = {}): EventOf<'PHASE_RETRY_REQUESTED'> {
  return event(
    'PHASE_RETRY_REQUESTED',
    LifecycleEvents.ClientBatchPhaseRetryRequestV1.data.parse({
      batch_id: BATCH,
      user_id: USER,
      phase_name: phase,
      reason: 'service outage',
      ...(essayIds === undefined ? {} : { essay_ids: [...essayIds] }),
    }),
    at,
  );
}

export function closeRequested(at: At = {}): EventOf<'CLOSE_REQUESTED'> {
  return event('CLOSE_REQUESTED', LifecycleEvents.BatchCloseRequestedV1.data.parse({ batch_id: BATCH, user_id: USER }), at);
}

export function cancelRequested(reason?: string, at: At = {}): EventOf<'CANCEL_REQUESTED'> {
  return event(
    'CANCEL_REQUESTED',
    LifecycleEvents.BatchCancelRequestedV1.data.parse({ batch_id: BATCH, user_id: USER, ...(reason === undefined ? {} : { reason }) }),
    at,
  );
}

/** One valid event of every type (for refusal tests). */
export function sampleEvent(type: BatchEventType): BatchEvent {
  switch (type) {
    case 'BATCH_REGISTERED':
      return event('BATCH_REGISTERED', registrationData(), {});
    case 'CONTENT_PROVISIONING_COMPLETED':
      return provisioned();
    case 'ASSOCIATIONS_CONFIRMED':
      return confirmed();
    case 'ESSAYS_READY':
      return essaysReady();
    case 'VALIDATION_ERRORS':
      return validationErrors(true);
    case 'PIPELINE_REQUESTED':
      return pipelineRequested('nlp', { prompt_payload: { cms_prompt_ref: PROMPT } });
    case 'PROMPT_ATTACHED':
      return promptAttached();
    case 'PIPELINE_REQUEST_WITHDRAWN':
      return withdrawn();
    case 'PHASE_OUTCOME':
      return phaseOutcome('spellcheck', 'completed_successfully', ORIGINAL);
    case 'PHASE_RETRY_REQUESTED':
      return retryRequested('spellcheck');
    case 'CLOSE_REQUESTED':
      return closeRequested();
    case 'CANCEL_REQUESTED':
      return cancelRequested();
  }
}

// ---------------------------------------------------------------------------------------------
// Driving

/** The result of one step. */
export interface Step {
  readonly snapshot: BatchSnapshot;
  readonly messages: BatchEmitted[];
  readonly actionTypes: string[];
}

/** Applies one event with `transition`. */
export function step(snapshot: BatchSnapshot, input: BatchEvent, machine: BatchMachine = batchMachine): Step {
  const [next, actions] = transition(machine, snapshot, input);
  return { snapshot: next, messages: emitted<BatchEmitted>(actions), actionTypes: actions.map((action) => action.type) };
}

/** Applies events in order; every step is kept. */
export function drive(start: BatchSnapshot, events: readonly BatchEvent[], machine: BatchMachine = batchMachine): Step[] {
  const steps: Step[] = [];
  let current = start;
  for (const input of events) {
    const next = step(current, input, machine);
    steps.push(next);
    current = next.snapshot;
  }
  return steps;
}

/** The last snapshot of a drive (or `start` when no event was applied). */
export function last(start: BatchSnapshot, steps: readonly Step[]): BatchSnapshot {
  return steps.at(-1)?.snapshot ?? start;
}

/** Every message emitted along a drive. */
export function allMessages(steps: readonly Step[]): BatchEmitted[] {
  return steps.flatMap((s) => s.messages);
}

/** The messages of one topic, typed. */
export function ofType<T extends BatchEmittedTopic>(messages: readonly BatchEmitted[], type: T): MessageOf<T>[] {
  return messages.filter((message): message is MessageOf<T> => message.type === type);
}

/** The single message of one topic (throws unless exactly one). */
export function only<T extends BatchEmittedTopic>(messages: readonly BatchEmitted[], type: T): MessageOf<T> {
  const found = ofType(messages, type);
  if (found.length !== 1) throw new Error(`expected exactly one ${type}, got ${found.length}: ${messages.map((m) => m.type).join(', ')}`);
  return found[0]!;
}

/** A registration context with overrides (for `resolveState`). */
export function contextWith(overrides: Partial<BatchContext> = {}, options: RegistrationOptions = {}): BatchContext {
  return { ...contextFromRegistration(registration(options)), ...overrides };
}

/** A batch in `value` with `context`. */
export function at(value: BatchStatus, context: BatchContext = contextWith(), machine: BatchMachine = batchMachine): BatchSnapshot {
  return machine.resolveState({ value, context });
}

/** Batch essays (no failures) from refs. */
export function batchEssays(list: readonly Ref[] = ORIGINAL): BatchContext['essays'] {
  return list.map(([essay_id, text_storage_id]) => ({ essay_id, text_storage_id, failed_phase: null }));
}
