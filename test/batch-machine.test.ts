import { transition } from 'xstate';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  BATCH_EVENT_TYPES,
  batchMachine,
  createBatchMachine,
  explainBatchGuard,
  type AdmissionRequest,
  type BatchContext,
  type BatchEmitted,
  type BatchEmittedTopic,
  type BatchEvent,
  type BatchInput,
  type BatchMachine,
} from '../machines/batch/index.js';
import { acceptingStates, explainRefusal } from '../machines/explain.js';
import { definitionOf, type EventData } from '../machines/contracts/events.js';
import { BatchStatus } from '../machines/contracts/statuses.js';
import { jsonRoundTrip } from './support/xstate-helpers.js';
import {
  allMessages,
  at,
  BATCH,
  batchEssays,
  cancelRequested,
  CLASS,
  closeRequested,
  retryRequested,
  confirmed,
  contextWith,
  CORRELATION,
  drive,
  essaysReady,
  last,
  only,
  ofType,
  ORIGINAL,
  phaseOutcome,
  pipelineRequested,
  promptAttached,
  PROMPT,
  provisioned,
  register,
  sampleEvent,
  step,
  T0,
  USER,
  validationErrors,
  withdrawn,
  type BatchEventType,
  type BatchSnapshot,
  type EventOf,
  type Ref,
  type RegistrationOptions,
  type Step,
} from './support/batch-helpers.js';

// ---------------------------------------------------------------------------------------------
// Shared fixtures

const S = BatchStatus;
const ALL_STATES = Object.values(BatchStatus);
const FINAL_STATES: readonly BatchStatus[] = [S.CONTENT_INGESTION_FAILED, S.COMPLETED_SUCCESSFULLY, S.COMPLETED_WITH_FAILURES, S.FAILED_CRITICALLY, S.CANCELLED];
type NonFinalStatus = Exclude<BatchStatus, 'content_ingestion_failed' | 'completed_successfully' | 'completed_with_failures' | 'failed_critically' | 'cancelled'>;
const NON_FINAL_STATES = ALL_STATES.filter((state): state is NonFinalStatus => !FINAL_STATES.includes(state));

/** Minutes after T0 as an ISO timestamp. */
const T = (minutes: number): string => new Date(Date.parse(T0) + minutes * 60_000).toISOString();

const CORRECTED: readonly Ref[] = ORIGINAL.map(([id]) => [id, `corrected-${id}`] as const);
const CORRECTED_BUT_E2: readonly Ref[] = CORRECTED.filter(([id]) => id !== 'e2');
const refsOf = (list: readonly Ref[]) => list.map(([essay_id, text_storage_id]) => ({ essay_id, text_storage_id }));
const topics = (messages: readonly BatchEmitted[]): BatchEmittedTopic[] => messages.map((message) => message.type);

const SPELLCHECK_CMD = 'huleedu.els.spellcheck.initiate.command.v1';
const NLP_CMD = 'huleedu.batch.nlp.initiate.command.v2';
const CJ_CMD = 'huleedu.batch.cj_assessment.initiate.command.v1';
const AI_CMD = 'huleedu.batch.ai_feedback.initiate.command.v1';
const MATCHING_CMD = 'huleedu.batch.student.matching.initiate.command.v1';
const DENIED = 'huleedu.pipeline.denied.v1';
const SKIPPED = 'huleedu.batch.phase.skipped.v1';
const COMPLETED = 'huleedu.batch.pipeline.completed.v1';
const PHASE_CANCEL = 'huleedu.batch.phase.cancel.command.v1';
const CLOSED = 'huleedu.batch.closed.v1';

const ALL_TOPICS: readonly BatchEmittedTopic[] = [SPELLCHECK_CMD, NLP_CMD, CJ_CMD, AI_CMD, MATCHING_CMD, DENIED, SKIPPED, COMPLETED, PHASE_CANCEL, CLOSED];

// Contexts for `resolveState` (table and refusal tests).
const GUEST = contextWith();
const REGULAR = contextWith({}, { class_id: CLASS });
const REGULAR_PROVISIONED: BatchContext = { ...REGULAR, essays: batchEssays() };
const REGULAR_ESSAYS_READY: BatchContext = { ...REGULAR_PROVISIONED, essays_ready: true };
const REGULAR_HUMAN: BatchContext = { ...REGULAR_PROVISIONED, associations: { method: 'human', confirmed_at: T0 } };
const REGULAR_TIMEOUT: BatchContext = { ...REGULAR_PROVISIONED, associations: { method: 'timeout', confirmed_at: T0 } };
const READY = contextWith({ essays: batchEssays(), student_prompt_ref: PROMPT });
const READY_NO_PROMPT = contextWith({ essays: batchEssays() });
const READY_WITH_FAILURE: BatchContext = {
  ...READY,
  essays: [
    { essay_id: 'e1', text_storage_id: 'corrected-e1', failed_phase: null },
    { essay_id: 'e2', text_storage_id: 'text-e2', failed_phase: 'spellcheck' },
    { essay_id: 'e3', text_storage_id: 'corrected-e3', failed_phase: null },
  ],
  phase_history: { spellcheck: 'completed_with_partial_success' },
};
const PARKED: BatchContext = {
  ...READY_NO_PROMPT,
  parked: { requested_pipeline: 'nlp', phases: ['spellcheck', 'nlp'], skipped: [], user_id: USER },
};
const PROCESSING_SPELLCHECK = step(at(S.READY_FOR_PIPELINE_EXECUTION, READY), pipelineRequested('nlp')).snapshot.context;
const PROCESSING_NLP = step(at(S.PROCESSING_PIPELINES, PROCESSING_SPELLCHECK), phaseOutcome('spellcheck', 'completed_successfully', CORRECTED))
  .snapshot.context;

/** The context each state is put in when no row asks for another. */
const DEFAULT_CONTEXT: Record<BatchStatus, BatchContext> = {
  awaiting_content_validation: GUEST,
  content_ingestion_failed: { ...GUEST, final_reason: 'content provisioning completed with no usable essay' },
  awaiting_pipeline_configuration: PARKED,
  ready_for_pipeline_execution: READY,
  processing_pipelines: PROCESSING_SPELLCHECK,
  awaiting_student_validation: REGULAR_PROVISIONED,
  student_validation_completed: REGULAR_HUMAN,
  validation_timeout_processed: REGULAR_TIMEOUT,
  completed_successfully: READY,
  completed_with_failures: READY_WITH_FAILURE,
  failed_critically: { ...READY, final_reason: 'critical validation failure (BatchValidationErrorsV1)' },
  cancelled: { ...READY, final_reason: 'cancelled by user' },
};

const atDefault = (state: BatchStatus): BatchSnapshot => at(state, DEFAULT_CONTEXT[state]);

/** Registers, then drives; returns every snapshot (registration first) and every step. */
function scenario(options: RegistrationOptions, events: readonly BatchEvent[], machine: BatchMachine = batchMachine) {
  const start = register(options, {}, machine);
  const steps = drive(start.snapshot, events, machine);
  return {
    start,
    steps,
    snapshots: [start.snapshot, ...steps.map((s) => s.snapshot)],
    statuses: [start.snapshot.value, ...steps.map((s) => s.snapshot.value)],
    final: last(start.snapshot, steps),
    messages: [...start.messages, ...allMessages(steps)],
  };
}

// ---------------------------------------------------------------------------------------------
// 1. Every BatchStatus is a state, and each is reachable

const spellcheckOk = phaseOutcome('spellcheck', 'completed_successfully', CORRECTED, { run_id: 1 });
const spellcheckE2Failed = phaseOutcome('spellcheck', 'completed_with_failures', CORRECTED_BUT_E2, { failed: ['e2'], run_id: 1 });

interface Path {
  readonly registration: RegistrationOptions;
  readonly events: readonly BatchEvent[];
  readonly statuses: readonly BatchStatus[];
}

