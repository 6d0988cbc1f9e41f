/**
 * Samples of the batch machine: two seeds (GUEST without a class, REGULAR with one), a vertex key
 * of the facts its guards read, and the events a batch can receive, with the sample admission
 * policy that denies one user.
 */
import type { AnyMachineSnapshot, EventObject } from 'xstate';
import { BATCH_EVENT_TOPICS, batchLifecycleOf, createBatchMachine, type BatchContext, type BatchMachineOptions } from '../../../machines/batch/index.js';
import { LifecycleEvents } from '../../../machines/contracts/events.js';
import type { LifecycleMachine } from '../../../machines/lifecycle-machine.js';
import type { PathSeed } from '../paths/types.js';
import {
  dispatchOf,
  envelopeOf,
  ESSAY_IDS,
  metaOf,
  refsOfEssays,
  registrationData,
  sampler,
  type ProjectSubject,
  type SampleEvent,
  type Sampler,
} from './common.js';

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

const BATCH_TOPICS = BATCH_EVENT_TOPICS;

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

type EssayRefs = ReturnType<typeof refsOfEssays>;

/** Registration, content provisioning, student associations, readiness and validation errors. */
function preparationEvents(context: BatchContext, sample: Sampler, refs: EssayRefs): EventObject[] {
  const batch_id = context.batch_id;
  const classId = context.class_id ?? 'class-1';
  const E = LifecycleEvents;
  return [
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
  ];
}

/** A retry of each phase some essay failed, by the owner and by a user the admission hook denies. */
function retryEvents(context: BatchContext, sample: Sampler): EventObject[] {
  const failed = [...new Set(context.essays.flatMap((essay) => (essay.failed_phase === null ? [] : [essay.failed_phase])))];
  return failed.flatMap((phase_name) =>
    ['teacher-1', USER_WITHOUT_CREDITS].map((user_id) =>
      sample(
        'PHASE_RETRY_REQUESTED',
        BATCH_TOPICS.PHASE_RETRY_REQUESTED,
        LifecycleEvents.ClientBatchPhaseRetryRequestV1.data.parse({ batch_id: context.batch_id, phase_name, reason: 'path test', user_id }),
        `${phase_name}/${user_id}`,
      ),
    ),
  );
}

/** Pipeline requests (one of them denied), phase retries, prompt, withdrawal, close and cancel. */
function requestEvents(context: BatchContext, sample: Sampler): EventObject[] {
  const batch_id = context.batch_id;
  const E = LifecycleEvents;
  return [
    ...[
      { requested_pipeline: 'spellcheck', phases: ['spellcheck'], user_id: 'teacher-1' },
      { requested_pipeline: 'nlp', user_id: 'teacher-1' },
      { requested_pipeline: 'nlp', user_id: USER_WITHOUT_CREDITS },
    ].map((request, variant) =>
      sample('PIPELINE_REQUESTED', BATCH_TOPICS.PIPELINE_REQUESTED, E.ClientBatchPipelineRequestV1.data.parse({ batch_id, ...request }), String(variant)),
    ),
    ...retryEvents(context, sample),
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
}

/** Phase outcomes: for the phase in flight (success, partial, failure), and a stale one. */
function phaseOutcomeEvents(context: BatchContext, sample: Sampler, refs: EssayRefs): EventObject[] {
  const batch_id = context.batch_id;
  const E = LifecycleEvents;
  const events: EventObject[] = [];
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

function batchEvents(snapshot: AnyMachineSnapshot): EventObject[] {
  const context = snapshot.context as BatchContext;
  const sample = sampler('batch', batchKey(snapshot));
  const refs = refsOfEssays(ESSAY_IDS);
  return [...preparationEvents(context, sample, refs), ...requestEvents(context, sample), ...phaseOutcomeEvents(context, sample, refs)];
}

export function batchSubject(): ProjectSubject {
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
