/**
 * The essay machine, driven with xstate's pure functions (`initialTransition`, `transition`):
 * its transition table (reference.md 2.1 plus the content rows and the editor-revision /
 * grammar-check phases of domain.md), every refusal, the reference's scenarios (2.3), the
 * messages it emits, and the JSON round trip of its snapshots.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import { initialTransition, transition, type SnapshotFrom } from 'xstate';
import type { EventData } from '../machines/contracts/events.js';
import { EssayStatus, type PipelinePhase } from '../machines/contracts/statuses.js';
import { ESSAY_EVENT_TYPES, essayMachine, type EssayContext, type EssayEmitted, type EssayEvent } from '../machines/essay.js';
import {
  ESSAY_STATES,
  ESSAY_TRANSITIONS,
  REFERENCE_ESSAY_TRANSITIONS,
  phaseOfTrigger,
  sourcesOf,
  stepOfTrigger,
} from '../machines/essay-table.js';
import { emitted, jsonRoundTrip, meta } from './support/xstate-helpers.js';

type EssaySnapshot = SnapshotFrom<typeof essayMachine>;
type EssayEventType = EssayEvent['type'];
type PhaseResult = Extract<EssayEmitted, { type: 'huleedu.els.essay.phase.result.v1' }>;
type CriticalFailure = Extract<EssayEmitted, { type: 'huleedu.els.essay.critical.failure.v1' }>;

/** Optional fields of an EssayTransitionRequestedV1 (and the text id of a SLOT_ASSIGNED). */
interface Extra {
  readonly run_id?: number;
  readonly text_storage_id?: string;
  readonly reason?: string;
}

const S = EssayStatus;
const BATCH_ID = 'batch-1';
const ESSAY_ID = 'essay-1';
const RUN_ID = 7;
const ORIGINAL_TEXT = 'text-original';
const CURRENT_TEXT = 'text-current';
const CORRECTED_TEXT = 'text-corrected';
/** The meta of a cause whose correlation_id and timestamp must reappear in what it emits. */
const CAUSE = meta({
  event_id: '22222222-2222-4222-8222-222222222222',
  correlation_id: '33333333-3333-4333-8333-333333333333',
  timestamp: '2026-03-04T05:06:07.000Z',
});

// ---------------------------------------------------------------------------------------------
// Builders

/** The machine event of `type` for essay-1 of batch-1, with well-formed data. */
function ev(type: EssayEventType, extra: Extra = {}, eventMeta = meta()): EssayEvent {
  if (type === 'SLOT_ASSIGNED') {
    const data: EventData<'EssaySlotAssignedV1'> = {
      batch_id: BATCH_ID,
      essay_id: ESSAY_ID,
      file_upload_id: 'upload-1',
      text_storage_id: extra.text_storage_id ?? ORIGINAL_TEXT,
      original_file_name: 'essay.txt',
    };
    return { type, data, meta: eventMeta };
  }
  if (type === 'CONTENT_FAILED') {
    const data: EventData<'EssayContentFailedV1'> = {
      batch_id: BATCH_ID,
      essay_id: ESSAY_ID,
      file_upload_id: 'upload-1',
      original_file_name: 'essay.txt',
      validation_error_code: 'EMPTY_CONTENT',
    };
    return { type, data, meta: eventMeta };
  }
  const data: EventData<'EssayTransitionRequestedV1'> = { essay_id: ESSAY_ID, batch_id: BATCH_ID, trigger: type, ...extra };
  return { type, data, meta: eventMeta } as EssayEvent;
}

/** A new essay, in `uploaded`. */
function fresh(): EssaySnapshot {
  const [snapshot] = initialTransition(essayMachine, {
    data: { batch_id: BATCH_ID, essay_id: ESSAY_ID, slot_index: 0 },
    meta: meta(),
  });
  return snapshot;
}

/** The pipeline phase a state belongs to (null for content, terminal, editor and grammar states). */
function phaseOfState(state: EssayStatus): PipelinePhase | null {
  if (state.includes('spellcheck')) return 'spellcheck';
  if (state.includes('ai_feedback')) return 'ai_feedback';
  if (state.includes('cj_assessment')) return 'cj_assessment';
  if (state.includes('nlp')) return 'nlp';
  return null;
}

/** A context like the machine's initial one, as an essay in `state` would have it. */
function contextFor(state: EssayStatus, overrides: Partial<EssayContext> = {}): EssayContext {
  const phase = phaseOfState(state);
  const content = state !== S.UPLOADED && state !== S.CONTENT_INGESTION_FAILED;
  return {
    ...fresh().context,
    text_storage_id: content ? CURRENT_TEXT : null,
    file_upload_id: content ? 'upload-1' : null,
    original_file_name: content ? 'essay.txt' : null,
    run_id: phase === null ? null : RUN_ID,
    phase,
    commanded_phases: phase === null ? [] : [phase],
    ...overrides,
  };
}

/** An essay put directly into `state`. */
function at(state: EssayStatus, overrides: Partial<EssayContext> = {}): EssaySnapshot {
  return essayMachine.resolveState({ value: state, context: contextFor(state, overrides) });
}

/** One step of a scenario: an event type, or an event type with extra fields. */
type Step = EssayEventType | readonly [EssayEventType, Extra];

function eventOf(step: Step, eventMeta = meta()): EssayEvent {
  return typeof step === 'string' ? ev(step, {}, eventMeta) : ev(step[0], step[1], eventMeta);
}

/** Runs `steps` from `start`, asserting each is accepted; every snapshot and every emitted message. */
function drive(steps: readonly Step[], start: EssaySnapshot = fresh()) {
  const snapshots: EssaySnapshot[] = [start];
  const messages: EssayEmitted[] = [];
  let current = start;
  for (const step of steps) {
    const event = eventOf(step);
    const [next, actions] = transition(essayMachine, current, event);
    expect(next, `${event.type} refused`).not.toBe(current);
    snapshots.push(next);
    messages.push(...emitted<EssayEmitted>(actions));
    current = next;
  }
  return { snapshots, messages, final: current };
}

