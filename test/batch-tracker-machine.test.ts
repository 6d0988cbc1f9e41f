/**
 * The ELS batch tracker, stepped with xstate's pure `initialTransition` / `transition`.
 * Every emitted message is also checked against the zod schema of its topic.
 */
import { describe, expect, test } from 'vitest';
import { initialTransition, transition } from 'xstate';
import type { EventMeta } from '../machines/contracts/envelope.js';
import { definitionOf, LifecycleEvents, type EventData, type EventName } from '../machines/contracts/events.js';
import type { PipelinePhase } from '../machines/contracts/statuses.js';
import {
  BATCH_TRACKER_EVENT_TYPES,
  BATCH_TRACKER_STATES,
  batchTrackerLifecycle,
  batchTrackerMachine,
  explainTrackerGuard,
  type BatchTrackerEmitted,
  type BatchTrackerEvent,
  type BatchTrackerEventData,
  type BatchTrackerEventType,
  type BatchTrackerSnapshot,
  type BatchTrackerState,
} from '../machines/batch-tracker.js';
import { newAggregation, phaseOutcomeStatus, settleEssay } from '../machines/batch-tracker/aggregation.js';
import { holdItem, isKnownText } from '../machines/batch-tracker/slots.js';
import { initialTrackerContext } from '../machines/batch-tracker/types.js';
import { listAt, listItems, mapGet, mapKeys } from '../machines/context-parts.js';

const BATCH = 'batch-1';
const CORRELATION = '11111111-1111-4111-8111-111111111111';
let eventCounter = 0;

function meta(overrides: Partial<EventMeta> = {}): EventMeta {
  eventCounter += 1;
  return {
    event_id: `00000000-0000-4000-8000-${String(eventCounter).padStart(12, '0')}`,
    event_type: 'test',
    correlation_id: CORRELATION,
    timestamp: '2025-03-01T10:00:00Z',
    source_service: 'test',
    ...overrides,
  };
}

/** Builds a machine event; `data` has already been parsed by its zod schema. */
function ev<T extends BatchTrackerEventType>(type: T, data: BatchTrackerEventData[T], overrides: Partial<EventMeta> = {}): BatchTrackerEvent {
  return { type, data, meta: meta(overrides) } as BatchTrackerEvent;
}

/** Parses raw payload data with the event's schema, so test events are valid contracts. */
function parse<N extends EventName>(name: N, raw: unknown): EventData<N> {
  return LifecycleEvents[name].data.parse(raw) as EventData<N>;
}

const refs = (...ids: string[]) => ids.map((id) => ({ essay_id: id, text_storage_id: `t-${id}` }));

const data = {
  registered: (essayIds: string[], extra: Record<string, unknown> = {}) =>
    parse('BatchEssaysRegistered', {
      entity_id: BATCH,
      expected_essay_count: essayIds.length,
      essay_ids: essayIds,
      course_code: 'ENG5',
      user_id: 'teacher-1',
      org_id: 'org-1',
      class_id: 'class-1',
      student_prompt_ref: 'prompt-1',
      ...extra,
    }),
  content: (text: string, upload = `up-${text}`) =>
    parse('EssayContentProvisionedV1', {
      entity_id: BATCH,
      file_upload_id: upload,
      original_file_name: `${text}.docx`,
      raw_file_storage_id: `raw-${text}`,
      text_storage_id: text,
      file_size_bytes: 1200,
    }),
  failure: (upload: string) =>
    parse('EssayValidationFailedV1', {
      entity_id: BATCH,
      file_upload_id: upload,
      original_file_name: `${upload}.pdf`,
      validation_error_code: 'EMPTY_CONTENT',
    }),
  result: (essayId: string, runId: number, phase: PipelinePhase, succeeded: boolean, text = `out-${essayId}`) =>
    parse('EssayPhaseResultV1', { batch_id: BATCH, essay_id: essayId, run_id: runId, phase_name: phase, succeeded, text_storage_id: text }),
  critical: (essayId: string) => parse('EssayCriticalFailureV1', { batch_id: BATCH, essay_id: essayId }),
  summary: (successful: string[], failed: string[] = []) => ({ successful_essay_ids: successful, failed_essay_ids: failed }),
};

function phaseCommand(phase: PipelinePhase, essayIds: string[], runId?: number): BatchTrackerEvent {
  const base = { entity_id: BATCH, essays_to_process: refs(...essayIds), language: 'en', ...(runId === undefined ? {} : { run_id: runId }) };
  switch (phase) {
    case 'spellcheck':
      return ev('SPELLCHECK_INITIATE', parse('BatchServiceSpellcheckInitiateCommandDataV1', base));
    case 'nlp':
      return ev('NLP_INITIATE', parse('BatchServiceNLPInitiateCommandDataV2', base));
    case 'cj_assessment':
      return ev(
        'CJ_ASSESSMENT_INITIATE',
        parse('BatchServiceCJAssessmentInitiateCommandDataV1', { ...base, course_code: 'ENG5', class_type: 'REGULAR', assignment_id: 'assign-7' }),
      );
    case 'ai_feedback':
      return ev(
        'AI_FEEDBACK_INITIATE',
        parse('BatchServiceAIFeedbackInitiateCommandDataV1', { ...base, course_code: 'ENG5', class_type: 'GUEST', owner_user_id: 'owner-9' }),
      );
  }
}

