import { createActor, initialTransition, transition, type ExecutableActionObject } from 'xstate';
import { afterEach, describe, expect, expectTypeOf, it, vi } from 'vitest';
import type { EventMeta } from '../machines/contracts/envelope.js';
import type { EventData } from '../machines/contracts/events.js';
import { BatchAuthorMatchesSuggestedV1, StudentAssociationsConfirmedV1 } from '../machines/contracts/events-associations.js';
import { ValidationTimeoutProcessedV1 } from '../machines/contracts/events-internal.js';
import {
  ASSOCIATION_TIMEOUT_EVENT,
  associationsLifecycle,
  associationsMachine,
  createAssociationsMachine,
  explainAssociationsGuard,
  PHASE1_CONFIDENCE_SCORE,
  SYSTEM_TIMEOUT_USER,
  unknownStudentEmail,
  unknownStudentId,
  type AssociationsEmitted,
  type AssociationsEvent,
  type AssociationsInput,
  type AssociationsSnapshot,
} from '../machines/associations.js';

const DAY_MS = 86_400_000;
const SUGGESTED_AT = '2026-03-01T08:00:00.000Z';
const CORRELATION = '22222222-2222-4222-8222-222222222222';
const BATCH = 'batch-1';
const CLASS = 'class-1';

const meta = (overrides: Partial<EventMeta> = {}): EventMeta => ({
  event_id: '00000000-0000-4000-8000-000000000001',
  event_type: 'test.event.v1',
  correlation_id: CORRELATION,
  timestamp: SUGGESTED_AT,
  source_service: 'test',
  ...overrides,
});

/** Every message the machine emitted in one step, in order. */
const emittedOf = (actions: readonly ExecutableActionObject[]): AssociationsEmitted[] =>
  actions.filter((action) => action.type === 'xstate.emit').map((action) => (action.params as { event: AssociationsEmitted }).event);

type Suggested = Array<[essay_id: string, suggestions: Array<[student_id: string, score: number]>]>;

/** A suggestions payload, parsed by its zod schema (defaults applied as on the wire). */
const suggestions = (matches: Suggested): EventData<'BatchAuthorMatchesSuggestedV1'> =>
  BatchAuthorMatchesSuggestedV1.data.parse({
    batch_id: BATCH,
    class_id: CLASS,
    course_code: 'ENG5',
    match_results: matches.map(([essay_id, list]) => ({
      essay_id,
      suggestions: list.map(([student_id, confidence_score]) => ({ student_id, student_name: student_id, confidence_score })),
    })),
  });

const input = (matches: Suggested): AssociationsInput => ({ data: suggestions(matches), meta: meta() });

const validated = (
  associations: Array<[essay_id: string, student_id: string, confirmed: boolean]>,
  at = '2026-03-01T12:00:00.000Z',
): AssociationsEvent => ({
  type: 'ASSOCIATIONS_VALIDATED',
  data: { batch_id: BATCH, user_id: 'teacher-7', associations: associations.map(([essay_id, student_id, confirmed]) => ({ essay_id, student_id, confirmed })) },
  meta: meta({ timestamp: at, event_type: 'huleedu.class.student.associations.validated.v1' }),
});

const timerEvent = (timestamp = '2026-03-02T08:00:00.000Z'): AssociationsEvent => ({
  type: ASSOCIATION_TIMEOUT_EVENT,
  meta: meta({ timestamp, event_type: ASSOCIATION_TIMEOUT_EVENT }),
});

const THREE: Suggested = [
  ['e1', [['s1', 0.8]]],
  ['e2', [['s2', 0.9]]],
  ['e3', [['s3', 0.6]]],
];

const start = (matches: Suggested = THREE) => initialTransition(associationsMachine, input(matches));

afterEach(() => {
  vi.useRealTimers();
});