const PATHS: Record<string, Path> = {
  'GUEST path (prompt at registration, nlp, close)': {
    registration: { student_prompt_ref: PROMPT },
    events: [
      provisioned(),
      pipelineRequested('nlp'),
      spellcheckOk,
      phaseOutcome('nlp', 'completed_successfully', CORRECTED, { run_id: 1 }),
      closeRequested(),
    ],
    statuses: [S.AWAITING_CONTENT_VALIDATION, S.READY_FOR_PIPELINE_EXECUTION, S.PROCESSING_PIPELINES, S.PROCESSING_PIPELINES, S.READY_FOR_PIPELINE_EXECUTION, S.COMPLETED_SUCCESSFULLY],
  },
  'REGULAR human path': {
    registration: { class_id: CLASS, student_prompt_ref: PROMPT },
    events: [provisioned(), confirmed(false), essaysReady(), pipelineRequested('nlp')],
    statuses: [S.AWAITING_CONTENT_VALIDATION, S.AWAITING_STUDENT_VALIDATION, S.STUDENT_VALIDATION_COMPLETED, S.READY_FOR_PIPELINE_EXECUTION, S.PROCESSING_PIPELINES],
  },
  'REGULAR timeout path': {
    registration: { class_id: CLASS },
    events: [provisioned(), confirmed(true), essaysReady()],
    statuses: [S.AWAITING_CONTENT_VALIDATION, S.AWAITING_STUDENT_VALIDATION, S.VALIDATION_TIMEOUT_PROCESSED, S.READY_FOR_PIPELINE_EXECUTION],
  },
  'parked pipeline path (no prompt)': {
    registration: {},
    events: [provisioned(), pipelineRequested('nlp'), promptAttached()],
    statuses: [S.AWAITING_CONTENT_VALIDATION, S.READY_FOR_PIPELINE_EXECUTION, S.AWAITING_PIPELINE_CONFIGURATION, S.PROCESSING_PIPELINES],
  },
  'close with failures': {
    registration: { student_prompt_ref: PROMPT },
    events: [
      provisioned(),
      pipelineRequested('nlp'),
      spellcheckE2Failed,
      phaseOutcome('nlp', 'completed_successfully', CORRECTED_BUT_E2, { run_id: 1 }),
      closeRequested(),
    ],
    statuses: [S.AWAITING_CONTENT_VALIDATION, S.READY_FOR_PIPELINE_EXECUTION, S.PROCESSING_PIPELINES, S.PROCESSING_PIPELINES, S.READY_FOR_PIPELINE_EXECUTION, S.COMPLETED_WITH_FAILURES],
  },
  'close without failures (no pipeline ran)': {
    registration: {},
    events: [provisioned(), closeRequested()],
    statuses: [S.AWAITING_CONTENT_VALIDATION, S.READY_FOR_PIPELINE_EXECUTION, S.COMPLETED_SUCCESSFULLY],
  },
  cancel: {
    registration: { class_id: CLASS },
    events: [provisioned(), cancelRequested('wrong files')],
    statuses: [S.AWAITING_CONTENT_VALIDATION, S.AWAITING_STUDENT_VALIDATION, S.CANCELLED],
  },
  'critical failure': {
    registration: {},
    events: [validationErrors(false), provisioned(), validationErrors(true)],
    statuses: [S.AWAITING_CONTENT_VALIDATION, S.AWAITING_CONTENT_VALIDATION, S.READY_FOR_PIPELINE_EXECUTION, S.FAILED_CRITICALLY],
  },
  'no usable content': {
    registration: {},
    events: [provisioned([])],
    statuses: [S.AWAITING_CONTENT_VALIDATION, S.CONTENT_INGESTION_FAILED],
  },
};