/** The event types `snapshot.can` accepts, in ESSAY_EVENT_TYPES order. */
function acceptedTypes(snapshot: EssaySnapshot): EssayEventType[] {
  return ESSAY_EVENT_TYPES.filter((type) => snapshot.can(ev(type)));
}

// ---------------------------------------------------------------------------------------------
// Scenario paths (reused by the round-trip tests)

const INIT_SPELLCHECK: Step = ['CMD_INITIATE_SPELLCHECK', { run_id: 1 }];
const SPELLCHECK_OK: Step = ['EVT_SPELLCHECK_SUCCEEDED', { text_storage_id: CORRECTED_TEXT }];

const PATHS = {
  spellcheckSuccess: ['SLOT_ASSIGNED', INIT_SPELLCHECK, 'EVT_SPELLCHECK_STARTED', SPELLCHECK_OK],
  spellcheckFailedInProgress: ['SLOT_ASSIGNED', INIT_SPELLCHECK, 'EVT_SPELLCHECK_STARTED', ['EVT_SPELLCHECK_FAILED', { reason: 'timeout' }]],
  spellcheckFailedAwaiting: ['SLOT_ASSIGNED', INIT_SPELLCHECK, 'EVT_SPELLCHECK_FAILED'],
  contentFailed: ['CONTENT_FAILED'],
  spellcheckAiComplete: [
    'SLOT_ASSIGNED',
    INIT_SPELLCHECK,
    'EVT_SPELLCHECK_STARTED',
    SPELLCHECK_OK,
    ['CMD_INITIATE_AI_FEEDBACK', { run_id: 2 }],
    'EVT_AI_FEEDBACK_STARTED',
    'EVT_AI_FEEDBACK_SUCCEEDED',
    'CMD_MARK_PIPELINE_COMPLETE',
  ],
  spellcheckCjComplete: [
    'SLOT_ASSIGNED',
    INIT_SPELLCHECK,
    'EVT_SPELLCHECK_STARTED',
    SPELLCHECK_OK,
    ['CMD_INITIATE_CJ_ASSESSMENT', { run_id: 1 }],
    'EVT_CJ_ASSESSMENT_STARTED',
    'EVT_CJ_ASSESSMENT_SUCCEEDED',
    'CMD_MARK_PIPELINE_COMPLETE',
  ],
  spellcheckAiCjComplete: [
    'SLOT_ASSIGNED',
    INIT_SPELLCHECK,
    'EVT_SPELLCHECK_STARTED',
    SPELLCHECK_OK,
    ['CMD_INITIATE_AI_FEEDBACK', { run_id: 2 }],
    'EVT_AI_FEEDBACK_STARTED',
    'EVT_AI_FEEDBACK_SUCCEEDED',
    ['CMD_INITIATE_CJ_ASSESSMENT', { run_id: 3 }],
    'EVT_CJ_ASSESSMENT_STARTED',
    'EVT_CJ_ASSESSMENT_SUCCEEDED',
    'CMD_MARK_PIPELINE_COMPLETE',
  ],
  nlpThenAiFailure: [
    'SLOT_ASSIGNED',
    INIT_SPELLCHECK,
    SPELLCHECK_OK,
    ['CMD_INITIATE_NLP', { run_id: 2 }],
    'EVT_NLP_SUCCEEDED',
    ['CMD_INITIATE_AI_FEEDBACK', { run_id: 2 }],
    ['EVT_AI_FEEDBACK_FAILED', { reason: 'model unavailable' }],
  ],
  editorRevision: [
    'SLOT_ASSIGNED',
    INIT_SPELLCHECK,
    SPELLCHECK_OK,
    ['CMD_INITIATE_EDITOR_REVISION', { run_id: 2 }],
    'EVT_EDITOR_REVISION_STARTED',
    'EVT_EDITOR_REVISION_SUCCEEDED',
  ],
  grammarCheck: [
    'SLOT_ASSIGNED',
    INIT_SPELLCHECK,
    SPELLCHECK_OK,
    ['CMD_INITIATE_GRAMMAR_CHECK', { run_id: 2 }],
    'EVT_GRAMMAR_CHECK_STARTED',
    ['EVT_GRAMMAR_CHECK_FAILED', { reason: 'x' }],
  ],
  criticalAfterCompletion: ['SLOT_ASSIGNED', INIT_SPELLCHECK, SPELLCHECK_OK, 'CMD_MARK_PIPELINE_COMPLETE', 'EVT_CRITICAL_FAILURE', 'EVT_CRITICAL_FAILURE'],
} satisfies Record<string, readonly Step[]>;

// ---------------------------------------------------------------------------------------------
// 1. The transition table