describe('associations machine: creation', () => {
  it('starts pending_validation with the first suggestion per essay, none for an essay without suggestion, and schedules the 24 h timer', () => {
    const [snapshot, actions] = start([
      ['e1', [['s1', 0.95], ['s9', 0.99]]],
      ['e2', []],
      ['e1', [['s5', 0.5]]],
    ]);
    expect(snapshot.value).toBe('pending_validation');
    expect(snapshot.context).toMatchObject({ batch_id: BATCH, class_id: CLASS, course_code: 'ENG5', suggested_at: SUGGESTED_AT, correlation_id: CORRELATION });
    expect(snapshot.context.associations).toEqual([
      { essay_id: 'e1', student_id: 's1', confidence_score: 0.95, status: 'pending_validation', validation_method: null, validated_by: null, validated_at: null },
    ]);
    expect(actions).toHaveLength(1);
    expect(actions[0]).toMatchObject({
      type: 'xstate.raise',
      params: { delay: DAY_MS, id: ASSOCIATION_TIMEOUT_EVENT, event: { type: ASSOCIATION_TIMEOUT_EVENT } },
    });
  });

  it('takes its event data type from the zod schema', () => {
    type Validated = Extract<AssociationsEvent, { type: 'ASSOCIATIONS_VALIDATED' }>;
    expectTypeOf<Validated['data']>().toEqualTypeOf<EventData<'StudentAssociationsValidatedV1'>>();
  });
});

describe('associations machine: timeout', () => {
  /** Scores 0.95, 0.7, 0.69, a null score (only reachable from a stored snapshot), and an essay with no suggestion. */
  const mixed = (): AssociationsSnapshot => {
    const [snapshot] = start([
      ['e95', [['s95', 0.95]]],
      ['e70', [['s70', 0.7]]],
      ['e69', [['s69', 0.69]]],
      ['none', []],
    ]);
    const nullScore = { ...snapshot.context.associations[0]!, essay_id: 'enull', student_id: 'snull', confidence_score: null };
    return associationsMachine.resolveState({
      value: 'pending_validation',
      context: { ...snapshot.context, associations: [...snapshot.context.associations, nullScore] },
    });
  };

  it('keeps students scoring >= 0.7 (0.7 included) and re-points the rest to the UNKNOWN student at 0.0', () => {
    const due = '2026-03-02T08:00:00.000Z';
    const [next, actions] = transition(associationsMachine, mixed(), timerEvent(due));
    expect(next.value).toBe('timeout_confirmed');
    expect(next.status).toBe('done');
    const unknown = unknownStudentId(CLASS);
    const [confirmation, processed, ...rest] = emittedOf(actions);
    expect(rest).toEqual([]);
    expect(confirmation).toMatchObject({ type: 'huleedu.class.student.associations.confirmed.v1', correlation_id: CORRELATION, event_timestamp: due, source_service: 'class_management_service' });
    const data = StudentAssociationsConfirmedV1.data.parse(confirmation!.data);
    const timeout = { validation_method: 'timeout', validated_by: SYSTEM_TIMEOUT_USER, validated_at: due };
    expect(data.associations).toEqual([
      { essay_id: 'e95', student_id: 's95', confidence_score: 0.95, ...timeout },
      { essay_id: 'e70', student_id: 's70', confidence_score: 0.7, ...timeout },
      { essay_id: 'e69', student_id: unknown, confidence_score: 0, ...timeout },
      { essay_id: 'enull', student_id: unknown, confidence_score: 0, ...timeout },
    ]);
    expect(data).toMatchObject({ batch_id: BATCH, class_id: CLASS, course_code: 'ENG5', timeout_triggered: true, validation_summary: { total_associations: 4, confirmed: 4, rejected: 0 } });
    expect(processed).toMatchObject({ type: 'huleedu.class.validation.timeout.processed.v1', correlation_id: CORRELATION, event_timestamp: due });
    expect(ValidationTimeoutProcessedV1.data.parse(processed!.data)).toEqual({
      batch_id: BATCH, class_id: CLASS, timeout_hours: 24, auto_confirmed_associations: 2, unknown_student_associations: 2,
    });
    expect(next.context.associations.every((a) => a.status === 'timeout_confirmed')).toBe(true);
  });

  it('never points an essay without suggestion at the UNKNOWN student: it is not in the confirmation at all', () => {
    const [pending] = start([['e1', [['s1', 0.8]]], ['e2', [['s2', 0.5]]], ['e3', []]]);
    const [, actions] = transition(associationsMachine, pending, timerEvent());
    const [confirmation, processed] = emittedOf(actions);
    const data = StudentAssociationsConfirmedV1.data.parse(confirmation!.data);
    expect(data.associations.map((a) => [a.essay_id, a.student_id])).toEqual([['e1', 's1'], ['e2', unknownStudentId(CLASS)]]);
    expect(data.validation_summary).toEqual({ total_associations: 2, confirmed: 2, rejected: 0 });
    expect(processed?.data).toMatchObject({ auto_confirmed_associations: 1, unknown_student_associations: 1 });
  });

  it('migrates a version-1 snapshot: pending associations without a student are dropped, the rest kept', () => {
    const [pending] = start([['e1', [['s1', 0.8]]]]);
    const v1Extra = { essay_id: 'e2', student_id: null, confidence_score: null, status: 'pending_validation', validation_method: null, validated_by: null, validated_at: null };
    const persisted = JSON.parse(JSON.stringify(associationsMachine.getPersistedSnapshot(pending))) as { context: { associations: unknown[] } };
    persisted.context.associations.push(v1Extra);
    const migrated = associationsLifecycle.migrations?.[1]?.(persisted as never) as { context: { associations: Array<{ essay_id: string }> } };
    expect(migrated.context.associations.map((a) => a.essay_id)).toEqual(['e1']);
    expect(associationsLifecycle.version).toBe(2);
  });

  it('without meta (plain actor) uses the stored correlation id and validated_at = suggested_at + 24 h', () => {
    const [snapshot] = initialTransition(associationsMachine, { data: suggestions(THREE), meta: meta({ timestamp: '2026-03-01T10:00:00+02:00' }) });
    const [, actions] = transition(associationsMachine, snapshot, { type: ASSOCIATION_TIMEOUT_EVENT });
    const [confirmation, processed] = emittedOf(actions);
    expect(confirmation).toMatchObject({ correlation_id: CORRELATION, event_timestamp: '2026-03-02T08:00:00.000Z' });
    expect(processed?.event_timestamp).toBe('2026-03-02T08:00:00.000Z');
    const data = StudentAssociationsConfirmedV1.data.parse(confirmation!.data);
    expect(data.associations.map((a) => a.validated_at)).toEqual(Array(3).fill('2026-03-02T08:00:00.000Z'));
  });

  it('documents the class UNKNOWN student: one deterministic id and email per class', () => {
    expect(unknownStudentId('c9')).toBe('unknown-student:c9');
    expect(unknownStudentId('c9')).not.toBe(unknownStudentId('c10'));
    expect(unknownStudentEmail('c9')).toBe('unknown.c9@huleedu.system');
  });
});