describe('batch states', () => {
  it('every BatchStatus (all 12) is a top-level state, and there are no others', () => {
    const states = Object.keys(batchMachine.root.states);
    expect(ALL_STATES).toHaveLength(12);
    expect([...states].sort()).toEqual([...ALL_STATES].sort());
  });

  it('the final states are exactly the five terminal statuses', () => {
    const finals = Object.entries(batchMachine.root.states)
      .filter(([, node]) => node.type === 'final')
      .map(([name]) => name);
    expect(finals.sort()).toEqual([...FINAL_STATES].sort());
  });

  it('the machine takes exactly BATCH_EVENT_TYPES', () => {
    expect(new Set(batchMachine.root.events)).toEqual(new Set(BATCH_EVENT_TYPES));
  });

  it('every state has a description (documented meaning)', () => {
    for (const state of ALL_STATES) expect(batchMachine.root.states[state]?.description, state).toBeTruthy();
  });

  it.each(Object.entries(PATHS))('%s visits the expected statuses', (_name, path) => {
    const run = scenario(path.registration, path.events);
    expect(run.statuses).toEqual(path.statuses);
  });

  it('every BatchStatus is reachable from registration by one of the paths', () => {
    const visited = new Set<string>();
    for (const path of Object.values(PATHS)) for (const status of scenario(path.registration, path.events).statuses) visited.add(status);
    expect([...visited].sort()).toEqual([...ALL_STATES].sort());
  });

  it('final states are done; the others are active', () => {
    for (const path of Object.values(PATHS)) {
      for (const snapshot of scenario(path.registration, path.events).snapshots) {
        expect(snapshot.status, String(snapshot.value)).toBe(FINAL_STATES.includes(snapshot.value) ? 'done' : 'active');
      }
    }
  });

  it('registration decides GUEST vs REGULAR once, by class_id', () => {
    expect(register().snapshot.context.class_type).toBe('GUEST');
    expect(register({ class_id: CLASS }).snapshot.context.class_type).toBe('REGULAR');
    expect(register().messages).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// 2. Transition table: one case per row of the machine

interface Row {
  readonly from: BatchStatus;
  readonly type: BatchEventType;
  /** The guard of the branch taken, 'ignore' for the root no-ops, 'always' for an unguarded branch. */
  readonly branch: string;
  readonly event: BatchEvent;
  readonly to: BatchStatus;
  readonly emits: readonly BatchEmittedTopic[];
  readonly context?: BatchContext;
  readonly machine?: BatchMachine;
  readonly note?: string;
}

const denyAll = createBatchMachine({
  admission: () => ({ allowed: false, denial_reason: 'insufficient_credits', required_credits: 3, available_credits: 1 }),
});

/** Event types each state handles itself (everything else it accepts comes from the root). */
const OWN: Record<NonFinalStatus, readonly BatchEventType[]> = {
  awaiting_content_validation: ['CONTENT_PROVISIONING_COMPLETED', 'PROMPT_ATTACHED'],
  awaiting_student_validation: ['ASSOCIATIONS_CONFIRMED', 'ESSAYS_READY'],
  student_validation_completed: ['ESSAYS_READY'],
  validation_timeout_processed: ['ESSAYS_READY'],
  ready_for_pipeline_execution: ['PIPELINE_REQUESTED', 'PHASE_RETRY_REQUESTED', 'PROMPT_ATTACHED', 'CLOSE_REQUESTED'],
  awaiting_pipeline_configuration: ['PROMPT_ATTACHED', 'PIPELINE_REQUEST_WITHDRAWN'],
  processing_pipelines: ['PHASE_OUTCOME'],
};

/** Root-level no-ops (redeliveries and late events): accepted in every non-final state that does not handle them. */
const ROOT_NOOPS: readonly BatchEventType[] = ['BATCH_REGISTERED', 'CONTENT_PROVISIONING_COMPLETED', 'ASSOCIATIONS_CONFIRMED', 'ESSAYS_READY', 'PHASE_OUTCOME'];

function rootRows(from: NonFinalStatus): Row[] {
  const inFlight = from === S.PROCESSING_PIPELINES;
  const noops: Row[] = ROOT_NOOPS.filter((type) => !OWN[from].includes(type)).map((type) => ({
    from,
    type,
    branch: 'ignore',
    event: sampleEvent(type),
    to: from,
    emits: [],
  }));
  return [
    ...noops,
    { from, type: 'VALIDATION_ERRORS', branch: 'isCriticalFailure', event: validationErrors(true), to: S.FAILED_CRITICALLY, emits: inFlight ? [PHASE_CANCEL, CLOSED] : [CLOSED] },
    { from, type: 'VALIDATION_ERRORS', branch: 'always', event: validationErrors(false, 2), to: from, emits: [] },
    { from, type: 'CANCEL_REQUESTED', branch: 'always', event: cancelRequested(), to: S.CANCELLED, emits: inFlight ? [PHASE_CANCEL, CLOSED] : [CLOSED] },
  ];
}

const OWN_ROWS: Row[] = [
  // awaiting_content_validation
  { from: S.AWAITING_CONTENT_VALIDATION, type: 'CONTENT_PROVISIONING_COMPLETED', branch: 'noUsableEssays', event: provisioned([]), to: S.CONTENT_INGESTION_FAILED, emits: [] },
  { from: S.AWAITING_CONTENT_VALIDATION, type: 'CONTENT_PROVISIONING_COMPLETED', branch: 'isGuestBatch', event: provisioned(), to: S.READY_FOR_PIPELINE_EXECUTION, emits: [] },
  { from: S.AWAITING_CONTENT_VALIDATION, type: 'CONTENT_PROVISIONING_COMPLETED', branch: 'always', event: provisioned(), context: REGULAR, to: S.AWAITING_STUDENT_VALIDATION, emits: [MATCHING_CMD] },
  { from: S.AWAITING_CONTENT_VALIDATION, type: 'PROMPT_ATTACHED', branch: 'always', event: promptAttached(), to: S.AWAITING_CONTENT_VALIDATION, emits: [] },
  // awaiting_student_validation
  { from: S.AWAITING_STUDENT_VALIDATION, type: 'ASSOCIATIONS_CONFIRMED', branch: 'essaysAlreadyReady', event: confirmed(false), context: REGULAR_ESSAYS_READY, to: S.READY_FOR_PIPELINE_EXECUTION, emits: [] },
  { from: S.AWAITING_STUDENT_VALIDATION, type: 'ASSOCIATIONS_CONFIRMED', branch: 'confirmedByTimeout', event: confirmed(true), to: S.VALIDATION_TIMEOUT_PROCESSED, emits: [] },
  { from: S.AWAITING_STUDENT_VALIDATION, type: 'ASSOCIATIONS_CONFIRMED', branch: 'always', event: confirmed(false), to: S.STUDENT_VALIDATION_COMPLETED, emits: [] },
  { from: S.AWAITING_STUDENT_VALIDATION, type: 'ESSAYS_READY', branch: 'always', event: essaysReady(), to: S.AWAITING_STUDENT_VALIDATION, emits: [] },
  // student_validation_completed / validation_timeout_processed
  { from: S.STUDENT_VALIDATION_COMPLETED, type: 'ESSAYS_READY', branch: 'always', event: essaysReady(), to: S.READY_FOR_PIPELINE_EXECUTION, emits: [] },
  { from: S.VALIDATION_TIMEOUT_PROCESSED, type: 'ESSAYS_READY', branch: 'always', event: essaysReady(), to: S.READY_FOR_PIPELINE_EXECUTION, emits: [] },
  // ready_for_pipeline_execution
  { from: S.READY_FOR_PIPELINE_EXECUTION, type: 'PIPELINE_REQUESTED', branch: 'pipelineDenied', event: pipelineRequested('cj_assessment'), machine: denyAll, to: S.READY_FOR_PIPELINE_EXECUTION, emits: [DENIED] },
  { from: S.READY_FOR_PIPELINE_EXECUTION, type: 'PIPELINE_REQUESTED', branch: 'pipelineNeedsPrompt', event: pipelineRequested('nlp'), context: READY_NO_PROMPT, to: S.AWAITING_PIPELINE_CONFIGURATION, emits: [] },
  { from: S.READY_FOR_PIPELINE_EXECUTION, type: 'PIPELINE_REQUESTED', branch: 'pipelineRunnable', event: pipelineRequested('nlp'), to: S.PROCESSING_PIPELINES, emits: [SPELLCHECK_CMD] },
  { from: S.READY_FOR_PIPELINE_EXECUTION, type: 'PIPELINE_REQUESTED', branch: 'pipelineRunnable', event: pipelineRequested('cj_assessment'), context: READY_WITH_FAILURE, to: S.PROCESSING_PIPELINES, emits: [SKIPPED, CJ_CMD], note: 'with a pruned phase' },
  { from: S.READY_FOR_PIPELINE_EXECUTION, type: 'PHASE_RETRY_REQUESTED', branch: 'retryDenied', event: retryRequested('spellcheck'), context: READY_WITH_FAILURE, machine: denyAll, to: S.READY_FOR_PIPELINE_EXECUTION, emits: [DENIED] },
  { from: S.READY_FOR_PIPELINE_EXECUTION, type: 'PHASE_RETRY_REQUESTED', branch: 'retryRunnable', event: retryRequested('spellcheck', ['e2']), context: READY_WITH_FAILURE, to: S.PROCESSING_PIPELINES, emits: [SPELLCHECK_CMD] },
  { from: S.READY_FOR_PIPELINE_EXECUTION, type: 'PROMPT_ATTACHED', branch: 'always', event: promptAttached('prompt-2'), to: S.READY_FOR_PIPELINE_EXECUTION, emits: [] },
  { from: S.READY_FOR_PIPELINE_EXECUTION, type: 'CLOSE_REQUESTED', branch: 'anyEssayFailed', event: closeRequested(), context: READY_WITH_FAILURE, to: S.COMPLETED_WITH_FAILURES, emits: [CLOSED] },
  { from: S.READY_FOR_PIPELINE_EXECUTION, type: 'CLOSE_REQUESTED', branch: 'always', event: closeRequested(), to: S.COMPLETED_SUCCESSFULLY, emits: [CLOSED] },
  // awaiting_pipeline_configuration
  { from: S.AWAITING_PIPELINE_CONFIGURATION, type: 'PROMPT_ATTACHED', branch: 'always', event: promptAttached(), to: S.PROCESSING_PIPELINES, emits: [SPELLCHECK_CMD] },
  { from: S.AWAITING_PIPELINE_CONFIGURATION, type: 'PIPELINE_REQUEST_WITHDRAWN', branch: 'always', event: withdrawn(), to: S.READY_FOR_PIPELINE_EXECUTION, emits: [] },
  // processing_pipelines
  { from: S.PROCESSING_PIPELINES, type: 'PHASE_OUTCOME', branch: 'outcomeStartsNextPhase', event: spellcheckOk, to: S.PROCESSING_PIPELINES, emits: [NLP_CMD] },
  { from: S.PROCESSING_PIPELINES, type: 'PHASE_OUTCOME', branch: 'outcomeEndsPipeline', event: phaseOutcome('nlp', 'completed_successfully', CORRECTED, { run_id: 1 }), context: PROCESSING_NLP, to: S.READY_FOR_PIPELINE_EXECUTION, emits: [COMPLETED], note: 'last phase concluded' },
  { from: S.PROCESSING_PIPELINES, type: 'PHASE_OUTCOME', branch: 'outcomeEndsPipeline', event: phaseOutcome('spellcheck', 'failed_critically', [], { failed: ['e1', 'e2', 'e3'] }), to: S.READY_FOR_PIPELINE_EXECUTION, emits: [COMPLETED], note: 'phase failed critically' },
  { from: S.PROCESSING_PIPELINES, type: 'PHASE_OUTCOME', branch: 'ignore', event: phaseOutcome('nlp', 'completed_successfully', CORRECTED), to: S.PROCESSING_PIPELINES, emits: [], note: 'outcome of a phase not in flight' },
  { from: S.PROCESSING_PIPELINES, type: 'PHASE_OUTCOME', branch: 'ignore', event: phaseOutcome('spellcheck', 'completed_successfully', CORRECTED, { run_id: 7 }), to: S.PROCESSING_PIPELINES, emits: [], note: 'outcome of another run' },
];

const TABLE: readonly Row[] = [...NON_FINAL_STATES.flatMap((state) => rootRows(state)), ...OWN_ROWS];
const rowName = (row: Row) => `${row.from} --${row.type}[${row.branch}]${row.note === undefined ? '' : ` (${row.note})`}--> ${row.to}`;
const pairKey = (state: string, type: string) => `${state} x ${type}`;

/** The branches of the definition: `state x type` -> guard names ('ignore' / 'always' for unguarded). */
function definitionBranches(): Map<string, string[]> {
  const map = new Map<string, string[]>();
  const label = (transition: { guard?: unknown; actions: readonly unknown[] }) =>
    typeof transition.guard === 'string' ? transition.guard : transition.actions.includes('ignore') ? 'ignore' : 'always';
  for (const state of NON_FINAL_STATES) {
    const node = batchMachine.root.states[state]!;
    for (const type of BATCH_EVENT_TYPES) {
      const own = node.on[type];
      const candidates = own ?? batchMachine.root.on[type];
      if (candidates !== undefined) map.set(pairKey(state, type), candidates.map(label));
    }
  }
  return map;
}

describe('batch transition table', () => {
  it.each(TABLE.map((row) => [rowName(row), row] as const))('%s', (_name, row) => {
    const machine = row.machine ?? batchMachine;
    const before = at(row.from, row.context ?? DEFAULT_CONTEXT[row.from], machine);
    expect(before.can(row.event)).toBe(true);
    const after = step(before, row.event, machine);
    expect(after.snapshot.value).toBe(row.to);
    expect(topics(after.messages)).toEqual(row.emits);
    if (row.branch === 'ignore') {
      expect(after.snapshot).toBe(before);
      expect(after.actionTypes).toEqual(['ignore']);
    }
  });

  it('the table covers every accepted (state, event) pair and every guarded branch of the definition', () => {
    const definition = definitionBranches();
    const table = new Map<string, Set<string>>();
    for (const row of TABLE) {
      const key = pairKey(row.from, row.type);
      table.set(key, (table.get(key) ?? new Set()).add(row.branch));
    }
    expect(new Set(table.keys())).toEqual(new Set(definition.keys()));
    for (const [key, branches] of definition) expect([...(table.get(key) ?? [])].sort(), key).toEqual([...branches].sort());
    // the explainer agrees with the definition
    const fromExplainer = new Set(
      BATCH_EVENT_TYPES.flatMap((type) => acceptingStates(batchMachine, type).map((state) => pairKey(state, type))),
    );
    expect(fromExplainer).toEqual(new Set(definition.keys()));
  });

  it('has a row for every branch of every accepted (state, event) pair, so its size follows the definition', () => {
    const definition = definitionBranches();
    const branches = [...definition.values()].reduce((count, list) => count + new Set(list).size, 0);
    expect(new Set(TABLE.map((row) => `${pairKey(row.from, row.type)} [${row.branch}]`)).size).toBe(branches);
    expect(new Set(TABLE.map((row) => pairKey(row.from, row.type))).size).toBe(definition.size);
  });
});

// ---------------------------------------------------------------------------------------------
// 3. Refusals, generated from the definition

const accepts = (state: BatchStatus, type: BatchEventType) => acceptingStates(batchMachine, type).includes(state);
const REFUSED_PAIRS = ALL_STATES.flatMap((state) =>
  BATCH_EVENT_TYPES.filter((type) => !accepts(state, type)).map((type) => [pairKey(state, type), state, type] as const),
);
const ROOT_TYPES = new Set(Object.keys(batchMachine.root.on));
const refusedInNonFinal = REFUSED_PAIRS.filter(([, state]) => !FINAL_STATES.includes(state));
const refusedInFinal = REFUSED_PAIRS.filter(([, state]) => FINAL_STATES.includes(state));
const finalRefusedByDefinition = refusedInFinal.filter(([, , type]) => !ROOT_TYPES.has(type));
const finalRootHandled = refusedInFinal.filter(([, , type]) => ROOT_TYPES.has(type));

function expectRefused(state: BatchStatus, type: BatchEventType): void {
  const snapshot = atDefault(state);
  const event = sampleEvent(type);
  expect(snapshot.can(event)).toBe(false);
  const [next, actions] = transition(batchMachine, snapshot, event);
  expect(next).toBe(snapshot);
  expect(actions).toEqual([]);
}

function expectExplained(state: BatchStatus, type: BatchEventType): void {
  const explanation = explainRefusal(batchMachine, atDefault(state), sampleEvent(type));
  expect(explanation.state).toBe(state);
  expect(explanation.accepting_states).toEqual(acceptingStates(batchMachine, type));
  expect(explanation.accepting_states).not.toContain(state);
  expect(explanation.message).toContain(`"${state}"`);
  expect(explanation.message).toContain(type);
  for (const accepting of explanation.accepting_states) expect(explanation.message).toContain(accepting);
}

describe('batch refusals', () => {
  it('the accepted pairs of the definition and the refused pairs of the explainer partition states x events; a final state refuses every event', () => {
    const accepted = new Set(definitionBranches().keys());
    const refused = new Set(REFUSED_PAIRS.map(([key]) => key));
    for (const state of ALL_STATES) {
      for (const type of BATCH_EVENT_TYPES) expect(accepted.has(pairKey(state, type)) !== refused.has(pairKey(state, type)), pairKey(state, type)).toBe(true);
    }
    expect(refusedInFinal.map(([key]) => key).sort()).toEqual(FINAL_STATES.flatMap((state) => BATCH_EVENT_TYPES.map((type) => pairKey(state, type))).sort());
  });

  it.each(refusedInNonFinal)('%s is refused: same snapshot, no actions', (_key, state, type) => {
    expectRefused(state, type);
  });

  it.each(finalRefusedByDefinition)('%s (final state) is refused: same snapshot, no actions', (_key, state, type) => {
    expectRefused(state, type);
  });

  it('no transition is defined on the machine root, so final states take nothing', () => {
    expect(finalRootHandled).toHaveLength(0);
  });

  it.each(REFUSED_PAIRS)('%s: explainRefusal names the current state and the accepting states', (_key, state, type) => {
    expectExplained(state, type);
  });

  it('final states are accepted nowhere by the explainer', () => {
    for (const type of BATCH_EVENT_TYPES) for (const state of FINAL_STATES) expect(accepts(state, type)).toBe(false);
  });

  it.each(ALL_STATES.filter((state) => state !== S.READY_FOR_PIPELINE_EXECUTION))(
    'PIPELINE_REQUESTED in %s is refused naming the current and the expected status',
    (state) => {
      const snapshot = atDefault(state);
      const event = pipelineRequested('nlp', { prompt_payload: { cms_prompt_ref: PROMPT } });
      expect(snapshot.can(event)).toBe(false);
      const explanation = explainRefusal(batchMachine, snapshot, event);
      expect(explanation.accepting_states).toEqual([S.READY_FOR_PIPELINE_EXECUTION]);
      expect(explanation.message).toBe(`PIPELINE_REQUESTED is not accepted in state "${state}" (accepted in: ready_for_pipeline_execution)`);
      expect(explainBatchGuard(snapshot, event)).toBeUndefined();
    },
  );

  it('an unknown event type is refused and changes nothing', () => {
    const snapshot = atDefault(S.READY_FOR_PIPELINE_EXECUTION);
    const unknown = { ...closeRequested(), type: 'NOT_A_BATCH_EVENT' } as unknown as BatchEvent;
    expect(snapshot.can(unknown)).toBe(false);
    const [next, actions] = transition(batchMachine, snapshot, unknown);
    expect(next).toBe(snapshot);
    expect(actions).toEqual([]);
    expect(explainRefusal(batchMachine, snapshot, unknown).message).toContain('no state accepts it');
  });
});

// ---------------------------------------------------------------------------------------------
// 4. Either-order convergence of confirmation and readiness

describe('associations confirmed and essays ready converge in either order', () => {
  const regular = () => step(register({ class_id: CLASS }).snapshot, provisioned()).snapshot;

  it.each([false, true])('timeout_triggered=%s: confirmation then essays-ready ends ready', (timeout) => {
    const steps = drive(regular(), [confirmed(timeout), essaysReady()]);
    expect(steps.map((s) => s.snapshot.value)).toEqual([
      timeout ? S.VALIDATION_TIMEOUT_PROCESSED : S.STUDENT_VALIDATION_COMPLETED,
      S.READY_FOR_PIPELINE_EXECUTION,
    ]);
    expect(allMessages(steps)).toEqual([]);
  });

  it.each([false, true])('timeout_triggered=%s: essays-ready then confirmation ends ready', (timeout) => {
    const steps = drive(regular(), [essaysReady(), confirmed(timeout)]);
    expect(steps.map((s) => s.snapshot.value)).toEqual([S.AWAITING_STUDENT_VALIDATION, S.READY_FOR_PIPELINE_EXECUTION]);
    expect(steps[1]!.snapshot.context.associations?.method).toBe(timeout ? 'timeout' : 'human');
    expect(allMessages(steps)).toEqual([]);
  });

  it('both orders reach the same ready batch (same essays, same association method)', () => {
    const a = last(regular(), drive(regular(), [confirmed(false), essaysReady()]));
    const b = last(regular(), drive(regular(), [essaysReady(), confirmed(false)]));
    expect(a.value).toBe(b.value);
    expect(a.context).toEqual(b.context);
  });

  it('human confirmation -> student_validation_completed; timeout -> validation_timeout_processed', () => {
    expect(step(regular(), confirmed(false)).snapshot.value).toBe(S.STUDENT_VALIDATION_COMPLETED);
    expect(step(regular(), confirmed(true)).snapshot.value).toBe(S.VALIDATION_TIMEOUT_PROCESSED);
  });

  it('a late or duplicate confirmation after ready is an accepted no-op: same snapshot, nothing emitted', () => {
    const ready = last(regular(), drive(regular(), [confirmed(false), essaysReady()]));
    for (const late of [confirmed(true), confirmed(false), essaysReady()]) {
      expect(ready.can(late)).toBe(true);
      const after = step(ready, late);
      expect(after.snapshot).toBe(ready);
      expect(after.messages).toEqual([]);
    }
  });

  it('a timeout after a human confirmation (before readiness) changes nothing', () => {
    const human = step(regular(), confirmed(false)).snapshot;
    const late = step(human, confirmed(true));
    expect(late.snapshot).toBe(human);
    expect(late.snapshot.context.associations?.method).toBe('human');
  });

  it('no pipeline can start between confirmation and readiness (race removed)', () => {
    const human = step(regular(), confirmed(false)).snapshot;
    const request = pipelineRequested('nlp', { prompt_payload: { cms_prompt_ref: PROMPT } });
    expect(human.can(request)).toBe(false);
    expect(explainRefusal(batchMachine, human, request).message).toContain('"student_validation_completed"');
  });

  it('REGULAR provisioning emits the student-matching command with the essays, class and course', () => {
    const after = step(register({ class_id: CLASS, course_code: 'SV1' }).snapshot, provisioned(ORIGINAL, {}, 'SV1'));
    const command = only(after.messages, MATCHING_CMD);
    expect(command.data).toMatchObject({ entity_id: BATCH, entity_type: 'batch', class_id: CLASS, course_code: 'SV1', essays_to_process: refsOf(ORIGINAL) });
  });
});

// ---------------------------------------------------------------------------------------------
// 5. A pipeline run

describe('pipeline run (GUEST, 3 essays, prompt set, nlp)', () => {
  const ready = () => step(register({ student_prompt_ref: PROMPT, course_code: 'SV2' }).snapshot, provisioned(ORIGINAL, {}, 'SV2')).snapshot;
  const request = pipelineRequested('nlp', {}, { at: T(0) });
  const spellcheckOutcome = phaseOutcome('spellcheck', 'completed_with_failures', CORRECTED_BUT_E2, { failed: ['e2'], run_id: 1 }, { at: T(4) });
  const nlpOutcome = phaseOutcome('nlp', 'completed_successfully', CORRECTED_BUT_E2, { run_id: 1 }, { at: T(10.5) });

  it('the request emits the spellcheck command: every essay, newest text ids, run_id 1, language from the course', () => {
    const started = step(ready(), request);
    expect(started.snapshot.value).toBe(S.PROCESSING_PIPELINES);
    expect(topics(started.messages)).toEqual([SPELLCHECK_CMD]);
    const command = only(started.messages, SPELLCHECK_CMD);
    expect(command.data).toEqual({ entity_id: BATCH, entity_type: 'batch', essays_to_process: refsOf(ORIGINAL), language: 'sv', run_id: 1 });
    expect(started.snapshot.context.run?.phase_status).toEqual({ spellcheck: 'dispatch_initiated', nlp: 'pending_dependencies' });
    expect(started.snapshot.context.run?.phases).toEqual(['spellcheck', 'nlp']);
  });

  it('a partly failed spellcheck sends only the successful essays, with their corrected text, to nlp', () => {
    const [, afterSpellcheck] = drive(ready(), [request, spellcheckOutcome]);
    expect(afterSpellcheck!.snapshot.value).toBe(S.PROCESSING_PIPELINES);
    expect(topics(afterSpellcheck!.messages)).toEqual([NLP_CMD]);
    const command = only(afterSpellcheck!.messages, NLP_CMD);
    expect(command.data).toEqual({
      entity_id: BATCH,
      entity_type: 'batch',
      essays_to_process: refsOf(CORRECTED_BUT_E2),
      language: 'sv',
      run_id: 1,
      student_prompt_ref: PROMPT,
    });
    const context = afterSpellcheck!.snapshot.context;
    expect(context.run?.phase_status).toEqual({ spellcheck: 'completed_with_partial_success', nlp: 'dispatch_initiated' });
    expect(context.essays.find((essay) => essay.essay_id === 'e2')?.failed_phase).toBe('spellcheck');
    expect(context.phase_history).toEqual({ spellcheck: 'completed_with_partial_success' });
  });

  it('the last outcome emits BatchPipelineCompletedV1 with real counts and returns to ready', () => {
    const steps = drive(ready(), [request, spellcheckOutcome, nlpOutcome]);
    const done = steps[2]!;
    expect(done.snapshot.value).toBe(S.READY_FOR_PIPELINE_EXECUTION);
    expect(topics(done.messages)).toEqual([COMPLETED]);
    const completed = only(done.messages, COMPLETED);
    expect(completed.data).toMatchObject({
      batch_id: BATCH,
      requested_pipeline: 'nlp',
      run_id: 1,
      completed_phases: ['spellcheck', 'nlp'],
      final_status: 'completed_with_failures',
      successful_essay_count: 2,
      failed_essay_count: 1,
      processing_duration_seconds: 630,
    });
    expect(done.snapshot.context.run).toBeNull();
    expect(done.snapshot.context.last_run).toMatchObject({ run_id: 1, final_status: 'completed_with_failures' });
    expect(done.snapshot.context.phase_history).toEqual({ spellcheck: 'completed_with_partial_success', nlp: 'completed_successfully' });
    // the batch accepts the next pipeline
    expect(done.snapshot.can(pipelineRequested('cj_assessment'))).toBe(true);
  });

  it('an all-successful run reports completed_successfully with every essay', () => {
    const steps = drive(ready(), [request, phaseOutcome('spellcheck', 'completed_successfully', CORRECTED, { run_id: 1 }), phaseOutcome('nlp', 'completed_successfully', CORRECTED, { run_id: 1 })]);
    expect(only(allMessages(steps), COMPLETED).data).toMatchObject({ final_status: 'completed_successfully', successful_essay_count: 3, failed_essay_count: 0 });
  });

  it('duplicate and late outcomes are no-ops that never start a phase twice', () => {
    const [started, afterSpellcheck] = drive(ready(), [request, spellcheckOutcome]);
    const inNlp = afterSpellcheck!.snapshot;
    const duplicates = [
      spellcheckOutcome, // the same phase again
      phaseOutcome('spellcheck', 'completed_successfully', CORRECTED, { run_id: 1 }), // a different verdict for a concluded phase
      phaseOutcome('nlp', 'completed_successfully', CORRECTED_BUT_E2, { run_id: 2 }), // wrong run_id
      phaseOutcome('cj_assessment', 'completed_successfully', CORRECTED_BUT_E2, { run_id: 1 }), // a phase not in this run
    ];
    for (const duplicate of duplicates) {
      expect(inNlp.can(duplicate)).toBe(true);
      const after = step(inNlp, duplicate);
      expect(after.snapshot.value).toBe(S.PROCESSING_PIPELINES);
      expect(after.snapshot.context).toBe(inNlp.context);
      expect(after.messages).toEqual([]);
    }
    // the spellcheck outcome delivered twice in a row while spellcheck was in flight starts nlp once
    const twice = drive(started!.snapshot, [spellcheckOutcome, spellcheckOutcome]);
    expect(ofType(allMessages(twice), NLP_CMD)).toHaveLength(1);
    // after the run finished, a late nlp outcome changes nothing
    const done = step(inNlp, nlpOutcome).snapshot;
    const late = step(done, nlpOutcome);
    expect(late.snapshot).toBe(done);
    expect(late.messages).toEqual([]);
  });

  it('an outcome without run_id (reference producer) is applied to the run in flight', () => {
    const steps = drive(ready(), [request, phaseOutcome('spellcheck', 'completed_successfully', CORRECTED)]);
    expect(topics(steps[1]!.messages)).toEqual([NLP_CMD]);
  });

  it('failed_critically stops the pipeline: no further command, final_status failed_critically, back to ready', () => {
    const failed = phaseOutcome('spellcheck', 'failed_critically', [], { failed: ['e1', 'e2', 'e3'], run_id: 1 }, { at: T(2) });
    const steps = drive(ready(), [request, failed]);
    const stopped = steps[1]!;
    expect(stopped.snapshot.value).toBe(S.READY_FOR_PIPELINE_EXECUTION);
    expect(topics(stopped.messages)).toEqual([COMPLETED]);
    expect(only(stopped.messages, COMPLETED).data).toMatchObject({
      completed_phases: [],
      final_status: 'failed_critically',
      successful_essay_count: 0,
      failed_essay_count: 3,
      processing_duration_seconds: 120,
    });
    expect(stopped.snapshot.context.phase_history).toEqual({ spellcheck: 'failed' });
    expect(ofType(allMessages(steps), NLP_CMD)).toEqual([]);
  });

  it('failed_critically in a later phase keeps the phases completed before it', () => {
    const steps = drive(ready(), [request, spellcheckOutcome, phaseOutcome('nlp', 'failed_critically', [], { run_id: 1 })]);
    expect(only(steps[2]!.messages, COMPLETED).data).toMatchObject({ completed_phases: ['spellcheck'], final_status: 'failed_critically' });
    expect(steps[2]!.snapshot.context.phase_history).toEqual({ spellcheck: 'completed_with_partial_success', nlp: 'failed' });
  });

  it('failed_critically: the remaining phases are recorded skipped_due_to_dependency_failure in last_run and the completion event', () => {
    const steps = drive(ready(), [request, phaseOutcome('spellcheck', 'failed_critically', [], { failed: ['e1', 'e2', 'e3'], run_id: 1 })]);
    const observable = JSON.stringify({ context: steps[1]!.snapshot.context, messages: steps[1]!.messages });
    expect(observable).toContain('"nlp":"skipped_due_to_dependency_failure"');
  });
});

// ---------------------------------------------------------------------------------------------
// 6. Second and later pipelines

describe('second pipeline, pruning, explicit phases', () => {
  const afterNlp = () => {
    const run = scenario({ student_prompt_ref: PROMPT }, [
      provisioned(),
      pipelineRequested('nlp'),
      spellcheckE2Failed,
      phaseOutcome('nlp', 'completed_successfully', CORRECTED_BUT_E2, { run_id: 1 }),
    ]);
    expect(run.final.value).toBe(S.READY_FOR_PIPELINE_EXECUTION);
    return run.final;
  };
  const fresh = () => scenario({ student_prompt_ref: PROMPT }, [provisioned()]).final;

  it('cj_assessment after nlp: PhaseSkippedV1 for spellcheck, CJ command for the non-failed essays only', () => {
    const second = step(afterNlp(), pipelineRequested('cj_assessment'));
    expect(second.snapshot.value).toBe(S.PROCESSING_PIPELINES);
    expect(topics(second.messages)).toEqual([SKIPPED, CJ_CMD]);
    expect(only(second.messages, SKIPPED).data).toEqual({ batch_id: BATCH, phase_name: 'spellcheck', skip_reason: 'already_completed' });
    const command = only(second.messages, CJ_CMD);
    expect(command.data).toEqual({
      entity_id: BATCH,
      entity_type: 'batch',
      essays_to_process: refsOf(CORRECTED_BUT_E2),
      language: 'en',
      run_id: 2,
      course_code: 'ENG5',
      student_prompt_ref: PROMPT,
      class_type: 'GUEST',
      assignment_id: null,
    });
    const done = step(second.snapshot, phaseOutcome('cj_assessment', 'completed_successfully', CORRECTED_BUT_E2, { run_id: 2 }));
    expect(only(done.messages, COMPLETED).data).toMatchObject({
      run_id: 2,
      completed_phases: ['cj_assessment'],
      final_status: 'completed_successfully',
      successful_essay_count: 2,
      failed_essay_count: 0,
    });
  });

  it('an explicit phases list runs in the given order ("mix and match")', () => {
    const request = pipelineRequested('my_mix', { phases: ['spellcheck', 'ai_feedback', 'nlp'] });
    const steps = drive(fresh(), [
      request,
      phaseOutcome('spellcheck', 'completed_successfully', CORRECTED, { run_id: 1 }),
      phaseOutcome('ai_feedback', 'completed_successfully', CORRECTED, { run_id: 1 }),
      phaseOutcome('nlp', 'completed_successfully', CORRECTED, { run_id: 1 }),
    ]);
    expect(steps.map((s) => topics(s.messages))).toEqual([[SPELLCHECK_CMD], [AI_CMD], [NLP_CMD], [COMPLETED]]);
    expect(only(steps[1]!.messages, AI_CMD).data).toMatchObject({
      essays_to_process: refsOf(CORRECTED),
      course_code: 'ENG5',
      class_type: 'GUEST',
      owner_user_id: USER,
      student_prompt_ref: PROMPT,
    });
    expect(only(steps[3]!.messages, COMPLETED).data).toMatchObject({
      requested_pipeline: 'my_mix',
      completed_phases: ['spellcheck', 'ai_feedback', 'nlp'],
      final_status: 'completed_successfully',
    });
  });

  it('nlp again after nlp ran is refused: "nothing to run"', () => {
    const ready = afterNlp();
    const again = pipelineRequested('nlp');
    expect(ready.can(again)).toBe(false);
    const [next, actions] = transition(batchMachine, ready, again);
    expect(next).toBe(ready);
    expect(actions).toEqual([]);
    const reason = explainBatchGuard(ready, again);
    expect(reason).toMatch(/^nothing to run/);
    const explanation = explainRefusal(batchMachine, ready, again, reason);
    expect(explanation.message).toContain('"ready_for_pipeline_execution"');
    expect(explanation.message).toContain('nothing to run');
  });

  it('an unknown pipeline is refused with a reason naming the known ones', () => {
    const ready = fresh();
    const unknown = pipelineRequested('grammar');
    expect(ready.can(unknown)).toBe(false);
    const reason = explainBatchGuard(ready, unknown) ?? '';
    expect(reason).toContain('unknown pipeline "grammar"');
    for (const known of ['nlp', 'cj_assessment', 'ai_feedback', 'comprehensive']) expect(reason).toContain(known);
  });

  it('an explicit list not starting with spellcheck is refused while spellcheck never ran', () => {
    const ready = fresh();
    const request = pipelineRequested('cj_only', { phases: ['cj_assessment'] });
    expect(ready.can(request)).toBe(false);
    expect(explainBatchGuard(ready, request)).toContain('spellcheck must run first');
    // after spellcheck ran it is fine
    expect(afterNlp().can(request)).toBe(true);
  });

  it('a list naming a phase twice is refused', () => {
    const request = pipelineRequested('dup', { phases: ['spellcheck', 'nlp', 'spellcheck'] });
    expect(fresh().can(request)).toBe(false);
    expect(explainBatchGuard(fresh(), request)).toContain('twice');
  });

  it('no eligible essay left is refused', () => {
    const allFailed = scenario({ student_prompt_ref: PROMPT }, [
      provisioned(),
      pipelineRequested('nlp'),
      phaseOutcome('spellcheck', 'failed_critically', [], { failed: ['e1', 'e2', 'e3'], run_id: 1 }),
    ]).final;
    expect(allFailed.value).toBe(S.READY_FOR_PIPELINE_EXECUTION);
    const retry = pipelineRequested('nlp');
    expect(allFailed.can(retry)).toBe(false);
    expect(explainBatchGuard(allFailed, retry)).toContain('no essay is eligible');
  });

  it('a phase that failed is not pruned: the next request runs it again with the essays that never failed', () => {
    const failedNlp = scenario({ student_prompt_ref: PROMPT }, [
      provisioned(),
      pipelineRequested('nlp'),
      spellcheckE2Failed,
      phaseOutcome('nlp', 'failed_critically', [], { run_id: 1 }),
    ]).final;
    const retry = step(failedNlp, pipelineRequested('nlp'));
    expect(topics(retry.messages)).toEqual([SKIPPED, NLP_CMD]);
    expect(only(retry.messages, NLP_CMD).data.essays_to_process).toEqual(refsOf(CORRECTED_BUT_E2));
    expect(only(retry.messages, NLP_CMD).data.run_id).toBe(2);
  });

  it('explainBatchGuard says nothing outside ready or for other event types', () => {
    expect(explainBatchGuard(atDefault(S.PROCESSING_PIPELINES), pipelineRequested('grammar'))).toBeUndefined();
    expect(explainBatchGuard(fresh(), closeRequested())).toBeUndefined();
    expect(explainBatchGuard(fresh(), pipelineRequested('nlp'))).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------------
// 7. The prompt requirement and awaiting_pipeline_configuration

describe('prompt requirement', () => {
  const noPrompt = () => scenario({}, [provisioned()]).final;

  it('nlp without any prompt parks in awaiting_pipeline_configuration and emits nothing', () => {
    const parked = step(noPrompt(), pipelineRequested('nlp'));
    expect(parked.snapshot.value).toBe(S.AWAITING_PIPELINE_CONFIGURATION);
    expect(parked.messages).toEqual([]);
    expect(parked.snapshot.context.parked).toEqual({ requested_pipeline: 'nlp', phases: ['spellcheck', 'nlp'], skipped: [], user_id: USER });
    expect(parked.snapshot.context.run).toBeNull();
  });

  it('PROMPT_ATTACHED starts the parked pipeline with its command; the prompt reaches the nlp command', () => {
    const steps = drive(noPrompt(), [pipelineRequested('nlp'), promptAttached('prompt-late'), spellcheckOk]);
    const started = steps[1]!;
    expect(started.snapshot.value).toBe(S.PROCESSING_PIPELINES);
    expect(topics(started.messages)).toEqual([SPELLCHECK_CMD]);
    expect(only(started.messages, SPELLCHECK_CMD).data.run_id).toBe(1);
    expect(started.snapshot.context.student_prompt_ref).toBe('prompt-late');
    expect(started.snapshot.context.parked).toBeNull();
    expect(only(steps[2]!.messages, NLP_CMD).data.student_prompt_ref).toBe('prompt-late');
  });

  it('PIPELINE_REQUEST_WITHDRAWN returns to ready and forgets the request', () => {
    const steps = drive(noPrompt(), [pipelineRequested('nlp'), withdrawn()]);
    expect(steps[1]!.snapshot.value).toBe(S.READY_FOR_PIPELINE_EXECUTION);
    expect(steps[1]!.snapshot.context.parked).toBeNull();
    expect(steps[1]!.messages).toEqual([]);
  });

  it('the request\'s prompt_payload (cms_prompt_ref) is used and stored', () => {
    const started = step(noPrompt(), pipelineRequested('nlp', { prompt_payload: { cms_prompt_ref: 'prompt-cms' } }));
    expect(started.snapshot.value).toBe(S.PROCESSING_PIPELINES);
    expect(started.snapshot.context.student_prompt_ref).toBe('prompt-cms');
    const nlp = step(started.snapshot, spellcheckOk);
    expect(only(nlp.messages, NLP_CMD).data.student_prompt_ref).toBe('prompt-cms');
  });

  it('a cms_prompt_ref in the request replaces the batch\'s prompt', () => {
    const withPrompt = scenario({ student_prompt_ref: PROMPT }, [provisioned()]).final;
    const started = step(withPrompt, pipelineRequested('nlp', { prompt_payload: { cms_prompt_ref: 'prompt-new' } }));
    expect(started.snapshot.context.student_prompt_ref).toBe('prompt-new');
  });

  it('an assignment_id in the request satisfies the requirement and reaches the CJ command', () => {
    const started = step(noPrompt(), pipelineRequested('cj_assessment', { prompt_payload: { assignment_id: 'assignment-9' } }));
    expect(started.snapshot.value).toBe(S.PROCESSING_PIPELINES);
    expect(started.snapshot.context.assignment_id).toBe('assignment-9');
    const cj = step(started.snapshot, spellcheckOk);
    expect(only(cj.messages, CJ_CMD).data).toMatchObject({ assignment_id: 'assignment-9', student_prompt_ref: null });
  });

  it('a prompt attached before content is provisioned is kept', () => {
    const run = scenario({}, [promptAttached(), provisioned(), pipelineRequested('nlp')]);
    expect(run.statuses).toEqual([S.AWAITING_CONTENT_VALIDATION, S.AWAITING_CONTENT_VALIDATION, S.READY_FOR_PIPELINE_EXECUTION, S.PROCESSING_PIPELINES]);
  });

  it('spellcheck alone needs no prompt', () => {
    const started = step(noPrompt(), pipelineRequested('spellcheck_only', { phases: ['spellcheck'] }));
    expect(started.snapshot.value).toBe(S.PROCESSING_PIPELINES);
  });

  it('a parked request keeps its pruning: PhaseSkippedV1 and the next run id when the prompt arrives', () => {
    const steps = drive(noPrompt(), [
      pipelineRequested('spellcheck_only', { phases: ['spellcheck'] }),
      spellcheckOk,
      pipelineRequested('nlp'),
      promptAttached(),
    ]);
    expect(steps.map((s) => s.snapshot.value)).toEqual([
      S.PROCESSING_PIPELINES,
      S.READY_FOR_PIPELINE_EXECUTION,
      S.AWAITING_PIPELINE_CONFIGURATION,
      S.PROCESSING_PIPELINES,
    ]);
    expect(steps[2]!.messages).toEqual([]);
    expect(topics(steps[3]!.messages)).toEqual([SKIPPED, NLP_CMD]);
    expect(only(steps[3]!.messages, NLP_CMD).data).toMatchObject({ run_id: 2, student_prompt_ref: PROMPT, essays_to_process: refsOf(CORRECTED) });
  });
});

// ---------------------------------------------------------------------------------------------
// 8. The admission hook

describe('admission hook', () => {
  const FOUR = ['e1', 'e2', 'e3', 'e4'];
  const FOUR_REFS: readonly Ref[] = FOUR.map((id) => [id, `text-${id}`] as const);

  function deniedMachine(requests: AdmissionRequest[]) {
    return createBatchMachine({
      admission: (request) => {
        requests.push(request);
        return { allowed: false, denial_reason: 'insufficient_credits', required_credits: 3, available_credits: 1 };
      },
    });
  }

  it('a denial keeps the batch ready and emits PipelineDeniedV1 with the reason and credits', () => {
    const requests: AdmissionRequest[] = [];
    const machine = deniedMachine(requests);
    const ready = scenario({ student_prompt_ref: PROMPT, essays: FOUR }, [provisioned(FOUR_REFS)], machine).final;
    const denied = step(ready, pipelineRequested('cj_assessment', {}, { at: T(3) }), machine);
    expect(denied.snapshot.value).toBe(S.READY_FOR_PIPELINE_EXECUTION);
    expect(denied.snapshot.context).toEqual(ready.context);
    expect(topics(denied.messages)).toEqual([DENIED]);
    expect(only(denied.messages, DENIED).data).toEqual({
      batch_id: BATCH,
      user_id: USER,
      org_id: null,
      requested_pipeline: 'cj_assessment',
      denial_reason: 'insufficient_credits',
      required_credits: 3,
      available_credits: 1,
      resource_breakdown: null,
      denied_at: T(3),
    });
  });

  it.each([
    ['cj_assessment', ['spellcheck', 'cj_assessment'], { cj_comparison: 6, ai_feedback_generation: 0 }],
    ['ai_feedback', ['spellcheck', 'nlp', 'ai_feedback'], { cj_comparison: 0, ai_feedback_generation: 4 }],
    ['comprehensive', ['spellcheck', 'cj_assessment', 'nlp', 'ai_feedback'], { cj_comparison: 6, ai_feedback_generation: 4 }],
    ['nlp', ['spellcheck', 'nlp'], { cj_comparison: 0, ai_feedback_generation: 0 }],
  ] as const)('the hook is asked about %s with the cost from estimatePipelineCost (CJ n(n-1)/2)', (pipeline, phases, cost) => {
    const requests: AdmissionRequest[] = [];
    const machine = deniedMachine(requests);
    const ready = scenario({ student_prompt_ref: PROMPT, essays: FOUR, org_id: 'org-1' }, [provisioned(FOUR_REFS)], machine).final;
    step(ready, pipelineRequested(pipeline), machine);
    expect(requests.length).toBeGreaterThan(0);
    for (const request of requests) {
      expect(request).toEqual({ batch_id: BATCH, user_id: USER, org_id: 'org-1', requested_pipeline: pipeline, phases, essay_count: 4, cost });
    }
  });

  it('the hook is asked once per request, whether it denies or admits (its guards and action share one evaluation)', () => {
    const denials: AdmissionRequest[] = [];
    const denying = deniedMachine(denials);
    const ready = scenario({ student_prompt_ref: PROMPT, essays: FOUR }, [provisioned(FOUR_REFS)], denying).final;
    step(ready, pipelineRequested('nlp'), denying);
    expect(denials).toHaveLength(1);
    const admissions: AdmissionRequest[] = [];
    const admitting = createBatchMachine({
      admission: (request) => {
        admissions.push(request);
        return { allowed: true };
      },
    });
    const started = step(at(S.READY_FOR_PIPELINE_EXECUTION, READY, admitting), pipelineRequested('nlp'), admitting);
    expect(started.snapshot.value).toBe(S.PROCESSING_PIPELINES);
    expect(admissions).toHaveLength(1);
  });

  it('the hook sees only eligible essays and pruned phases', () => {
    const requests: AdmissionRequest[] = [];
    const machine = createBatchMachine({
      admission: (request) => {
        requests.push(request);
        return { allowed: true };
      },
    });
    const started = step(at(S.READY_FOR_PIPELINE_EXECUTION, READY_WITH_FAILURE, machine), pipelineRequested('cj_assessment'), machine);
    expect(started.snapshot.value).toBe(S.PROCESSING_PIPELINES);
    expect(requests.at(-1)).toMatchObject({ phases: ['cj_assessment'], essay_count: 2, cost: { cj_comparison: 1, ai_feedback_generation: 0 } });
  });

  it('a resource breakdown is passed through to PipelineDeniedV1', () => {
    const machine = createBatchMachine({
      admission: ({ cost }) => ({
        allowed: false,
        denial_reason: 'rate_limit_exceeded',
        required_credits: cost.cj_comparison,
        available_credits: 0,
        resource_breakdown: { cj_comparison: cost.cj_comparison },
      }),
    });
    const denied = step(at(S.READY_FOR_PIPELINE_EXECUTION, READY, machine), pipelineRequested('cj_assessment'), machine);
    expect(only(denied.messages, DENIED).data).toMatchObject({ denial_reason: 'rate_limit_exceeded', required_credits: 3, resource_breakdown: { cj_comparison: 3 } });
  });

  it('the denial is decided before the prompt requirement (a denied request is not parked)', () => {
    const denied = step(at(S.READY_FOR_PIPELINE_EXECUTION, READY_NO_PROMPT, denyAll), pipelineRequested('nlp'), denyAll);
    expect(denied.snapshot.value).toBe(S.READY_FOR_PIPELINE_EXECUTION);
    expect(topics(denied.messages)).toEqual([DENIED]);
  });
});

// ---------------------------------------------------------------------------------------------
// 9. Close, cancel, critical failures, no usable content

describe('close, cancel, critical failure, no usable content', () => {
  it('close without failures -> completed_successfully; BatchClosedV1 lists the successful essays', () => {
    const run = scenario({ student_prompt_ref: PROMPT }, [
      provisioned(),
      pipelineRequested('nlp'),
      spellcheckOk,
      phaseOutcome('nlp', 'completed_successfully', CORRECTED, { run_id: 1 }),
      closeRequested(),
    ]);
    expect(run.final.value).toBe(S.COMPLETED_SUCCESSFULLY);
    expect(run.final.status).toBe('done');
    expect(only(run.steps.at(-1)!.messages, CLOSED).data).toEqual({
      batch_id: BATCH,
      final_status: 'completed_successfully',
      successful_essay_ids: ['e1', 'e2', 'e3'],
      failed_essay_ids: [],
    });
  });

  it('close with failures -> completed_with_failures; BatchClosedV1 lists successful and failed essays', () => {
    const closed = step(at(S.READY_FOR_PIPELINE_EXECUTION, READY_WITH_FAILURE), closeRequested());
    expect(closed.snapshot.value).toBe(S.COMPLETED_WITH_FAILURES);
    expect(only(closed.messages, CLOSED).data).toEqual({
      batch_id: BATCH,
      final_status: 'completed_with_failures',
      successful_essay_ids: ['e1', 'e3'],
      failed_essay_ids: ['e2'],
    });
  });

  it('close before any phase ran: completed_successfully with no essay counted as successful', () => {
    const closed = step(at(S.READY_FOR_PIPELINE_EXECUTION, READY), closeRequested());
    expect(closed.snapshot.value).toBe(S.COMPLETED_SUCCESSFULLY);
    expect(only(closed.messages, CLOSED).data).toMatchObject({ successful_essay_ids: [], failed_essay_ids: [] });
  });

  it.each([S.AWAITING_CONTENT_VALIDATION, S.AWAITING_STUDENT_VALIDATION, S.STUDENT_VALIDATION_COMPLETED, S.VALIDATION_TIMEOUT_PROCESSED, S.READY_FOR_PIPELINE_EXECUTION, S.AWAITING_PIPELINE_CONFIGURATION])(
    'cancel from %s -> cancelled with BatchClosedV1 (no phase to stop)',
    (state) => {
      const cancelled = step(atDefault(state), cancelRequested('teacher cancelled'));
      expect(cancelled.snapshot.value).toBe(S.CANCELLED);
      expect(cancelled.snapshot.status).toBe('done');
      expect(topics(cancelled.messages)).toEqual([CLOSED]);
      expect(only(cancelled.messages, CLOSED).data).toMatchObject({ final_status: 'cancelled', successful_essay_ids: [], reason: 'teacher cancelled' });
      expect(cancelled.snapshot.context.final_reason).toBe('teacher cancelled');
      expect(cancelled.snapshot.context.parked).toBeNull();
    },
  );

  it('cancel while processing tells the phase in flight (BatchPhaseCancelCommandV1)', () => {
    const cancelled = step(at(S.PROCESSING_PIPELINES, PROCESSING_SPELLCHECK), cancelRequested());
    expect(cancelled.snapshot.value).toBe(S.CANCELLED);
    expect(topics(cancelled.messages)).toEqual([PHASE_CANCEL, CLOSED]);
    expect(only(cancelled.messages, PHASE_CANCEL).data).toEqual({
      batch_id: BATCH,
      run_id: 1,
      phase_name: 'spellcheck',
      essay_ids: ['e1', 'e2', 'e3'],
      reason: 'cancelled by user',
    });
  });

  it('cancel during the second phase names that phase and only its essays', () => {
    const steps = drive(at(S.READY_FOR_PIPELINE_EXECUTION, READY), [pipelineRequested('nlp'), spellcheckE2Failed, cancelRequested('stop')]);
    expect(only(steps[2]!.messages, PHASE_CANCEL).data).toEqual({ batch_id: BATCH, run_id: 1, phase_name: 'nlp', essay_ids: ['e1', 'e3'], reason: 'stop' });
    expect(only(steps[2]!.messages, CLOSED).data).toMatchObject({ final_status: 'cancelled', failed_essay_ids: ['e2'] });
  });

  it.each(NON_FINAL_STATES)('critical BatchValidationErrorsV1 in %s -> failed_critically', (state) => {
    const failed = step(atDefault(state), validationErrors(true));
    expect(failed.snapshot.value).toBe(S.FAILED_CRITICALLY);
    expect(failed.snapshot.status).toBe('done');
    expect(only(failed.messages, CLOSED).data).toMatchObject({ final_status: 'failed_critically', successful_essay_ids: [] });
    expect(ofType(failed.messages, PHASE_CANCEL)).toHaveLength(state === S.PROCESSING_PIPELINES ? 1 : 0);
    expect(failed.snapshot.context.final_reason).toContain('critical');
  });

  it.each(NON_FINAL_STATES)('non-critical BatchValidationErrorsV1 in %s stays and counts the errors', (state) => {
    const steps = drive(atDefault(state), [validationErrors(false, 2), validationErrors(false, 3)]);
    expect(steps.map((s) => s.snapshot.value)).toEqual([state, state]);
    expect(steps[1]!.snapshot.context.validation_error_count).toBe(5);
    expect(allMessages(steps)).toEqual([]);
  });

  it('no usable essay -> content_ingestion_failed (final), nothing emitted', () => {
    for (const options of [{}, { class_id: CLASS }]) {
      const failed = step(register(options).snapshot, provisioned([]));
      expect(failed.snapshot.value).toBe(S.CONTENT_INGESTION_FAILED);
      expect(failed.snapshot.status).toBe('done');
      expect(failed.messages).toEqual([]);
      expect(failed.snapshot.context.final_reason).toContain('no usable essay');
    }
  });
});

// ---------------------------------------------------------------------------------------------
// 10. Correlation, timestamps and message validity

describe('correlation and message shape', () => {
  /** Each event gets its own correlation id and timestamp. */
  const corr = (n: number) => `44444444-4444-4444-8444-${String(n).padStart(12, '0')}`;
  const when = (n: number) => ({ at: T(n), correlation_id: corr(n) });

  const EVENTS: readonly BatchEvent[] = [
    provisioned(ORIGINAL, when(1), 'SV1'),
    confirmed(false, when(2)),
    essaysReady(ORIGINAL, when(3)),
    pipelineRequested('nlp', {}, when(4)),
    phaseOutcome('spellcheck', 'completed_with_failures', CORRECTED_BUT_E2, { failed: ['e2'], run_id: 1 }, when(5)),
    phaseOutcome('nlp', 'completed_successfully', CORRECTED_BUT_E2, { run_id: 1 }, when(6)),
    pipelineRequested('ai_feedback', {}, when(7)),
    phaseOutcome('ai_feedback', 'completed_successfully', CORRECTED_BUT_E2, { run_id: 2 }, when(8)),
    pipelineRequested('cj_assessment', {}, when(9)),
    cancelRequested('done here', when(10)),
  ];

  const run = () => scenario({ class_id: CLASS, course_code: 'SV1', student_prompt_ref: PROMPT }, EVENTS);

  it('every emitted message carries the causing event\'s correlation_id and timestamp', () => {
    const { steps } = run();
    expect(steps.map((s) => s.snapshot.value).at(-1)).toBe(S.CANCELLED);
    steps.forEach((s, index) => {
      const cause = EVENTS[index]!;
      for (const message of s.messages) {
        expect(message.correlation_id, message.type).toBe(cause.meta.correlation_id);
        expect(message.event_timestamp, message.type).toBe(cause.meta.timestamp);
        expect(message.source_service).toBe('batch_orchestrator_service');
        expect(message.schema_version).toBe(1);
      }
    });
  });

  it('every emitted message is valid per the zod schema of its topic, and every topic is exercised', () => {
    const { messages } = run();
    const denied = step(at(S.READY_FOR_PIPELINE_EXECUTION, READY, denyAll), pipelineRequested('cj_assessment'), denyAll).messages;
    const all = [...messages, ...denied];
    for (const message of all) {
      const definition = definitionOf(message.type);
      expect(definition, message.type).toBeDefined();
      const parsed = definition!.data.safeParse(message.data);
      expect(parsed.success, `${message.type}: ${parsed.success ? '' : parsed.error.message}`).toBe(true);
    }
    expect(new Set(topics(all))).toEqual(new Set(ALL_TOPICS));
  });

  it('course_code propagates into the commands (language derived from it)', () => {
    const { messages } = run();
    expect(only(messages, MATCHING_CMD).data.course_code).toBe('SV1');
    expect(only(messages, AI_CMD).data.course_code).toBe('SV1');
    expect(only(messages, CJ_CMD).data.course_code).toBe('SV1');
    expect(only(messages, CJ_CMD).data.class_type).toBe('REGULAR');
    for (const command of [only(messages, SPELLCHECK_CMD), only(messages, NLP_CMD), only(messages, AI_CMD), only(messages, CJ_CMD)]) {
      expect(command.data.language).toBe('sv');
    }
  });

  it('the default correlation id of the helpers is used when none is given', () => {
    const started = step(atDefault(S.READY_FOR_PIPELINE_EXECUTION), pipelineRequested('nlp'));
    expect(started.messages.every((message) => message.correlation_id === CORRELATION)).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// 11. JSON round trip of persisted snapshots

interface Persisted {
  readonly status: string;
  readonly value: BatchStatus;
  readonly context: BatchContext;
}

function restore(snapshot: BatchSnapshot): BatchSnapshot {
  const persisted = jsonRoundTrip(batchMachine.getPersistedSnapshot(snapshot)) as unknown as Persisted;
  const restored = batchMachine.resolveState({ value: persisted.value, context: persisted.context });
  expect(persisted.status).toBe(snapshot.status);
  return restored;
}

function expectSameStep(a: Step, b: Step): void {
  expect(b.snapshot.value).toBe(a.snapshot.value);
  expect(b.snapshot.status).toBe(a.snapshot.status);
  expect(b.snapshot.context).toEqual(a.snapshot.context);
  expect(b.messages).toEqual(a.messages);
}

describe('persistence round trip', () => {
  const ROUND_TRIP_PATHS: Record<string, Path> = {
    ...PATHS,
    'second pipeline after a partial failure': {
      registration: { student_prompt_ref: PROMPT },
      events: [
        provisioned(),
        pipelineRequested('nlp'),
        spellcheckE2Failed,
        phaseOutcome('nlp', 'completed_successfully', CORRECTED_BUT_E2, { run_id: 1 }),
        pipelineRequested('cj_assessment'),
        phaseOutcome('cj_assessment', 'completed_successfully', CORRECTED_BUT_E2, { run_id: 2 }),
        closeRequested(),
      ],
      statuses: [],
    },
  };

  it.each(Object.entries(ROUND_TRIP_PATHS))('%s: every visited snapshot survives JSON and continues identically', (_name, path) => {
    const run = scenario(path.registration, path.events);
    run.snapshots.forEach((snapshot, index) => {
      const restored = restore(snapshot);
      expect(restored.value).toBe(snapshot.value);
      expect(restored.status).toBe(snapshot.status);
      expect(restored.context).toEqual(snapshot.context);
      const next = path.events[index];
      if (next === undefined) return;
      expectSameStep(step(snapshot, next), step(restored, next));
    });
  });

  it('every BatchStatus is round-tripped', () => {
    const visited = new Set<string>();
    for (const path of Object.values(ROUND_TRIP_PATHS)) for (const snapshot of scenario(path.registration, path.events).snapshots) visited.add(snapshot.value);
    expect(visited.size).toBe(12);
  });

  it('a restored processing batch still ignores duplicates and finishes the run once', () => {
    const [, inNlp] = drive(at(S.READY_FOR_PIPELINE_EXECUTION, READY), [pipelineRequested('nlp'), spellcheckOk]);
    const restored = restore(inNlp!.snapshot);
    expect(step(restored, spellcheckOk).messages).toEqual([]);
    const done = step(restored, phaseOutcome('nlp', 'completed_successfully', CORRECTED, { run_id: 1 }));
    expect(topics(done.messages)).toEqual([COMPLETED]);
  });
});

// ---------------------------------------------------------------------------------------------
// 12. Types

describe('types', () => {
  it('a PIPELINE_REQUESTED BatchEvent carries ClientBatchPipelineRequestV1 data', () => {
    expectTypeOf<EventOf<'PIPELINE_REQUESTED'>['data']>().toEqualTypeOf<EventData<'ClientBatchPipelineRequestV1'>>();
    expectTypeOf<Extract<BatchEvent, { type: 'PHASE_OUTCOME' }>['data']>().toEqualTypeOf<EventData<'ELSBatchPhaseOutcomeV1'>>();
    expectTypeOf<BatchInput['data']>().toEqualTypeOf<EventData<'BatchEssaysRegistered'>>();
    expectTypeOf<BatchEvent['type']>().toEqualTypeOf<(typeof BATCH_EVENT_TYPES)[number]>();
  });
});