/** reference.md 2.1, transcribed independently of machines/essay-table.ts. */
const REFERENCE_2_1: readonly (readonly [string, readonly string[] | '*', string])[] = [
  ['CMD_INITIATE_SPELLCHECK', ['ready_for_processing'], 'awaiting_spellcheck'],
  ['EVT_SPELLCHECK_STARTED', ['awaiting_spellcheck'], 'spellchecking_in_progress'],
  ['EVT_SPELLCHECK_SUCCEEDED', ['spellchecking_in_progress', 'awaiting_spellcheck'], 'spellchecked_success'],
  ['EVT_SPELLCHECK_FAILED', ['spellchecking_in_progress', 'awaiting_spellcheck'], 'spellcheck_failed'],
  ['CMD_INITIATE_AI_FEEDBACK', ['spellchecked_success', 'nlp_success', 'cj_assessment_success'], 'awaiting_ai_feedback'],
  ['EVT_AI_FEEDBACK_STARTED', ['awaiting_ai_feedback'], 'ai_feedback_processing_in_progress'],
  ['EVT_AI_FEEDBACK_SUCCEEDED', ['ai_feedback_processing_in_progress'], 'ai_feedback_success'],
  ['EVT_AI_FEEDBACK_FAILED', ['ai_feedback_processing_in_progress', 'awaiting_ai_feedback'], 'ai_feedback_failed'],
  ['CMD_INITIATE_CJ_ASSESSMENT', ['spellchecked_success', 'ai_feedback_success', 'nlp_success'], 'awaiting_cj_assessment'],
  ['EVT_CJ_ASSESSMENT_STARTED', ['awaiting_cj_assessment'], 'cj_assessment_processing_in_progress'],
  ['EVT_CJ_ASSESSMENT_SUCCEEDED', ['cj_assessment_processing_in_progress', 'awaiting_cj_assessment'], 'cj_assessment_success'],
  ['EVT_CJ_ASSESSMENT_FAILED', ['cj_assessment_processing_in_progress', 'awaiting_cj_assessment'], 'cj_assessment_failed'],
  ['CMD_INITIATE_NLP', ['spellchecked_success', 'ai_feedback_success', 'cj_assessment_success'], 'awaiting_nlp'],
  ['EVT_NLP_STARTED', ['awaiting_nlp'], 'nlp_processing_in_progress'],
  ['EVT_NLP_SUCCEEDED', ['nlp_processing_in_progress', 'awaiting_nlp'], 'nlp_success'],
  ['EVT_NLP_FAILED', ['nlp_processing_in_progress', 'awaiting_nlp'], 'nlp_failed'],
  [
    'CMD_MARK_PIPELINE_COMPLETE',
    ['spellchecked_success', 'ai_feedback_success', 'cj_assessment_success', 'nlp_success'],
    'all_processing_completed',
  ],
  ['EVT_CRITICAL_FAILURE', '*', 'essay_critical_failure'],
];

/** Every (event, source, destination) of the table, `*` expanded. */
const TABLE_CASES = ESSAY_TRANSITIONS.flatMap((row) => sourcesOf(row).map((from) => [row.event, from, row.to] as const));
const pairKey = (state: string, type: string) => `${state} ${type}`;
const ACCEPTED_PAIRS = new Set(TABLE_CASES.map(([type, from]) => pairKey(from, type)));