describe('associations machine: human validation', () => {
  it('confirms listed-true items to the chosen student, rejects listed-false and unlisted ones, sends only the confirmed', () => {
    const at = '2026-03-01T12:00:00.000Z';
    const [next, actions] = transition(associationsMachine, start()[0], validated([['e1', 's-other', true], ['e2', 's2', false]], at));
    expect(next.value).toBe('confirmed');
    expect(next.context.associations.map((a) => [a.essay_id, a.status])).toEqual([['e1', 'confirmed'], ['e2', 'rejected'], ['e3', 'rejected']]);
    const messages = emittedOf(actions);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ type: 'huleedu.class.student.associations.confirmed.v1', correlation_id: CORRELATION, event_timestamp: at });
    const data = StudentAssociationsConfirmedV1.data.parse(messages[0]!.data);
    expect(data.associations).toEqual([
      { essay_id: 'e1', student_id: 's-other', confidence_score: PHASE1_CONFIDENCE_SCORE, validation_method: 'human', validated_by: 'teacher-7', validated_at: at },
    ]);
    expect(data).toMatchObject({ timeout_triggered: false, validation_summary: { total_associations: 3, confirmed: 1, rejected: 2 } });
  });

  it('counts only essays with a suggestion: e1 confirmed, e2 rejected, e3 without suggestion -> total 2, confirmed 1, rejected 1', () => {
    const [pending] = start([['e1', [['s1', 0.8]]], ['e2', [['s2', 0.9]]], ['e3', []]]);
    const [next, actions] = transition(associationsMachine, pending, validated([['e1', 's1', true], ['e2', 's2', false]]));
    expect(next.context.associations.map((a) => [a.essay_id, a.status])).toEqual([['e1', 'confirmed'], ['e2', 'rejected']]);
    const data = StudentAssociationsConfirmedV1.data.parse(emittedOf(actions)[0]!.data);
    expect(data.validation_summary).toEqual({ total_associations: 2, confirmed: 1, rejected: 1 });
    expect(data.associations.map((a) => a.essay_id)).toEqual(['e1']);
  });

  it('cancels the timer on confirmation, so a late timer event is refused without change', () => {
    const [confirmed, actions] = transition(associationsMachine, start()[0], validated([['e1', 's1', true]]));
    const executable: readonly ExecutableActionObject[] = actions;
    expect(executable.find((action) => action.type === 'xstate.cancel')).toMatchObject({ params: { sendId: ASSOCIATION_TIMEOUT_EVENT } });
    const [late, lateActions] = transition(associationsMachine, confirmed, timerEvent());
    expect(late).toBe(confirmed);
    expect(lateActions).toEqual([]);
  });

  it('never sends a second confirmation: a duplicate validation after confirm is refused', () => {
    const [confirmed] = transition(associationsMachine, start()[0], validated([['e1', 's1', true]]));
    const [again, actions] = transition(associationsMachine, confirmed, validated([['e2', 's2', true]]));
    expect(again).toBe(confirmed);
    expect(actions).toEqual([]);
    expect(confirmed.can(validated([['e2', 's2', true]]))).toBe(false);
  });

  it('refuses a validation naming an essay outside the batch (no change, no actions) and explains why', () => {
    const [pending] = start();
    const stranger = validated([['e1', 's1', true], ['x', 's1', true]]);
    const [next, actions] = transition(associationsMachine, pending, stranger);
    expect(next).toBe(pending);
    expect(actions).toEqual([]);
    expect(explainAssociationsGuard(pending, stranger)).toBe(`essay_id "x" is not part of batch "${BATCH}"`);
    expect(associationsLifecycle.explainGuard?.(pending, stranger)).toBe(`essay_id "x" is not part of batch "${BATCH}"`);
    expect(explainAssociationsGuard(pending, validated([['e1', 's1', true]]))).toBeUndefined();
    expect(explainAssociationsGuard(pending, { type: 'MATCHES_SUGGESTED' })).toBeUndefined();
  });
});