/** One sample event of every type (for the generated refusal table). */
const SAMPLE_EVENTS: Record<BatchTrackerEventType, () => BatchTrackerEvent> = {
  REGISTERED: () => ev('REGISTERED', data.registered(['e1'])),
  CONTENT_PROVISIONED: () => ev('CONTENT_PROVISIONED', data.content('t-new')),
  CONTENT_VALIDATION_FAILED: () => ev('CONTENT_VALIDATION_FAILED', data.failure('up-bad')),
  STUDENT_MATCHING_INITIATE: () =>
    ev(
      'STUDENT_MATCHING_INITIATE',
      parse('BatchServiceStudentMatchingInitiateCommandDataV1', { entity_id: BATCH, essays_to_process: refs('e1'), class_id: 'class-1', course_code: 'ENG5' }),
    ),
  ASSOCIATIONS_CONFIRMED: () =>
    ev(
      'ASSOCIATIONS_CONFIRMED',
      parse('StudentAssociationsConfirmedV1', {
        batch_id: BATCH,
        class_id: 'class-1',
        course_code: 'SV2',
        associations: [],
        timeout_triggered: false,
        validation_summary: {},
      }),
    ),
  SPELLCHECK_INITIATE: () => phaseCommand('spellcheck', ['e1']),
  NLP_INITIATE: () => phaseCommand('nlp', ['e1']),
  CJ_ASSESSMENT_INITIATE: () => phaseCommand('cj_assessment', ['e1']),
  AI_FEEDBACK_INITIATE: () => phaseCommand('ai_feedback', ['e1']),
  ESSAY_PHASE_RESULT: () => ev('ESSAY_PHASE_RESULT', data.result('e1', 1, 'spellcheck', true)),
  ESSAY_CRITICAL_FAILURE: () => ev('ESSAY_CRITICAL_FAILURE', data.critical('e1')),
  CJ_ASSESSMENT_COMPLETED: () =>
    ev('CJ_ASSESSMENT_COMPLETED', parse('CJAssessmentCompletedV1', { entity_id: BATCH, cj_assessment_job_id: 'job-1', processing_summary: data.summary(['e1']) })),
  CJ_ASSESSMENT_FAILED: () => ev('CJ_ASSESSMENT_FAILED', parse('CJAssessmentFailedV1', { entity_id: BATCH, cj_assessment_job_id: 'job-1' })),
  NLP_ANALYSIS_COMPLETED: () =>
    ev('NLP_ANALYSIS_COMPLETED', parse('BatchNlpAnalysisCompletedV1', { batch_id: BATCH, processing_summary: data.summary(['e1']) })),
  AI_FEEDBACK_COMPLETED: () =>
    ev('AI_FEEDBACK_COMPLETED', parse('AIFeedbackCompletedV1', { batch_id: BATCH, processing_summary: data.summary(['e1']) })),
  PHASE_CANCEL: () =>
    ev('PHASE_CANCEL', parse('BatchPhaseCancelCommandV1', { batch_id: BATCH, run_id: 1, phase_name: 'spellcheck', essay_ids: ['e1'] })),
  BATCH_CLOSED: () => closed('completed_successfully', ['e1']),
};

function closed(finalStatus: string, successful: string[], failed: string[] = []): BatchTrackerEvent {
  return ev(
    'BATCH_CLOSED',
    parse('BatchClosedV1', { batch_id: BATCH, final_status: finalStatus, successful_essay_ids: successful, failed_essay_ids: failed }),
  );
}

const cjCompleted = (successful: string[], failed: string[] = []) =>
  ev('CJ_ASSESSMENT_COMPLETED', parse('CJAssessmentCompletedV1', { entity_id: BATCH, cj_assessment_job_id: 'job-1', processing_summary: data.summary(successful, failed) }));
const cancel = (runId: number, phase: PipelinePhase, essayIds: string[]) =>
  ev('PHASE_CANCEL', parse('BatchPhaseCancelCommandV1', { batch_id: BATCH, run_id: runId, phase_name: phase, essay_ids: essayIds }));

interface Step {
  readonly snapshot: BatchTrackerSnapshot;
  readonly emitted: BatchTrackerEmitted[];
  /** Types of every action (named no-ops appear by name; emits as `xstate.emit`). */
  readonly actions: string[];
}

function start(): BatchTrackerSnapshot {
  const [snapshot] = initialTransition(batchTrackerMachine, { batch_id: BATCH });
  return snapshot;
}

/** One pure step; fails the test if a message does not match its topic's schema. */
function step(snapshot: BatchTrackerSnapshot, event: BatchTrackerEvent): Step {
  const [next, actions] = transition(batchTrackerMachine, snapshot, event);
  expect(next.status === 'error').toBe(false);
  // Held items applied on registration keep their own correlation id.
  const correlations = new Set([event.meta.correlation_id, ...snapshot.context.held.map((item) => item.meta.correlation_id)]);
  // Emitted messages are the `xstate.emit` actions, the message at `params.event`.
  const emitted = actions
    .filter((action) => (action.type as string) === 'xstate.emit')
    .map((action) => (action.params as { event: BatchTrackerEmitted }).event);
  for (const message of emitted) {
    const definition = definitionOf(message.type);
    expect(definition, message.type).toBeDefined();
    expect(() => definition?.data.parse(message.data), message.type).not.toThrow();
    expect(correlations.has(message.correlation_id), message.type).toBe(true);
    expect(message.source_service).toBe('essay_lifecycle_service');
  }
  return { snapshot: next, emitted, actions: actions.map((action) => action.type as string) };
}

/** Runs events in order; returns the last step and every message emitted on the way. */
function run(snapshot: BatchTrackerSnapshot, events: readonly BatchTrackerEvent[]): Step & { all: BatchTrackerEmitted[] } {
  let current: Step = { snapshot, emitted: [], actions: [] };
  const all: BatchTrackerEmitted[] = [];
  for (const event of events) {
    current = step(current.snapshot, event);
    all.push(...current.emitted);
  }
  return { ...current, all };
}

/** A short readable label per message: topic without prefix, plus trigger / essay where useful. */
function label(message: BatchTrackerEmitted): string {
  const topic = message.type.replace(/^huleedu\./, '');
  switch (message.type) {
    case 'huleedu.els.essay.transition.requested.v1':
      return `${message.data.trigger} ${message.data.essay_id}`;
    case 'huleedu.essay.spellcheck.requested.v1':
      return `${topic} ${message.data.entity_id}`;
    case 'huleedu.els.essay.slot.created.v1':
    case 'huleedu.els.essay.slot.assigned.v1':
    case 'huleedu.els.essay.content.failed.v1':
      return `${topic} ${message.data.essay_id}`;
    default:
      return topic;
  }
}

function only<T extends BatchTrackerEmitted['type']>(messages: readonly BatchTrackerEmitted[], type: T): Extract<BatchTrackerEmitted, { type: T }>[] {
  return messages.filter((message): message is Extract<BatchTrackerEmitted, { type: T }> => message.type === type);
}