describe('essay transition table', () => {
  it('has exactly the reference 18 rows, equal to reference.md 2.1', () => {
    expect(REFERENCE_ESSAY_TRANSITIONS.length).toBe(18);
    const sorted = (from: readonly string[] | '*') => (from === '*' ? '*' : [...from].sort());
    expect(REFERENCE_ESSAY_TRANSITIONS.map((row) => [row.event, sorted(row.from), row.to])).toEqual(
      REFERENCE_2_1.map(([event, from, to]) => [event, sorted(from), to]),
    );
  });

  it('the machine has exactly the 31 EssayStatus values as states and handles every essay event type', () => {
    const states = Object.keys(essayMachine.root.states);
    expect(states).toHaveLength(31);
    expect([...states].sort()).toEqual([...Object.values(EssayStatus)].sort());
    expect([...ESSAY_STATES].sort()).toEqual([...Object.values(EssayStatus)].sort());
    expect(new Set(essayMachine.root.events)).toEqual(new Set(ESSAY_EVENT_TYPES));
  });

  it.each(TABLE_CASES)('%s moves %s to %s', (type, from, to) => {
    const snapshot = at(from);
    const [next] = transition(essayMachine, snapshot, ev(type, { run_id: RUN_ID }));
    expect(next).not.toBe(snapshot);
    expect(next.value).toBe(to);
    expect(snapshot.can(ev(type))).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// 2. Refusals, generated from the definition

describe('essay refusals', () => {
  it.each(ESSAY_STATES)('from %s every event without a row is refused (same snapshot, no actions)', (state) => {
    const snapshot = at(state);
    for (const type of ESSAY_EVENT_TYPES) {
      if (ACCEPTED_PAIRS.has(pairKey(state, type))) continue;
      const [next, actions] = transition(essayMachine, snapshot, ev(type, { run_id: RUN_ID, text_storage_id: 'text-x' }));
      expect(next, pairKey(state, type)).toBe(snapshot);
      expect(actions, pairKey(state, type)).toEqual([]);
      expect(snapshot.can(ev(type)), pairKey(state, type)).toBe(false);
    }
  });

  it('accepts exactly the (state, event) pairs of the table and refuses all the others', () => {
    const expectedAccepted = ACCEPTED_PAIRS.size;
    const expectedRefused = ESSAY_STATES.length * ESSAY_EVENT_TYPES.length - expectedAccepted;
    const accepted = new Set<string>();
    let refused = 0;
    for (const state of ESSAY_STATES) {
      const snapshot = at(state);
      for (const type of ESSAY_EVENT_TYPES) {
        const [next] = transition(essayMachine, snapshot, ev(type, { run_id: RUN_ID }));
        if (next === snapshot) refused += 1;
        else accepted.add(pairKey(state, type));
      }
    }
    expect(accepted).toEqual(ACCEPTED_PAIRS);
    expect(accepted.size).toBe(expectedAccepted);
    expect(refused).toBe(expectedRefused);
    expect(accepted.size + refused).toBe(31 * ESSAY_EVENT_TYPES.length);
  });

  it('an unknown event type is refused and changes nothing', () => {
    const snapshot = at(S.READY_FOR_PROCESSING);
    const unknown = { ...ev('CMD_INITIATE_SPELLCHECK'), type: 'CMD_DOES_NOT_EXIST' } as unknown as EssayEvent;
    const [next, actions] = transition(essayMachine, snapshot, unknown);
    expect(next).toBe(snapshot);
    expect(actions).toEqual([]);
    expect(snapshot.can(unknown)).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------
// 3. The reference's scenarios (reference.md 2.3)

describe('essay scenarios (reference.md 2.3)', () => {
  it('a new essay starts in uploaded with the slot data and nothing else', () => {
    const snapshot = fresh();
    expect(snapshot.value).toBe(S.UPLOADED);
    expect(snapshot.context).toEqual({
      essay_id: ESSAY_ID,
      batch_id: BATCH_ID,
      slot_index: 0,
      text_storage_id: null,
      file_upload_id: null,
      original_file_name: null,
      run_id: null,
      phase: null,
      commanded_phases: [],
      failure: null,
    });
  });

  it.each(ESSAY_STATES)('an essay can be initialized in %s and reports it', (state) => {
    const snapshot = at(state);
    expect(snapshot.value).toBe(state);
    expect(snapshot.status).toBe('active');
    expect(snapshot.matches(state)).toBe(true);
  });

  describe('spellcheck workflow', () => {
    it('ready -> awaiting (CMD) -> in progress (STARTED) -> spellchecked_success', () => {
      const { snapshots } = drive(['SLOT_ASSIGNED', INIT_SPELLCHECK, 'EVT_SPELLCHECK_STARTED', SPELLCHECK_OK]);
      expect(snapshots.map((s) => s.value)).toEqual([
        S.UPLOADED,
        S.READY_FOR_PROCESSING,
        S.AWAITING_SPELLCHECK,
        S.SPELLCHECKING_IN_PROGRESS,
        S.SPELLCHECKED_SUCCESS,
      ]);
    });

    it('success straight from awaiting_spellcheck', () => {
      expect(drive(['EVT_SPELLCHECK_SUCCEEDED'], at(S.AWAITING_SPELLCHECK)).final.value).toBe(S.SPELLCHECKED_SUCCESS);
    });

    it('FAILED from in progress -> spellcheck_failed', () => {
      expect(drive(PATHS.spellcheckFailedInProgress).final.value).toBe(S.SPELLCHECK_FAILED);
    });

    it('FAILED from awaiting -> spellcheck_failed', () => {
      expect(drive(PATHS.spellcheckFailedAwaiting).final.value).toBe(S.SPELLCHECK_FAILED);
    });
  });

  describe('AI feedback workflow', () => {
    it('spellchecked_success -> awaiting -> in progress -> ai_feedback_success', () => {
      const { snapshots } = drive(['CMD_INITIATE_AI_FEEDBACK', 'EVT_AI_FEEDBACK_STARTED', 'EVT_AI_FEEDBACK_SUCCEEDED'], at(S.SPELLCHECKED_SUCCESS));
      expect(snapshots.map((s) => s.value)).toEqual([
        S.SPELLCHECKED_SUCCESS,
        S.AWAITING_AI_FEEDBACK,
        S.AI_FEEDBACK_IN_PROGRESS,
        S.AI_FEEDBACK_SUCCESS,
      ]);
    });

    it('failure from in progress and from awaiting -> ai_feedback_failed', () => {
      expect(drive(['EVT_AI_FEEDBACK_FAILED'], at(S.AI_FEEDBACK_IN_PROGRESS)).final.value).toBe(S.AI_FEEDBACK_FAILED);
      expect(drive(['EVT_AI_FEEDBACK_FAILED'], at(S.AWAITING_AI_FEEDBACK)).final.value).toBe(S.AI_FEEDBACK_FAILED);
    });

    it('EVT_AI_FEEDBACK_SUCCEEDED from awaiting_ai_feedback is refused (the asymmetry)', () => {
      const snapshot = at(S.AWAITING_AI_FEEDBACK);
      const [next, actions] = transition(essayMachine, snapshot, ev('EVT_AI_FEEDBACK_SUCCEEDED'));
      expect(next).toBe(snapshot);
      expect(actions).toEqual([]);
      expect(next.value).toBe(S.AWAITING_AI_FEEDBACK);
    });
  });

  describe('CJ assessment workflow', () => {
    it.each([S.SPELLCHECKED_SUCCESS, S.AI_FEEDBACK_SUCCESS])('initiation from %s -> awaiting_cj_assessment', (from) => {
      expect(drive(['CMD_INITIATE_CJ_ASSESSMENT'], at(from)).final.value).toBe(S.AWAITING_CJ_ASSESSMENT);
    });

    it('awaiting -> in progress -> cj_assessment_success; success also straight from awaiting', () => {
      const { snapshots } = drive(['EVT_CJ_ASSESSMENT_STARTED', 'EVT_CJ_ASSESSMENT_SUCCEEDED'], at(S.AWAITING_CJ_ASSESSMENT));
      expect(snapshots.map((s) => s.value)).toEqual([S.AWAITING_CJ_ASSESSMENT, S.CJ_ASSESSMENT_IN_PROGRESS, S.CJ_ASSESSMENT_SUCCESS]);
      expect(drive(['EVT_CJ_ASSESSMENT_SUCCEEDED'], at(S.AWAITING_CJ_ASSESSMENT)).final.value).toBe(S.CJ_ASSESSMENT_SUCCESS);
    });

    it('failure from in progress and from awaiting -> cj_assessment_failed', () => {
      expect(drive(['EVT_CJ_ASSESSMENT_FAILED'], at(S.CJ_ASSESSMENT_IN_PROGRESS)).final.value).toBe(S.CJ_ASSESSMENT_FAILED);
      expect(drive(['EVT_CJ_ASSESSMENT_FAILED'], at(S.AWAITING_CJ_ASSESSMENT)).final.value).toBe(S.CJ_ASSESSMENT_FAILED);
    });
  });

  describe('NLP workflow', () => {
    it.each([S.SPELLCHECKED_SUCCESS, S.AI_FEEDBACK_SUCCESS])('initiation from %s -> awaiting_nlp', (from) => {
      expect(drive(['CMD_INITIATE_NLP'], at(from)).final.value).toBe(S.AWAITING_NLP);
    });

    it('awaiting -> in progress -> nlp_success', () => {
      const { snapshots } = drive(['EVT_NLP_STARTED', 'EVT_NLP_SUCCEEDED'], at(S.AWAITING_NLP));
      expect(snapshots.map((s) => s.value)).toEqual([S.AWAITING_NLP, S.NLP_IN_PROGRESS, S.NLP_SUCCESS]);
    });
  });

  it.each([S.SPELLCHECKED_SUCCESS, S.AI_FEEDBACK_SUCCESS, S.CJ_ASSESSMENT_SUCCESS, S.NLP_SUCCESS])(
    'CMD_MARK_PIPELINE_COMPLETE from %s -> all_processing_completed',
    (from) => {
      const [next, actions] = transition(essayMachine, at(from), ev('CMD_MARK_PIPELINE_COMPLETE'));
      expect(next.value).toBe(S.ALL_PROCESSING_COMPLETED);
      expect(emitted(actions)).toEqual([]);
    },
  );

  it.each([
    S.READY_FOR_PROCESSING,
    S.AWAITING_SPELLCHECK,
    S.SPELLCHECKING_IN_PROGRESS,
    S.SPELLCHECKED_SUCCESS,
    S.AWAITING_AI_FEEDBACK,
    S.AI_FEEDBACK_IN_PROGRESS,
    S.AWAITING_CJ_ASSESSMENT,
    S.CJ_ASSESSMENT_IN_PROGRESS,
  ])('EVT_CRITICAL_FAILURE from %s -> essay_critical_failure', (from) => {
    const [next] = transition(essayMachine, at(from), ev('EVT_CRITICAL_FAILURE'));
    expect(next.value).toBe(S.ESSAY_CRITICAL_FAILURE);
  });

  it('EVT_CRITICAL_FAILURE on essay_critical_failure is an accepted self-loop', () => {
    const snapshot = at(S.ESSAY_CRITICAL_FAILURE);
    const [next, actions] = transition(essayMachine, snapshot, ev('EVT_CRITICAL_FAILURE', { reason: 'again' }));
    expect(next).not.toBe(snapshot);
    expect(next.value).toBe(S.ESSAY_CRITICAL_FAILURE);
    expect(next.context.failure).toBe('again');
    expect(emitted(actions)).toHaveLength(1);
  });

  describe('multi-phase', () => {
    it('spellcheck -> AI feedback -> complete', () => {
      const { snapshots } = drive(PATHS.spellcheckAiComplete);
      expect(snapshots.map((s) => s.value).slice(4)).toEqual([
        S.SPELLCHECKED_SUCCESS,
        S.AWAITING_AI_FEEDBACK,
        S.AI_FEEDBACK_IN_PROGRESS,
        S.AI_FEEDBACK_SUCCESS,
        S.ALL_PROCESSING_COMPLETED,
      ]);
      expect(snapshots.at(-1)!.context.commanded_phases).toEqual(['spellcheck', 'ai_feedback']);
    });

    it('spellcheck -> CJ -> complete', () => {
      const { snapshots } = drive(PATHS.spellcheckCjComplete);
      expect(snapshots.map((s) => s.value).slice(4)).toEqual([
        S.SPELLCHECKED_SUCCESS,
        S.AWAITING_CJ_ASSESSMENT,
        S.CJ_ASSESSMENT_IN_PROGRESS,
        S.CJ_ASSESSMENT_SUCCESS,
        S.ALL_PROCESSING_COMPLETED,
      ]);
      expect(snapshots.at(-1)!.context.commanded_phases).toEqual(['spellcheck', 'cj_assessment']);
    });

    it('spellcheck -> AI feedback -> CJ -> complete', () => {
      const { snapshots } = drive(PATHS.spellcheckAiCjComplete);
      expect(snapshots.map((s) => s.value).slice(4)).toEqual([
        S.SPELLCHECKED_SUCCESS,
        S.AWAITING_AI_FEEDBACK,
        S.AI_FEEDBACK_IN_PROGRESS,
        S.AI_FEEDBACK_SUCCESS,
        S.AWAITING_CJ_ASSESSMENT,
        S.CJ_ASSESSMENT_IN_PROGRESS,
        S.CJ_ASSESSMENT_SUCCESS,
        S.ALL_PROCESSING_COMPLETED,
      ]);
      expect(snapshots.at(-1)!.context.commanded_phases).toEqual(['spellcheck', 'ai_feedback', 'cj_assessment']);
    });
  });

  it('a second CMD_INITIATE_SPELLCHECK is refused and the essay stays awaiting_spellcheck', () => {
    const { final } = drive(['SLOT_ASSIGNED', INIT_SPELLCHECK]);
    const [next, actions] = transition(essayMachine, final, ev('CMD_INITIATE_SPELLCHECK', { run_id: 2 }));
    expect(next).toBe(final);
    expect(actions).toEqual([]);
    expect(next.value).toBe(S.AWAITING_SPELLCHECK);
    expect(next.context.run_id).toBe(1);
  });

  it.each(['EVT_SPELLCHECK_SUCCEEDED', 'EVT_AI_FEEDBACK_STARTED', 'CMD_INITIATE_CJ_ASSESSMENT', 'CMD_MARK_PIPELINE_COMPLETE'] as const)(
    'from ready_for_processing %s is refused and the state is unchanged',
    (type) => {
      const snapshot = at(S.READY_FOR_PROCESSING);
      const [next, actions] = transition(essayMachine, snapshot, ev(type));
      expect(next).toBe(snapshot);
      expect(actions).toEqual([]);
      expect(next.value).toBe(S.READY_FOR_PROCESSING);
    },
  );

  it('from all_processing_completed only EVT_CRITICAL_FAILURE is accepted', () => {
    const snapshot = at(S.ALL_PROCESSING_COMPLETED);
    expect(acceptedTypes(snapshot)).toEqual(['EVT_CRITICAL_FAILURE']);
    for (const type of ['CMD_INITIATE_SPELLCHECK', 'CMD_INITIATE_AI_FEEDBACK', 'CMD_INITIATE_CJ_ASSESSMENT', 'EVT_SPELLCHECK_STARTED'] as const) {
      expect(transition(essayMachine, snapshot, ev(type))[0], type).toBe(snapshot);
    }
  });

  it('can() flips after initiating spellcheck', () => {
    const ready = at(S.READY_FOR_PROCESSING);
    expect(ready.can(ev('CMD_INITIATE_SPELLCHECK'))).toBe(true);
    expect(ready.can(ev('EVT_CRITICAL_FAILURE'))).toBe(true);
    expect(ready.can(ev('EVT_SPELLCHECK_SUCCEEDED'))).toBe(false);
    expect(ready.can(ev('CMD_INITIATE_AI_FEEDBACK'))).toBe(false);
    expect(new Set(acceptedTypes(ready))).toEqual(new Set(['CMD_INITIATE_SPELLCHECK', 'EVT_CRITICAL_FAILURE']));

    const [awaiting] = transition(essayMachine, ready, ev('CMD_INITIATE_SPELLCHECK', { run_id: 1 }));
    expect(awaiting.can(ev('CMD_INITIATE_SPELLCHECK'))).toBe(false);
    expect(awaiting.can(ev('EVT_SPELLCHECK_SUCCEEDED'))).toBe(true);
    // As a set: ESSAY_EVENT_TYPES follows the event declarations' order, not the trigger table's.
    expect(new Set(acceptedTypes(awaiting))).toEqual(new Set(['EVT_SPELLCHECK_STARTED', 'EVT_SPELLCHECK_SUCCEEDED', 'EVT_SPELLCHECK_FAILED', 'EVT_CRITICAL_FAILURE']));
  });

  const RETRY_OF: Partial<Record<string, string>> = {
    spellcheck_failed: 'CMD_RETRY_SPELLCHECK',
    nlp_failed: 'CMD_RETRY_NLP',
    cj_assessment_failed: 'CMD_RETRY_CJ_ASSESSMENT',
    ai_feedback_failed: 'CMD_RETRY_AI_FEEDBACK',
  };

  it.each(ESSAY_STATES.filter((state) => state.endsWith('_failed')))('%s accepts only its phase retry (pipeline phases) and EVT_CRITICAL_FAILURE', (state) => {
    const retry = RETRY_OF[state];
    expect(new Set(acceptedTypes(at(state)))).toEqual(new Set(retry === undefined ? ['EVT_CRITICAL_FAILURE'] : [retry, 'EVT_CRITICAL_FAILURE']));
  });

  it.each(Object.entries(RETRY_OF))('%s --%s--> awaiting the same phase, with the new run recorded and the failure cleared', (state, retry) => {
    const failedAt = at(state as EssayStatus, { run_id: 1, failure: 'service outage', commanded_phases: ['spellcheck'] });
    const [next, actions] = transition(essayMachine, failedAt, ev(retry as EssayEventType, { run_id: 2, text_storage_id: 'text-retry' }));
    const phase = state.replace('_failed', '');
    expect(next.value).toBe(`awaiting_${phase}`);
    expect(next.context).toMatchObject({ run_id: 2, phase, failure: null, text_storage_id: 'text-retry' });
    expect(next.context.commanded_phases.at(-1)).toBe(phase);
    expect(actions).toEqual([]);
  });

  it('a retry trigger is refused outside its failed state (a succeeded essay is never re-run by a retry)', () => {
    for (const state of [S.SPELLCHECKED_SUCCESS, S.AWAITING_SPELLCHECK, S.NLP_FAILED, S.READY_FOR_PROCESSING] as const) {
      const snapshot = at(state);
      expect(transition(essayMachine, snapshot, ev('CMD_RETRY_SPELLCHECK', { run_id: 2 }))[0], state).toBe(snapshot);
    }
  });

  it('uploaded accepts only SLOT_ASSIGNED, CONTENT_FAILED, EVT_CRITICAL_FAILURE and EVT_CONTENT_INGESTION_STARTED', () => {
    expect(acceptedTypes(fresh())).toEqual(['SLOT_ASSIGNED', 'CONTENT_FAILED', 'EVT_CRITICAL_FAILURE', 'EVT_CONTENT_INGESTION_STARTED']);
  });

  it('content_ingesting moves on to text_extracted and both end in assignment or failure', () => {
    expect(acceptedTypes(at(S.CONTENT_INGESTING))).toEqual(['SLOT_ASSIGNED', 'CONTENT_FAILED', 'EVT_CRITICAL_FAILURE', 'EVT_TEXT_EXTRACTED']);
    expect(acceptedTypes(at(S.TEXT_EXTRACTED))).toEqual(['SLOT_ASSIGNED', 'CONTENT_FAILED', 'EVT_CRITICAL_FAILURE']);
  });
});

// ---------------------------------------------------------------------------------------------
// 4. Emitted messages

/** Every (terminal phase trigger, source) pair of the four pipeline phases, from the table. */
const PHASE_RESULT_CASES = TABLE_CASES.filter(
  ([type]) => phaseOfTrigger(type) !== undefined && (stepOfTrigger(type) === 'succeeded' || stepOfTrigger(type) === 'failed'),
);

describe('essay emitted messages', () => {
  it('covers all 15 terminal (trigger, source) pairs of the four pipeline phases', () => {
    expect(PHASE_RESULT_CASES).toHaveLength(15);
  });

  it.each(PHASE_RESULT_CASES)('%s from %s emits one phase result for the current run and phase', (type, from, to) => {
    const phase = phaseOfTrigger(type)!;
    const succeeded = stepOfTrigger(type) === 'succeeded';
    const snapshot = at(from);
    const [next, actions] = transition(essayMachine, snapshot, ev(type, {}, CAUSE));
    expect(next.value).toBe(to);
    const messages = emitted<EssayEmitted>(actions);
    expect(messages).toEqual([
      {
        type: 'huleedu.els.essay.phase.result.v1',
        correlation_id: CAUSE.correlation_id,
        event_timestamp: CAUSE.timestamp,
        source_service: 'essay_lifecycle_service',
        schema_version: 1,
        data: {
          batch_id: BATCH_ID,
          essay_id: ESSAY_ID,
          run_id: RUN_ID,
          phase_name: phase,
          succeeded,
          text_storage_id: CURRENT_TEXT,
        },
      } satisfies PhaseResult,
    ]);
    if (!succeeded) expect(next.context.failure).not.toBeNull();
  });

  it.each(PHASE_RESULT_CASES.filter(([type]) => stepOfTrigger(type) === 'succeeded'))(
    '%s from %s carrying a corrected text id reports and records it',
    (type, from) => {
      const [next, actions] = transition(essayMachine, at(from), ev(type, { text_storage_id: CORRECTED_TEXT }, CAUSE));
      const [message] = emitted<PhaseResult>(actions);
      expect(emitted(actions)).toHaveLength(1);
      expect(message!.data.text_storage_id).toBe(CORRECTED_TEXT);
      expect(message!.data.succeeded).toBe(true);
      expect(next.context.text_storage_id).toBe(CORRECTED_TEXT);
    },
  );

  it('no phase result when the essay has no run_id', () => {
    const { final, messages } = drive(['SLOT_ASSIGNED', 'CMD_INITIATE_SPELLCHECK', 'EVT_SPELLCHECK_STARTED', SPELLCHECK_OK]);
    expect(final.value).toBe(S.SPELLCHECKED_SUCCESS);
    expect(final.context.run_id).toBeNull();
    expect(messages).toEqual([]);
    const [failed, actions] = transition(essayMachine, at(S.AWAITING_NLP, { run_id: null }), ev('EVT_NLP_FAILED'));
    expect(failed.value).toBe(S.NLP_FAILED);
    expect(emitted(actions)).toEqual([]);
  });

  it('a whole spellcheck emits exactly one phase result, at the end', () => {
    const { messages } = drive(PATHS.spellcheckSuccess);
    expect(messages).toHaveLength(1);
    expect(messages[0]!.data).toEqual({
      batch_id: BATCH_ID,
      essay_id: ESSAY_ID,
      run_id: 1,
      phase_name: 'spellcheck',
      succeeded: true,
      text_storage_id: CORRECTED_TEXT,
    });
  });

  it('EVT_CRITICAL_FAILURE emits a critical failure message (with the reason when given)', () => {
    const [withReason, actions] = transition(essayMachine, at(S.AWAITING_CJ_ASSESSMENT), ev('EVT_CRITICAL_FAILURE', { reason: 'corrupt' }, CAUSE));
    expect(withReason.value).toBe(S.ESSAY_CRITICAL_FAILURE);
    expect(withReason.context.failure).toBe('corrupt');
    expect(emitted(actions)).toEqual([
      {
        type: 'huleedu.els.essay.critical.failure.v1',
        correlation_id: CAUSE.correlation_id,
        event_timestamp: CAUSE.timestamp,
        source_service: 'essay_lifecycle_service',
        schema_version: 1,
        data: { batch_id: BATCH_ID, essay_id: ESSAY_ID, reason: 'corrupt' },
      } satisfies CriticalFailure,
    ]);

    const [without, bare] = transition(essayMachine, fresh(), ev('EVT_CRITICAL_FAILURE', {}, CAUSE));
    expect(without.value).toBe(S.ESSAY_CRITICAL_FAILURE);
    expect(without.context.failure).toBe('critical_failure');
    const [message] = emitted<CriticalFailure>(bare);
    expect(emitted(bare)).toHaveLength(1);
    expect(message!.type).toBe('huleedu.els.essay.critical.failure.v1');
    expect(message!.data).toEqual({ batch_id: BATCH_ID, essay_id: ESSAY_ID });
    expect('reason' in message!.data).toBe(false);
  });

  it('SLOT_ASSIGNED records the text id, file and name, and emits nothing', () => {
    const [next, actions] = transition(essayMachine, fresh(), ev('SLOT_ASSIGNED', { text_storage_id: 'text-42' }));
    expect(next.value).toBe(S.READY_FOR_PROCESSING);
    expect(next.context.text_storage_id).toBe('text-42');
    expect(next.context.file_upload_id).toBe('upload-1');
    expect(next.context.original_file_name).toBe('essay.txt');
    expect(emitted(actions)).toEqual([]);
  });

  it('CONTENT_FAILED records the validation error, and emits nothing', () => {
    const [next, actions] = transition(essayMachine, fresh(), ev('CONTENT_FAILED'));
    expect(next.value).toBe(S.CONTENT_INGESTION_FAILED);
    expect(next.context.failure).toBe('EMPTY_CONTENT');
    expect(next.context.text_storage_id).toBeNull();
    expect(emitted(actions)).toEqual([]);
  });

  it('the newest text id is carried from spellcheck success into the next phase result', () => {
    const { messages, final } = drive(PATHS.spellcheckCjComplete);
    expect(final.context.text_storage_id).toBe(CORRECTED_TEXT);
    expect(messages.map((m) => m.type)).toEqual(['huleedu.els.essay.phase.result.v1', 'huleedu.els.essay.phase.result.v1']);
    expect(messages.map((m) => m.data)).toEqual([
      { batch_id: BATCH_ID, essay_id: ESSAY_ID, run_id: 1, phase_name: 'spellcheck', succeeded: true, text_storage_id: CORRECTED_TEXT },
      { batch_id: BATCH_ID, essay_id: ESSAY_ID, run_id: 1, phase_name: 'cj_assessment', succeeded: true, text_storage_id: CORRECTED_TEXT },
    ]);
  });

  it('each phase result names the run of its own initiation', () => {
    const { messages } = drive(PATHS.spellcheckAiCjComplete);
    expect(messages.map((m) => m.type === 'huleedu.els.essay.phase.result.v1' && [m.data.phase_name, m.data.run_id])).toEqual([
      ['spellcheck', 1],
      ['ai_feedback', 2],
      ['cj_assessment', 3],
    ]);
    const failure = drive(PATHS.nlpThenAiFailure);
    expect(failure.final.value).toBe(S.AI_FEEDBACK_FAILED);
    expect(failure.final.context.failure).toBe('model unavailable');
    expect(failure.messages.map((m) => m.data)).toEqual([
      { batch_id: BATCH_ID, essay_id: ESSAY_ID, run_id: 1, phase_name: 'spellcheck', succeeded: true, text_storage_id: CORRECTED_TEXT },
      { batch_id: BATCH_ID, essay_id: ESSAY_ID, run_id: 2, phase_name: 'nlp', succeeded: true, text_storage_id: CORRECTED_TEXT },
      { batch_id: BATCH_ID, essay_id: ESSAY_ID, run_id: 2, phase_name: 'ai_feedback', succeeded: false, text_storage_id: CORRECTED_TEXT },
    ]);
  });

  describe.each([
    ['EDITOR_REVISION', S.AWAITING_EDITOR_REVISION, S.EDITOR_REVISION_IN_PROGRESS, S.EDITOR_REVISION_SUCCESS, S.EDITOR_REVISION_FAILED],
    ['GRAMMAR_CHECK', S.AWAITING_GRAMMAR_CHECK, S.GRAMMAR_CHECK_IN_PROGRESS, S.GRAMMAR_CHECK_SUCCESS, S.GRAMMAR_CHECK_FAILED],
  ] as const)('%s four-state pattern', (name, awaiting, inProgress, success, failed) => {
    const initiate = `CMD_INITIATE_${name}` as const;
    const started = `EVT_${name}_STARTED` as const;
    const succeededType = `EVT_${name}_SUCCEEDED` as const;
    const failedType = `EVT_${name}_FAILED` as const;
    const start = () => drive(['SLOT_ASSIGNED', INIT_SPELLCHECK, SPELLCHECK_OK]).final;

    it.each([S.SPELLCHECKED_SUCCESS, S.AI_FEEDBACK_SUCCESS, S.CJ_ASSESSMENT_SUCCESS, S.NLP_SUCCESS])('initiates from %s', (from) => {
      expect(drive([initiate], at(from)).final.value).toBe(awaiting);
    });

    it('awaiting -> in progress -> success, with no phase result', () => {
      const { snapshots, messages } = drive([[initiate, { run_id: 2 }], started, succeededType], start());
      expect(snapshots.map((s) => s.value)).toEqual([S.SPELLCHECKED_SUCCESS, awaiting, inProgress, success]);
      expect(messages).toEqual([]);
    });

    it('success from awaiting, failure from awaiting and from in progress, with no phase result', () => {
      expect(drive([[initiate, { run_id: 2 }], succeededType], start()).final.value).toBe(success);
      const fromAwaiting = drive([[initiate, { run_id: 2 }], failedType], start());
      const fromInProgress = drive([[initiate, { run_id: 2 }], started, failedType], start());
      expect(fromAwaiting.final.value).toBe(failed);
      expect(fromInProgress.final.value).toBe(failed);
      expect([...fromAwaiting.messages, ...fromInProgress.messages]).toEqual([]);
    });

    it('its success and failure states accept only EVT_CRITICAL_FAILURE', () => {
      expect(acceptedTypes(at(success))).toEqual(['EVT_CRITICAL_FAILURE']);
      expect(acceptedTypes(at(failed))).toEqual(['EVT_CRITICAL_FAILURE']);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// 5. JSON round trip

/** The persisted snapshot after JSON, restored; then it must take `next` exactly like the original. */
function expectRoundTrip(snapshot: EssaySnapshot, next: EssayEvent): void {
  const persisted = jsonRoundTrip(essayMachine.getPersistedSnapshot(snapshot)) as unknown as {
    value: EssayStatus;
    context: EssayContext;
  };
  const restored = essayMachine.resolveState({ value: persisted.value, context: persisted.context });
  expect(restored.value).toEqual(snapshot.value);
  expect(restored.context).toEqual(snapshot.context);
  expect(acceptedTypes(restored)).toEqual(acceptedTypes(snapshot));

  const [original, originalActions] = transition(essayMachine, snapshot, next);
  const [fromRestored, restoredActions] = transition(essayMachine, restored, next);
  expect(fromRestored === restored).toBe(original === snapshot);
  expect(fromRestored.value).toEqual(original.value);
  expect(fromRestored.context).toEqual(original.context);
  expect(restoredActions.map((a) => a.type)).toEqual(originalActions.map((a) => a.type));
  expect(emitted(restoredActions)).toEqual(emitted(originalActions));
}

describe('essay JSON round trip', () => {
  it.each(Object.entries(PATHS))('every snapshot of the %s scenario survives JSON and takes the next event identically', (_name, steps) => {
    const { snapshots } = drive(steps);
    snapshots.forEach((snapshot, index) => {
      const step = steps[index];
      // after the last step: a critical failure (always accepted) and a refused spellcheck command
      const nexts = step === undefined ? [ev('EVT_CRITICAL_FAILURE', { reason: 'end' }, CAUSE), ev('EVT_SPELLCHECK_STARTED')] : [eventOf(step, CAUSE)];
      for (const next of nexts) expectRoundTrip(snapshot, next);
    });
  });

  it.each(ESSAY_STATES)('an essay in %s survives JSON and takes every event identically', (state) => {
    const snapshot = at(state);
    for (const type of ESSAY_EVENT_TYPES) expectRoundTrip(snapshot, ev(type, { run_id: RUN_ID, text_storage_id: 'text-y' }, CAUSE));
  });
});

// ---------------------------------------------------------------------------------------------
// 6. Types

describe('essay event types', () => {
  it('the data of a CMD_INITIATE_SPELLCHECK event is EssayTransitionRequestedV1', () => {
    expectTypeOf<Extract<EssayEvent, { type: 'CMD_INITIATE_SPELLCHECK' }>['data']>().toEqualTypeOf<
      EventData<'EssayTransitionRequestedV1'>
    >();
  });
});