describe('associations machine: more suggestions', () => {
  it('mergeSuggestions adds only essays not yet present and keeps the running timer', () => {
    const [pending] = start();
    const more: AssociationsEvent = { type: 'MATCHES_SUGGESTED', data: suggestions([['e1', [['s-new', 0.99]]], ['e4', [['s4', 0.75]]]]), meta: meta() };
    const [next, actions] = transition(associationsMachine, pending, more);
    expect(next.value).toBe('pending_validation');
    expect(next.context.associations.map((a) => [a.essay_id, a.student_id, a.confidence_score])).toEqual([
      ['e1', 's1', 0.8], ['e2', 's2', 0.9], ['e3', 's3', 0.6], ['e4', 's4', 0.75],
    ]);
    expect(actions).toEqual([]);
  });
});

describe('associations machine: configuration', () => {
  it('.provide({ delays: { associationTimeout } }) changes the raised delay and what the timeout reports', () => {
    const fast = associationsMachine.provide({ delays: { associationTimeout: 1000 } });
    const [snapshot, actions] = initialTransition(fast, input(THREE));
    expect(actions[0]).toMatchObject({ type: 'xstate.raise', params: { delay: 1000, id: ASSOCIATION_TIMEOUT_EVENT } });
    const [, fired] = transition(fast, snapshot, { type: ASSOCIATION_TIMEOUT_EVENT });
    const [confirmation, processed] = emittedOf(fired);
    expect(confirmation?.event_timestamp).toBe('2026-03-01T08:00:01.000Z');
    expect(processed?.data).toMatchObject({ timeout_hours: 1000 / 3_600_000 });
  });

  it('createAssociationsMachine({ highConfidenceThreshold: 0.9 }) sends a 0.8 score to the UNKNOWN student', () => {
    const strict = createAssociationsMachine({ highConfidenceThreshold: 0.9 });
    const [, actions] = transition(strict, initialTransition(strict, input(THREE))[0], timerEvent());
    const data = StudentAssociationsConfirmedV1.data.parse(emittedOf(actions)[0]!.data);
    expect(data.associations.map((a) => [a.essay_id, a.student_id])).toEqual([
      ['e1', unknownStudentId(CLASS)], ['e2', 's2'], ['e3', unknownStudentId(CLASS)],
    ]);
  });

  it('createAssociationsMachine({ timeoutMs }) schedules that delay and reports it in hours; bad options throw', () => {
    const hourly = createAssociationsMachine({ timeoutMs: 3_600_000 });
    const [snapshot, actions] = initialTransition(hourly, input(THREE));
    expect(actions[0]).toMatchObject({ params: { delay: 3_600_000 } });
    const [, fired] = transition(hourly, snapshot, timerEvent());
    expect(emittedOf(fired)[1]?.data).toMatchObject({ timeout_hours: 1 });
    expect(() => createAssociationsMachine({ timeoutMs: 0 })).toThrow(RangeError);
    expect(() => createAssociationsMachine({ highConfidenceThreshold: 1.5 })).toThrow(RangeError);
  });
});