/** A registered batch with every essay's content provisioned (state content_provisioned). */
function provisioned(essayIds: string[] = ['e1', 'e2', 'e3']): BatchTrackerSnapshot {
  const events = [ev('REGISTERED', data.registered(essayIds)), ...essayIds.map((id) => ev('CONTENT_PROVISIONED', data.content(`t-${id}`)))];
  const { snapshot } = run(start(), events);
  expect(snapshot.value).toBe('content_provisioned');
  return snapshot;
}

describe('registration and content provisioning', () => {
  test('registration creates one free slot per essay id and emits slot.created in order', () => {
    const { snapshot, emitted } = step(start(), ev('REGISTERED', data.registered(['e1', 'e2', 'e3'])));
    expect(snapshot.value).toBe('awaiting_content');
    expect(listItems(snapshot.context.slots).map((slot) => [slot.essay_id, slot.state])).toEqual([
      ['e1', 'free'],
      ['e2', 'free'],
      ['e3', 'free'],
    ]);
    expect(only(emitted, 'huleedu.els.essay.slot.created.v1').map((m) => m.data)).toEqual([
      { batch_id: BATCH, essay_id: 'e1', slot_index: 0 },
      { batch_id: BATCH, essay_id: 'e2', slot_index: 1 },
      { batch_id: BATCH, essay_id: 'e3', slot_index: 2 },
    ]);
    expect(emitted).toHaveLength(3);
    expect(snapshot.context.registration).toEqual({
      course_code: 'ENG5',
      user_id: 'teacher-1',
      org_id: 'org-1',
      class_id: 'class-1',
      student_prompt_ref: 'prompt-1',
      expected_count: 3,
    });
  });

  test('content and failures before registration are held (deduplicated) and applied in arrival order after the slots exist', () => {
    const heldCorrelation = '22222222-2222-4222-8222-222222222222';
    const before = run(start(), [
      ev('CONTENT_PROVISIONED', data.content('tA'), { correlation_id: heldCorrelation }),
      ev('CONTENT_VALIDATION_FAILED', data.failure('up-F')),
      ev('CONTENT_PROVISIONED', data.content('tA')),
      ev('CONTENT_PROVISIONED', data.content('tB')),
      ev('CONTENT_VALIDATION_FAILED', data.failure('up-F')),
    ]);
    expect(before.snapshot.value).toBe('awaiting_registration');
    expect(before.all).toEqual([]);
    expect(before.snapshot.context.held.map((item) => item.kind)).toEqual(['content', 'validation_failure', 'content']);

    const { snapshot, emitted } = step(before.snapshot, ev('REGISTERED', data.registered(['e1', 'e2', 'e3'])));
    expect(emitted.map(label)).toEqual([
      'els.essay.slot.created.v1 e1',
      'els.essay.slot.created.v1 e2',
      'els.essay.slot.created.v1 e3',
      'els.essay.slot.assigned.v1 e1',
      'els.essay.content.failed.v1 e2',
      'els.essay.slot.assigned.v1 e3',
      'batch.content.provisioning.completed.v1',
    ]);
    const [firstAssignment] = only(emitted, 'huleedu.els.essay.slot.assigned.v1');
    expect(firstAssignment?.correlation_id).toBe(heldCorrelation);
    expect(firstAssignment?.data).toEqual({
      batch_id: BATCH,
      essay_id: 'e1',
      file_upload_id: 'up-tA',
      text_storage_id: 'tA',
      original_file_name: 'tA.docx',
    });
    expect(snapshot.value).toBe('content_provisioned');
    expect(snapshot.context.held).toEqual([]);
  });

  test('the same text_storage_id twice returns the same essay: accepted no-op, no second assignment', () => {
    const first = step(step(start(), ev('REGISTERED', data.registered(['e1', 'e2']))).snapshot, ev('CONTENT_PROVISIONED', data.content('tA')));
    expect(first.emitted.map(label)).toEqual(['els.essay.slot.assigned.v1 e1']);
    const again = step(first.snapshot, ev('CONTENT_PROVISIONED', data.content('tA', 'other-upload')));
    expect(again.actions).toEqual(['ignoreDuplicateContent']);
    expect(again.emitted).toEqual([]);
    expect(again.snapshot.context).toEqual(first.snapshot.context);
    expect(listAt(again.snapshot.context.slots, mapGet(again.snapshot.context.slot_by_text, 'tA') ?? -1)?.essay_id).toBe('e1');
  });

  test('content with no free slot is excess (NO_AVAILABLE_SLOT); a known text stays a no-op after provisioning', () => {
    const { emitted, snapshot } = step(provisioned(), ev('CONTENT_PROVISIONED', data.content('t-extra')));
    expect(emitted.map((m) => m.data)).toEqual([
      { batch_id: BATCH, original_file_name: 't-extra.docx', text_storage_id: 't-extra', reason: 'NO_AVAILABLE_SLOT' },
    ]);
    expect(snapshot.value).toBe('content_provisioned');
    const known = step(snapshot, ev('CONTENT_PROVISIONED', data.content('t-e1')));
    expect(known.actions).toEqual(['ignoreDuplicateContent']);
    expect(known.emitted).toEqual([]);
  });

  test('a validation failure consumes the first free slot; the same upload failing again is a no-op', () => {
    const registered = step(start(), ev('REGISTERED', data.registered(['e1', 'e2']))).snapshot;
    const failed = step(registered, ev('CONTENT_VALIDATION_FAILED', data.failure('up-X')));
    expect(failed.emitted.map((m) => m.data)).toEqual([
      { batch_id: BATCH, essay_id: 'e1', file_upload_id: 'up-X', original_file_name: 'up-X.pdf', validation_error_code: 'EMPTY_CONTENT' },
    ]);
    expect(listAt(failed.snapshot.context.slots, 0)?.state).toBe('failed');
    const again = step(failed.snapshot, ev('CONTENT_VALIDATION_FAILED', data.failure('up-X')));
    expect(again.actions).toEqual(['ignoreDuplicateValidationFailure']);
    expect(again.snapshot.context).toEqual(failed.snapshot.context);
    const assigned = step(again.snapshot, ev('CONTENT_PROVISIONED', data.content('tB')));
    expect(assigned.emitted.map(label)).toEqual(['els.essay.slot.assigned.v1 e2', 'batch.content.provisioning.completed.v1']);
  });

  test('provisioning completed is emitted exactly once, with assigned count, registered count and essays in slot order', () => {
    const { all, snapshot } = run(start(), [
      ev('REGISTERED', data.registered(['e1', 'e2', 'e3'], { course_code: 'SV1' })),
      ev('CONTENT_PROVISIONED', data.content('tA')),
      ev('CONTENT_VALIDATION_FAILED', data.failure('up-bad')),
      ev('CONTENT_PROVISIONED', data.content('tC')),
      ev('CONTENT_PROVISIONED', data.content('tD')),
      ev('CONTENT_VALIDATION_FAILED', data.failure('up-late')),
    ]);
    const completions = only(all, 'huleedu.batch.content.provisioning.completed.v1');
    expect(completions.map((m) => m.data)).toEqual([
      {
        batch_id: BATCH,
        provisioned_count: 2,
        expected_count: 3,
        course_code: 'SV1',
        user_id: 'teacher-1',
        essays_for_processing: [
          { essay_id: 'e1', text_storage_id: 'tA' },
          { essay_id: 'e3', text_storage_id: 'tC' },
        ],
      },
    ]);
    expect(snapshot.value).toBe('content_provisioned');
  });

  test('when every file fails the batch ends in no_usable_content, still emitting completion with an empty list', () => {
    const { all, snapshot } = run(start(), [
      ev('REGISTERED', data.registered(['e1', 'e2'])),
      ev('CONTENT_VALIDATION_FAILED', data.failure('up-1')),
      ev('CONTENT_VALIDATION_FAILED', data.failure('up-2')),
    ]);
    expect(snapshot.value).toBe('no_usable_content');
    expect(snapshot.status).toBe('done');
    expect(only(all, 'huleedu.batch.content.provisioning.completed.v1').map((m) => m.data)).toEqual([
      { batch_id: BATCH, provisioned_count: 0, expected_count: 2, course_code: 'ENG5', user_id: 'teacher-1', essays_for_processing: [] },
    ]);
  });

  test('a second registration is an accepted no-op while awaiting content and after provisioning', () => {
    const awaiting = step(start(), ev('REGISTERED', data.registered(['e1', 'e2']))).snapshot;
    for (const snapshot of [awaiting, provisioned()]) {
      const again = step(snapshot, ev('REGISTERED', data.registered(['x1', 'x2', 'x3'])));
      expect(again.actions).toEqual(['ignoreDuplicateRegistration']);
      expect(again.snapshot.context).toEqual(snapshot.context);
      expect(again.snapshot.value).toBe(snapshot.value);
    }
  });

  test('validation failures after provisioning are accepted and ignored', () => {
    const late = step(provisioned(), ev('CONTENT_VALIDATION_FAILED', data.failure('up-late')));
    expect(late.actions).toEqual(['ignoreLateValidationFailure']);
    expect(late.emitted).toEqual([]);
  });
});

describe('student matching and readiness (REGULAR batches)', () => {
  test('the student-matching command becomes one matching request; a repeat is a no-op', () => {
    const first = step(provisioned(), SAMPLE_EVENTS.STUDENT_MATCHING_INITIATE());
    expect(first.emitted.map((m) => [m.type, m.data])).toEqual([
      [
        'huleedu.batch.student.matching.requested.v1',
        { batch_id: BATCH, entity_id: BATCH, essays_to_process: refs('e1'), class_id: 'class-1', course_code: 'ENG5' },
      ],
    ]);
    const again = step(first.snapshot, SAMPLE_EVENTS.STUDENT_MATCHING_INITIATE());
    expect(again.actions).toEqual(['ignoreDuplicateMatchingCommand']);
    expect(again.emitted).toEqual([]);
  });

  test('confirmed associations produce BatchEssaysReady once, with course_language derived from the course code', () => {
    const svBatch = run(start(), [
      ev('REGISTERED', data.registered(['e1', 'e2'], { course_code: 'SV2', student_prompt_ref: null })),
      ev('CONTENT_PROVISIONED', data.content('tA')),
      ev('CONTENT_PROVISIONED', data.content('tB')),
    ]).snapshot;
    const first = step(svBatch, SAMPLE_EVENTS.ASSOCIATIONS_CONFIRMED());
    expect(first.emitted.map((m) => m.data)).toEqual([
      {
        event: 'batch.essays.ready',
        batch_id: BATCH,
        ready_essays: [
          { essay_id: 'e1', text_storage_id: 'tA' },
          { essay_id: 'e2', text_storage_id: 'tB' },
        ],
        course_code: 'SV2',
        course_language: 'sv',
        student_prompt_ref: null,
        class_type: 'REGULAR',
      },
    ]);
    const again = step(first.snapshot, SAMPLE_EVENTS.ASSOCIATIONS_CONFIRMED());
    expect(again.actions).toEqual(['ignoreDuplicateConfirmation']);
    expect(again.emitted).toEqual([]);
  });
});