describe('associations machine: running actor', () => {
  it('reaches timeout_confirmed after exactly 24 h of fake time and emits both messages', () => {
    vi.useFakeTimers();
    const actor = createActor(associationsMachine, { input: input(THREE) });
    const received: AssociationsEmitted[] = [];
    actor.on('*', (message) => received.push(message));
    actor.start();
    vi.advanceTimersByTime(DAY_MS - 1);
    expect(actor.getSnapshot().value).toBe('pending_validation');
    vi.advanceTimersByTime(1);
    expect(actor.getSnapshot().value).toBe('timeout_confirmed');
    expect(received.map((message) => message.type)).toEqual([
      'huleedu.class.student.associations.confirmed.v1',
      'huleedu.class.validation.timeout.processed.v1',
    ]);
    expect(received[0]?.event_timestamp).toBe('2026-03-02T08:00:00.000Z');
    actor.stop();
  });
});

/** One snapshot per state of the machine, reached through its own transitions. */
const snapshotsByState = (): Record<string, AssociationsSnapshot> => {
  const [pending] = start();
  return {
    pending_validation: pending,
    confirmed: transition(associationsMachine, pending, validated([['e1', 's1', true]]))[0],
    timeout_confirmed: transition(associationsMachine, pending, timerEvent())[0],
  };
};

describe('associations machine: persistence', () => {
  const states = Object.keys(associationsMachine.root.states);

  it.each(states)('restores %s from a JSON round trip of its persisted snapshot', (state) => {
    const original = snapshotsByState()[state]!;
    const persisted = JSON.parse(JSON.stringify(associationsMachine.getPersistedSnapshot(original))) as {
      value: AssociationsSnapshot['value'];
      context: AssociationsSnapshot['context'];
    };
    const restored = associationsMachine.resolveState({ value: persisted.value, context: persisted.context });
    expect(restored.value).toBe(state);
    expect(restored.status).toBe(original.status);
    expect(restored.context).toEqual(original.context);
    const probe = validated([['e1', 's1', true]]);
    const [fromOriginal, originalActions] = transition(associationsMachine, original, probe);
    const [fromRestored, restoredActions] = transition(associationsMachine, restored, probe);
    expect(fromRestored.value).toEqual(fromOriginal.value);
    expect(fromRestored.context).toEqual(fromOriginal.context);
    expect(emittedOf(restoredActions)).toEqual(emittedOf(originalActions));
  });
});

describe('associations machine: refusals generated from the definition', () => {
  const samples: Record<AssociationsEvent['type'], AssociationsEvent> = {
    MATCHES_SUGGESTED: { type: 'MATCHES_SUGGESTED', data: suggestions([['e9', [['s9', 0.9]]]]), meta: meta() },
    ASSOCIATIONS_VALIDATED: validated([['e1', 's1', true]]),
    [ASSOCIATION_TIMEOUT_EVENT]: timerEvent(),
  };
  const pairs = Object.entries(associationsMachine.root.states).flatMap(([state, node]) =>
    associationsMachine.events.filter((type) => !node.transitions.has(type)).map((type) => [state, type] as const),
  );

  it('covers every state and event type the machine knows', () => {
    expect(Object.keys(samples).sort()).toEqual([...associationsMachine.events].sort());
    expect(pairs).toHaveLength(6);
  });

  it.each(pairs)('in %s, %s is refused: same snapshot, no actions', (state, type) => {
    const snapshot = snapshotsByState()[state]!;
    const event = samples[type as AssociationsEvent['type']];
    expect(snapshot.can(event)).toBe(false);
    const [next, actions] = transition(associationsMachine, snapshot, event);
    expect(next).toBe(snapshot);
    expect(actions).toEqual([]);
  });
});