describe('phase commands', () => {
  const serviceRequests: Record<PipelinePhase, string[]> = {
    spellcheck: ['essay.spellcheck.requested.v1 e1', 'essay.spellcheck.requested.v1 e2', 'essay.spellcheck.requested.v1 e3'],
    nlp: ['batch.nlp.processing.requested.v2'],
    cj_assessment: ['els.cj_assessment.requested.v1'],
    ai_feedback: ['batch.ai_feedback.processing.requested.v1'],
  };
  const suffix: Record<PipelinePhase, string> = { spellcheck: 'SPELLCHECK', nlp: 'NLP', cj_assessment: 'CJ_ASSESSMENT', ai_feedback: 'AI_FEEDBACK' };

  test.each(['spellcheck', 'nlp', 'cj_assessment', 'ai_feedback'] as const)(
    '%s: CMD_INITIATE per essay, then the service request(s), then STARTED per essay, all with the run id',
    (phase) => {
      const { emitted, snapshot } = step(provisioned(), phaseCommand(phase, ['e1', 'e2', 'e3'], 4));
      const essays = ['e1', 'e2', 'e3'];
      expect(emitted.map(label)).toEqual([
        ...essays.map((id) => `CMD_INITIATE_${suffix[phase]} ${id}`),
        ...serviceRequests[phase],
        ...essays.map((id) => `EVT_${suffix[phase]}_STARTED ${id}`),
      ]);
      for (const message of emitted) expect((message.data as { run_id?: number }).run_id).toBe(4);
      const [firstCommand] = only(emitted, 'huleedu.els.essay.transition.requested.v1');
      expect(firstCommand?.data).toEqual({ essay_id: 'e1', batch_id: BATCH, trigger: `CMD_INITIATE_${suffix[phase]}`, run_id: 4, text_storage_id: 't-e1' });
      expect(snapshot.context.aggregations[`4:${phase}`]).toMatchObject({ run_id: 4, phase, pending_count: 3, concluded: false });
      expect(snapshot.context.open_by_phase[phase]).toBe(`4:${phase}`);
    },
  );

  test('service requests carry the command, the registration and the run id', () => {
    const snapshot = provisioned(['e1']);
    const at = (event: BatchTrackerEvent) => step(snapshot, event).emitted.filter((m) => m.type !== 'huleedu.els.essay.transition.requested.v1').map((m) => m.data);
    expect(at(phaseCommand('spellcheck', ['e1'], 1))).toEqual([
      { event_name: 'essay.spellcheck.requested', entity_id: 'e1', parent_id: BATCH, status: 'awaiting_spellcheck', text_storage_id: 't-e1', language: 'en', run_id: 1 },
    ]);
    expect(at(phaseCommand('nlp', ['e1'], 1))).toEqual([
      { batch_id: BATCH, essays_to_process: refs('e1'), language: 'en', student_prompt_ref: 'prompt-1', run_id: 1 },
    ]);
    expect(at(phaseCommand('cj_assessment', ['e1'], 1))).toEqual([
      {
        entity_id: BATCH,
        essays_for_cj: refs('e1'),
        language: 'en',
        course_code: 'ENG5',
        student_prompt_ref: 'prompt-1',
        assignment_id: 'assign-7',
        user_id: 'teacher-1',
        org_id: 'org-1',
        run_id: 1,
      },
    ]);
    expect(at(phaseCommand('ai_feedback', ['e1'], 1))).toEqual([
      {
        batch_id: BATCH,
        essays_to_process: refs('e1'),
        language: 'en',
        course_code: 'ENG5',
        student_prompt_ref: 'prompt-1',
        class_type: 'GUEST',
        owner_user_id: 'owner-9',
        run_id: 1,
      },
    ]);
  });

  test('a command without run_id gets one more than the highest run seen', () => {
    const first = step(provisioned(), phaseCommand('spellcheck', ['e1'], 7));
    const second = step(first.snapshot, phaseCommand('nlp', ['e1']));
    expect(only(second.emitted, 'huleedu.batch.nlp.processing.requested.v2')[0]?.data.run_id).toBe(8);
    expect(second.snapshot.context.highest_run_id).toBe(8);
  });

  test('a duplicate phase command (same run, or no run id while the phase is in flight) starts nothing', () => {
    const first = step(provisioned(), phaseCommand('cj_assessment', ['e1', 'e2'], 2));
    const sameRun = step(first.snapshot, phaseCommand('cj_assessment', ['e1', 'e2'], 2));
    expect(sameRun.actions).toEqual(['ignoreDuplicatePhaseCommand']);
    expect(sameRun.emitted).toEqual([]);
    expect(sameRun.snapshot.context).toEqual(first.snapshot.context);

    const unnumbered = step(provisioned(), phaseCommand('spellcheck', ['e1']));
    const redelivered = step(unnumbered.snapshot, phaseCommand('spellcheck', ['e1']));
    expect(redelivered.actions).toEqual(['ignoreDuplicatePhaseCommand']);
    expect(redelivered.emitted).toEqual([]);
  });
});

describe('phase aggregation', () => {
  const spellchecking = () => step(provisioned(), phaseCommand('spellcheck', ['e1', 'e2', 'e3'], 1)).snapshot;
  const result = (essayId: string, succeeded: boolean, runId = 1, phase: PipelinePhase = 'spellcheck') =>
    ev('ESSAY_PHASE_RESULT', data.result(essayId, runId, phase, succeeded));

  test('results ok, fail, ok conclude once as completed_with_failures with the output text ids and the failed id', () => {
    const s = spellchecking();
    const first = step(s, result('e1', true));
    const second = step(first.snapshot, result('e2', false));
    expect([...first.emitted, ...second.emitted]).toEqual([]);
    expect(second.snapshot.context.aggregations['1:spellcheck']?.pending_count).toBe(1);
    const last = step(second.snapshot, result('e3', true));
    expect(last.emitted.map((m) => m.data)).toEqual([
      {
        batch_id: BATCH,
        phase_name: 'spellcheck',
        phase_status: 'completed_with_failures',
        processed_essays: [
          { essay_id: 'e1', text_storage_id: 'out-e1' },
          { essay_id: 'e3', text_storage_id: 'out-e3' },
        ],
        failed_essay_ids: ['e2'],
        run_id: 1,
      },
    ]);
    // Concluded: compacted to its summary; the per-essay sets (and their context parts) are gone.
    const concluded = last.snapshot.context.aggregations['1:spellcheck'];
    expect(concluded).toMatchObject({ concluded: true, pending_count: 0, summary: { phase_status: 'completed_with_failures', processed_count: 2, failed_count: 1 } });
    expect([concluded?.pending.parts, concluded?.processed.parts, concluded?.failed.parts]).toEqual([[], [], []]);
  });

  test('all results failed conclude as failed_critically; all succeeded as completed_successfully', () => {
    const failed = run(spellchecking(), [result('e1', false), result('e2', false), result('e3', false)]);
    expect(only(failed.all, 'huleedu.els.batch.phase.outcome.v1').map((m) => [m.data.phase_status, m.data.processed_essays, m.data.failed_essay_ids])).toEqual([
      ['failed_critically', [], ['e1', 'e2', 'e3']],
    ]);
    const succeeded = run(spellchecking(), [result('e1', true), result('e2', true), result('e3', true)]);
    expect(only(succeeded.all, 'huleedu.els.batch.phase.outcome.v1').map((m) => m.data.phase_status)).toEqual(['completed_successfully']);
  });

  test('a duplicate result is a stale no-op and never produces a second outcome', () => {
    const s = spellchecking();
    const mid = step(s, result('e1', true));
    const dup = step(mid.snapshot, result('e1', false));
    expect(dup.actions).toEqual(['ignoreStaleResult']);
    expect(dup.snapshot.context).toEqual(mid.snapshot.context);
    const done = run(dup.snapshot, [result('e2', true), result('e3', true), result('e3', true), result('e1', true)]);
    expect(only(done.all, 'huleedu.els.batch.phase.outcome.v1')).toHaveLength(1);
    expect(done.actions).toEqual(['ignoreStaleResult']);
  });

  test('results of run 1 do not count for run 2 of the same phase', () => {
    const run1 = run(provisioned(), [phaseCommand('nlp', ['e1', 'e2'], 1), result('e1', true, 1, 'nlp'), result('e2', true, 1, 'nlp')]);
    expect(only(run1.all, 'huleedu.els.batch.phase.outcome.v1').map((m) => m.data.run_id)).toEqual([1]);
    const run2 = run(run1.snapshot, [phaseCommand('nlp', ['e1', 'e2'], 2), result('e1', true, 1, 'nlp'), result('e2', true, 1, 'nlp')]);
    expect(only(run2.all, 'huleedu.els.batch.phase.outcome.v1')).toEqual([]);
    expect(run2.snapshot.context.aggregations['2:nlp']?.pending_count).toBe(2);
    const finish = run(run2.snapshot, [result('e1', true, 2, 'nlp'), result('e2', false, 2, 'nlp')]);
    expect(only(finish.all, 'huleedu.els.batch.phase.outcome.v1').map((m) => [m.data.run_id, m.data.phase_status])).toEqual([
      [2, 'completed_with_failures'],
    ]);
  });

  test('a critical failure of a pending essay counts as failed and may conclude the phase', () => {
    const mid = run(spellchecking(), [result('e1', true), result('e2', true)]);
    const crit = step(mid.snapshot, ev('ESSAY_CRITICAL_FAILURE', data.critical('e3')));
    expect(crit.emitted.map((m) => m.data)).toEqual([
      expect.objectContaining({ phase_status: 'completed_with_failures', failed_essay_ids: ['e3'], run_id: 1 }),
    ]);
    const lateResult = step(crit.snapshot, result('e3', true));
    expect(lateResult.actions).toEqual(['ignoreStaleResult']);
  });

  test('a critical essay is left out of the next command (straight to failed); all critical concludes at once', () => {
    const crit = step(provisioned(), ev('ESSAY_CRITICAL_FAILURE', data.critical('e2'))).snapshot;
    const cmd = step(crit, phaseCommand('cj_assessment', ['e1', 'e2', 'e3'], 1));
    expect(cmd.emitted.map(label)).toEqual([
      'CMD_INITIATE_CJ_ASSESSMENT e1',
      'CMD_INITIATE_CJ_ASSESSMENT e3',
      'els.cj_assessment.requested.v1',
      'EVT_CJ_ASSESSMENT_STARTED e1',
      'EVT_CJ_ASSESSMENT_STARTED e3',
    ]);
    expect(only(cmd.emitted, 'huleedu.els.cj_assessment.requested.v1')[0]?.data.essays_for_cj.map((e) => e.essay_id)).toEqual(['e1', 'e3']);
    expect(cmd.snapshot.context.aggregations['1:cj_assessment']).toMatchObject({ pending_count: 2 });
    expect(listItems(cmd.snapshot.context.aggregations['1:cj_assessment']!.failed)).toEqual(['e2']);

    const allCritical = step(crit, phaseCommand('nlp', ['e2'], 2));
    expect(allCritical.emitted.map((m) => [m.type, m.data])).toEqual([
      [
        'huleedu.els.batch.phase.outcome.v1',
        { batch_id: BATCH, phase_name: 'nlp', phase_status: 'failed_critically', processed_essays: [], failed_essay_ids: ['e2'], run_id: 2 },
      ],
    ]);
  });

  test('CJ completed fans out SUCCEEDED / FAILED (missing ids fail) with the run id; a duplicate is a no-op; essay results conclude', () => {
    const cj = step(provisioned(), phaseCommand('cj_assessment', ['e1', 'e2', 'e3'], 3)).snapshot;
    const fan = step(cj, cjCompleted(['e1'], ['e2']));
    expect(fan.emitted.map((m) => m.data)).toEqual([
      { essay_id: 'e1', batch_id: BATCH, trigger: 'EVT_CJ_ASSESSMENT_SUCCEEDED', run_id: 3 },
      { essay_id: 'e2', batch_id: BATCH, trigger: 'EVT_CJ_ASSESSMENT_FAILED', run_id: 3, reason: 'failed' },
      { essay_id: 'e3', batch_id: BATCH, trigger: 'EVT_CJ_ASSESSMENT_FAILED', run_id: 3, reason: 'missing from result' },
    ]);
    const dup = step(fan.snapshot, cjCompleted(['e1', 'e2', 'e3']));
    expect(dup.actions).toEqual(['ignoreStaleBatchResult']);
    expect(dup.emitted).toEqual([]);
    const done = run(dup.snapshot, [result('e1', true, 3, 'cj_assessment'), result('e2', false, 3, 'cj_assessment'), result('e3', false, 3, 'cj_assessment')]);
    expect(only(done.all, 'huleedu.els.batch.phase.outcome.v1').map((m) => m.data.phase_status)).toEqual(['completed_with_failures']);
  });

  test('CJ failed fails every pending CJ essay; later CJ results are stale', () => {
    const cj = run(provisioned(), [phaseCommand('cj_assessment', ['e1', 'e2'], 1), result('e1', true, 1, 'cj_assessment')]).snapshot;
    const failed = step(cj, SAMPLE_EVENTS.CJ_ASSESSMENT_FAILED());
    expect(failed.emitted.map((m) => m.data)).toEqual([
      { essay_id: 'e2', batch_id: BATCH, trigger: 'EVT_CJ_ASSESSMENT_FAILED', run_id: 1, reason: 'cj assessment failed' },
    ]);
    expect(step(failed.snapshot, cjCompleted(['e2'])).actions).toEqual(['ignoreStaleBatchResult']);
  });

  test('NLP and AI feedback results fan out to their own phase only', () => {
    const both = run(provisioned(['e1', 'e2']), [phaseCommand('nlp', ['e1', 'e2'], 1), phaseCommand('ai_feedback', ['e1', 'e2'], 1)]).snapshot;
    const nlp = step(both, SAMPLE_EVENTS.NLP_ANALYSIS_COMPLETED());
    expect(nlp.emitted.map(label)).toEqual(['EVT_NLP_SUCCEEDED e1', 'EVT_NLP_FAILED e2']);
    const ai = step(nlp.snapshot, SAMPLE_EVENTS.AI_FEEDBACK_COMPLETED());
    expect(ai.emitted.map(label)).toEqual(['EVT_AI_FEEDBACK_SUCCEEDED e1', 'EVT_AI_FEEDBACK_FAILED e2']);
    expect(step(ai.snapshot, SAMPLE_EVENTS.CJ_ASSESSMENT_COMPLETED()).actions).toEqual(['ignoreStaleBatchResult']);
  });

  test('a cancelled phase never emits an outcome; cancelling an unknown phase is a no-op', () => {
    const s = spellchecking();
    const cancelled = step(s, cancel(1, 'spellcheck', ['e1', 'e2', 'e3']));
    expect(cancelled.emitted).toEqual([]);
    expect(cancelled.snapshot.context.aggregations['1:spellcheck']?.cancelled).toBe(true);
    const rest = run(cancelled.snapshot, [result('e1', true), result('e2', true), result('e3', true)]);
    expect(rest.all).toEqual([]);
    expect(rest.actions).toEqual(['ignoreStaleResult']);
    const unknown = step(s, cancel(9, 'nlp', []));
    expect(unknown.actions).toEqual(['ignoreUnknownPhaseCancel']);
    expect(unknown.snapshot.context).toEqual(s.context);
  });
});

describe('closing', () => {
  test('a successful close emits CMD_MARK_PIPELINE_COMPLETE for successful, non-critical essays only', () => {
    const crit = step(provisioned(), ev('ESSAY_CRITICAL_FAILURE', data.critical('e3'))).snapshot;
    const { snapshot, emitted } = step(crit, closed('completed_with_failures', ['e1', 'e3'], ['e2']));
    expect(snapshot.value).toBe('closed');
    expect(snapshot.status).toBe('done');
    expect(emitted.map((m) => m.data)).toEqual([{ essay_id: 'e1', batch_id: BATCH, trigger: 'CMD_MARK_PIPELINE_COMPLETE' }]);
  });

  test('a cancelled or failed close marks no essay complete', () => {
    for (const status of ['cancelled', 'failed_critically']) {
      const { snapshot, emitted } = step(provisioned(), closed(status, ['e1']));
      expect(snapshot.value).toBe('closed');
      expect(emitted).toEqual([]);
    }
  });

  test('a tracker closes from awaiting_registration and awaiting_content too', () => {
    expect(step(start(), closed('cancelled', [])).snapshot.value).toBe('closed');
    const awaiting = step(start(), ev('REGISTERED', data.registered(['e1']))).snapshot;
    expect(step(awaiting, closed('cancelled', [])).snapshot.value).toBe('closed');
  });
});

describe('refusals', () => {
  function fixture(state: BatchTrackerState): BatchTrackerSnapshot {
    switch (state) {
      case 'awaiting_registration':
        return start();
      case 'awaiting_content':
        return step(start(), ev('REGISTERED', data.registered(['e1', 'e2']))).snapshot;
      case 'content_provisioned':
        return provisioned();
      case 'no_usable_content':
        return run(start(), [ev('REGISTERED', data.registered(['e1'])), ev('CONTENT_VALIDATION_FAILED', data.failure('up-1'))]).snapshot;
      case 'closed':
        return step(start(), closed('cancelled', [])).snapshot;
    }
  }
  const acceptedIn = (state: BatchTrackerState) => new Set(Object.keys(batchTrackerMachine.root.states[state]?.on ?? {}));

  test('the accepted event types per state are exactly the designed table', () => {
    expect(Object.keys(batchTrackerMachine.root.states)).toEqual([...BATCH_TRACKER_STATES]);
    const table = Object.fromEntries(BATCH_TRACKER_STATES.map((state) => [state, [...acceptedIn(state)].sort()]));
    expect(table).toEqual({
      awaiting_registration: ['BATCH_CLOSED', 'CONTENT_PROVISIONED', 'CONTENT_VALIDATION_FAILED', 'REGISTERED'],
      awaiting_content: ['BATCH_CLOSED', 'CONTENT_PROVISIONED', 'CONTENT_VALIDATION_FAILED', 'ESSAY_CRITICAL_FAILURE', 'REGISTERED'],
      content_provisioned: [...BATCH_TRACKER_EVENT_TYPES].sort(),
      no_usable_content: [],
      closed: [],
    });
    for (const state of BATCH_TRACKER_STATES) {
      for (const type of acceptedIn(state)) expect(BATCH_TRACKER_EVENT_TYPES as readonly string[]).toContain(type);
    }
  });

  const refusals = BATCH_TRACKER_STATES.flatMap((state) =>
    BATCH_TRACKER_EVENT_TYPES.filter((type) => !acceptedIn(state).has(type)).map((type) => [state, type] as const),
  );

  test('every refusal case is generated (13 + 12 + 0 + 17 + 17)', () => {
    expect(refusals).toHaveLength(59);
  });

  test.each(refusals)('%s refuses %s: snapshot unchanged, no actions', (state, type) => {
    const snapshot = fixture(state);
    expect(snapshot.value).toBe(state);
    const event = SAMPLE_EVENTS[type]();
    expect(snapshot.can(event)).toBe(false);
    const [next, actions] = transition(batchTrackerMachine, snapshot, event);
    expect(next).toBe(snapshot);
    expect(actions).toEqual([]);
    expect(explainTrackerGuard(snapshot, event)).toBeUndefined();
  });
});

describe('persistence', () => {
  const script: BatchTrackerEvent[] = [
    ev('CONTENT_PROVISIONED', data.content('t-e1')),
    ev('REGISTERED', data.registered(['e1', 'e2', 'e3'])),
    ev('CONTENT_VALIDATION_FAILED', data.failure('up-bad')),
    ev('CONTENT_PROVISIONED', data.content('t-e3')),
    SAMPLE_EVENTS.STUDENT_MATCHING_INITIATE(),
    SAMPLE_EVENTS.ASSOCIATIONS_CONFIRMED(),
    phaseCommand('spellcheck', ['e1', 'e3'], 1),
    ev('ESSAY_PHASE_RESULT', data.result('e1', 1, 'spellcheck', true)),
    ev('ESSAY_CRITICAL_FAILURE', data.critical('e3')),
    phaseCommand('cj_assessment', ['e1', 'e3'], 1),
    cjCompleted(['e1']),
    ev('ESSAY_PHASE_RESULT', data.result('e1', 1, 'cj_assessment', true)),
    closed('completed_successfully', ['e1']),
  ];

  function roundTrip(snapshot: BatchTrackerSnapshot): BatchTrackerSnapshot {
    const persisted = JSON.parse(JSON.stringify(batchTrackerMachine.getPersistedSnapshot(snapshot))) as {
      value: BatchTrackerState;
      context: BatchTrackerSnapshot['context'];
    };
    return batchTrackerMachine.resolveState({ value: persisted.value, context: persisted.context });
  }

  test('a JSON round trip at every visited state restores a snapshot that continues identically', () => {
    const snapshots: BatchTrackerSnapshot[] = [start()];
    const emittedPerStep: BatchTrackerEmitted[][] = [];
    for (const event of script) {
      const next = step(snapshots.at(-1)!, event);
      snapshots.push(next.snapshot);
      emittedPerStep.push(next.emitted);
    }
    expect(new Set(snapshots.map((s) => s.value))).toEqual(
      new Set(['awaiting_registration', 'awaiting_content', 'content_provisioned', 'closed']),
    );
    snapshots.forEach((original, index) => {
      let restored = roundTrip(original);
      expect(restored.value).toEqual(original.value);
      expect(restored.status).toBe(original.status);
      expect(restored.context).toEqual(original.context);
      script.slice(index).forEach((event, offset) => {
        const next = step(restored, event);
        expect(next.emitted).toEqual(emittedPerStep[index + offset]);
        expect(next.snapshot.context).toEqual(snapshots[index + offset + 1]?.context);
        expect(next.snapshot.value).toEqual(snapshots[index + offset + 1]?.value);
        restored = next.snapshot;
      });
    });
  });

  test('the lifecycle descriptor names the machine, its version and no parent', () => {
    expect(batchTrackerLifecycle.id).toBe('batch_tracker');
    expect(batchTrackerMachine.id).toBe('batch_tracker');
    expect(batchTrackerLifecycle.version).toBe(2);
    expect(batchTrackerLifecycle.parentOf?.(start())).toBeNull();
  });
});

describe('context helpers', () => {
  const registeredContext = () => step(start(), ev('REGISTERED', data.registered(['e1']))).snapshot.context;

  test('ids that name Object.prototype members are plain keys, never inherited matches', () => {
    const context = registeredContext();
    expect(isKnownText(context, 'constructor')).toBe(false);
    expect(isKnownText(context, '__proto__')).toBe(false);
    const { aggregation } = newAggregation(1, 'spellcheck', [{ essay_id: '__proto__', text_storage_id: 't' }], {});
    expect(mapKeys(aggregation.pending)).toEqual(['__proto__']);
    const settled = settleEssay(aggregation, '__proto__', null);
    expect([mapKeys(settled.pending), settled.pending_count, listItems(settled.failed)]).toEqual([[], 0, ['__proto__']]);
  });

  test('newAggregation counts duplicate commanded essays once and sends critical ones straight to failed', () => {
    const { aggregation, pending } = newAggregation(2, 'nlp', [...refs('a', 'b', 'a', 'c')], { c: true });
    expect(pending.map((e) => e.essay_id)).toEqual(['a', 'b']);
    expect(aggregation).toMatchObject({ run_id: 2, phase: 'nlp', pending_count: 2 });
    expect([mapKeys(aggregation.pending).sort(), listItems(aggregation.failed)]).toEqual([['a', 'b'], ['c']]);
  });

  test('phaseOutcomeStatus: all, some or none succeeded', () => {
    const { aggregation } = newAggregation(1, 'spellcheck', refs('a', 'b'), {});
    const ok = settleEssay(settleEssay(aggregation, 'a', 'ta'), 'b', 'tb');
    const mixed = settleEssay(settleEssay(aggregation, 'a', 'ta'), 'b', null);
    const none = settleEssay(settleEssay(aggregation, 'a', null), 'b', null);
    expect([ok, mixed, none].map(phaseOutcomeStatus)).toEqual(['completed_successfully', 'completed_with_failures', 'failed_critically']);
    expect(listItems(ok.processed)).toEqual([
      { essay_id: 'a', text_storage_id: 'ta' },
      { essay_id: 'b', text_storage_id: 'tb' },
    ]);
  });

  test('holdItem keeps arrival order and drops repeats of the same text or upload', () => {
    const m = meta();
    let context = initialTrackerContext({ batch_id: BATCH });
    context = holdItem(context, { kind: 'content', data: data.content('t1'), meta: m });
    context = holdItem(context, { kind: 'validation_failure', data: data.failure('u1'), meta: m });
    context = holdItem(context, { kind: 'content', data: data.content('t1', 'another-upload'), meta: m });
    context = holdItem(context, { kind: 'validation_failure', data: data.failure('u1'), meta: m });
    expect(context.held.map((item) => item.kind)).toEqual(['content', 'validation_failure']);
  });
});
