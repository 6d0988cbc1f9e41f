/**
 * The CMS student-association machine (domain.md "Student associations (CMS)",
 * reference.md 6): one actor per batch_id. NLP's suggestions wait in `pending_validation`
 * until a person validates them or the association timeout (24 h by default) confirms them.
 * Either way the batch ends in a final state after exactly one StudentAssociationsConfirmedV1.
 *
 * Pure: no I/O, no clock, no randomness. Its only effects are emitted messages; the timeout is
 * a named XState delay the engine turns into a durable timer. Where we differ from the
 * reference: a person's submission is final (unlisted essays are rejected), the timeout
 * writes status `timeout_confirmed`, and no confirmation can follow another (final states).
 */
import { assign, enqueueActions, setup, type SnapshotFrom } from 'xstate';
import type { EventMeta } from './contracts/envelope.js';
import type { EventData } from './contracts/events.js';
import type { MachineEventOf } from './contracts/event-tables.js';
import { outbound, SourceService, type OutboundMessage } from './contracts/messages.js';
import type { AssociationValidationMethod, StudentAssociationStatus } from './contracts/statuses.js';
import type { Json, LifecycleMachine } from './lifecycle-machine.js';
import { ASSOCIATIONS_INVARIANTS } from './invariants/associations.js';

/**
 * Bumped when a persisted association snapshot changes meaning. Version 2: an essay NLP found no
 * suggestion for has no association (version 1 kept one with a null student).
 */
export const ASSOCIATIONS_MACHINE_VERSION = 2;

/** Name of the timeout delay in setup's `delays`; override it with `.provide({ delays })`. */
export const ASSOCIATION_TIMEOUT_DELAY = 'associationTimeout';

/**
 * Type of the event that fires the timeout: XState's `xstate.after.<delay>.<state node id>`.
 * The engine sends exactly this type (with meta) when its durable timer is due.
 */
export const ASSOCIATION_TIMEOUT_EVENT = 'xstate.after.associationTimeout.associations.pending_validation';

/** The reference's `TIMEOUT_HOURS = 24`, in milliseconds: the default timeout. */
export const DEFAULT_ASSOCIATION_TIMEOUT_MS = 24 * 60 * 60 * 1000;

/** The reference's `HIGH_CONFIDENCE_THRESHOLD`: at the timeout, a score >= this keeps its student. */
export const HIGH_CONFIDENCE_THRESHOLD = 0.7;

/** The reference's `PHASE1_CONFIDENCE_SCORE`: the confidence of every human-confirmed association. */
export const PHASE1_CONFIDENCE_SCORE = 0.95;

/** Confidence of an association re-pointed to the UNKNOWN student at the timeout. */
export const UNKNOWN_STUDENT_CONFIDENCE = 0;

/** `validated_by` of every association confirmed by the timeout. */
export const SYSTEM_TIMEOUT_USER = 'SYSTEM_TIMEOUT';

/**
 * The class's single UNKNOWN student (reference.md 6): one per class, reused by every batch
 * of the class. Its id is {@link unknownStudentId}; CMS creates it with these names, the
 * email {@link unknownStudentEmail} and created_by `SYSTEM_TIMEOUT`.
 */
export const UNKNOWN_STUDENT = {
  first_name: 'UNKNOWN',
  last_name: 'STUDENT',
  created_by: SYSTEM_TIMEOUT_USER,
  email_domain: 'huleedu.system',
} as const;

/**
 * The id of the class's single UNKNOWN student (first name UNKNOWN, last name STUDENT).
 * Deterministic and pure: the same class always gets the same id, different classes never share one.
 */
export function unknownStudentId(class_id: string): string {
  return `unknown-student:${class_id}`;
}

/** The email of the class's UNKNOWN student: `unknown.<class_id>@huleedu.system`. */
export function unknownStudentEmail(class_id: string): string {
  return `unknown.${class_id}@${UNKNOWN_STUDENT.email_domain}`;
}

/** One essay's association as the machine keeps it (one per essay of the batch, in arrival order). */
export interface StudentAssociation {
  readonly essay_id: string;
  /** The suggested (or, once validated, the confirmed) student (null only in version-1 snapshots). */
  readonly student_id: string | null;
  /** The suggestion's score; after validation the confirmed score (0.95 human, 0.0 UNKNOWN). */
  readonly confidence_score: number | null;
  readonly status: StudentAssociationStatus;
  readonly validation_method: AssociationValidationMethod | null;
  readonly validated_by: string | null;
  readonly validated_at: string | null;
}

/** What a batch's association actor knows. */
export interface AssociationsContext {
  readonly batch_id: string;
  readonly class_id: string;
  readonly course_code: EventData<'BatchAuthorMatchesSuggestedV1'>['course_code'];
  /** Timestamp of the first suggestions event: the start of the timeout. */
  readonly suggested_at: string;
  /** Correlation id of the first suggestions event (used when the timer event carries no meta). */
  readonly correlation_id: string;
  readonly associations: readonly StudentAssociation[];
}

/** The actor is created from the batch's first BatchAuthorMatchesSuggestedV1. */
export interface AssociationsInput {
  readonly data: EventData<'BatchAuthorMatchesSuggestedV1'>;
  readonly meta: EventMeta;
}

/** The timeout firing. The engine adds meta (timestamp = due time); a plain XState actor does not. */
export interface AssociationTimeoutEvent {
  readonly type: typeof ASSOCIATION_TIMEOUT_EVENT;
  readonly meta?: EventMeta;
}

/** Every event the association machine takes; `data` is the zod-parsed payload. */
export type AssociationsEvent =
  | MachineEventOf<'associations'>
  | AssociationTimeoutEvent;

/** What the association machine emits. */
export type AssociationsEmitted = OutboundMessage<
  'huleedu.class.student.associations.confirmed.v1' | 'huleedu.class.validation.timeout.processed.v1'
>;

/** Options of {@link createAssociationsMachine}. */
export interface AssociationsMachineOptions {
  /** Delay before the timeout confirms pending associations (default 24 h). Positive. */
  readonly timeoutMs?: number;
  /** Lowest score that keeps its student at the timeout (default 0.7, inclusive). In [0, 1]. */
  readonly highConfidenceThreshold?: number;
}

type MatchResult = EventData<'BatchAuthorMatchesSuggestedV1'>['match_results'][number];
type ValidationData = EventData<'StudentAssociationsValidatedV1'>;
type ConfirmedItem = EventData<'StudentAssociationsConfirmedV1'>['associations'][number];

/**
 * Appends a pending association for each essay not yet known that has a suggestion (its first
 * occurrence, first suggestion). An essay with no suggestion gets no association, as in the
 * reference ("no match => no row"): no summary counts it and the timeout never points it at the
 * UNKNOWN student.
 */
function mergeAssociations(
  existing: readonly StudentAssociation[],
  results: readonly MatchResult[],
): readonly StudentAssociation[] {
  const known = new Set(existing.map((association) => association.essay_id));
  const added: StudentAssociation[] = [];
  for (const result of results) {
    const [first] = result.suggestions;
    if (known.has(result.essay_id) || first === undefined) continue;
    known.add(result.essay_id);
    added.push({
      essay_id: result.essay_id,
      student_id: first.student_id,
      confidence_score: first.confidence_score,
      status: 'pending_validation',
      validation_method: null,
      validated_by: null,
      validated_at: null,
    });
  }
  return added.length === 0 ? existing : [...existing, ...added];
}

/** Why a validation cannot apply to this batch, or undefined when it can. */
function validationProblem(context: AssociationsContext, data: ValidationData): string | undefined {
  if (data.batch_id !== context.batch_id) {
    return `batch_id "${data.batch_id}" is not batch "${context.batch_id}"`;
  }
  const known = new Set(context.associations.map((association) => association.essay_id));
  const stranger = data.associations.find((item) => !known.has(item.essay_id));
  return stranger === undefined ? undefined : `essay_id "${stranger.essay_id}" is not part of batch "${context.batch_id}"`;
}

/** The wire item of a confirmed association (every validated field is set by then). */
function confirmedItem(association: StudentAssociation, at: string): ConfirmedItem {
  return {
    essay_id: association.essay_id,
    student_id: association.student_id,
    confidence_score: association.confidence_score ?? UNKNOWN_STUDENT_CONFIDENCE,
    validation_method: association.validation_method ?? 'timeout',
    validated_by: association.validated_by,
    validated_at: association.validated_at ?? at,
  };
}

/**
 * A person's submission, final for the batch: listed `confirmed: true` -> confirmed to the
 * listed student; listed `confirmed: false` and every unlisted pending one -> rejected.
 */
function resolveByPerson(associations: readonly StudentAssociation[], data: ValidationData, at: string) {
  const decisions = new Map(data.associations.map((item) => [item.essay_id, item]));
  const validated = { validation_method: 'human', validated_by: data.user_id, validated_at: at } as const;
  return associations.map((association): StudentAssociation => {
    if (association.status !== 'pending_validation') return association;
    const decision = decisions.get(association.essay_id);
    if (decision?.confirmed !== true) return { ...association, ...validated, status: 'rejected' };
    return {
      ...association,
      ...validated,
      student_id: decision.student_id,
      confidence_score: PHASE1_CONFIDENCE_SCORE,
      status: 'confirmed',
    };
  });
}

/** The timeout: a score >= threshold keeps its student; everything else goes to the UNKNOWN student. */
function resolveByTimeout(context: AssociationsContext, threshold: number, at: string) {
  const validated = { validation_method: 'timeout', validated_by: SYSTEM_TIMEOUT_USER, validated_at: at } as const;
  return context.associations.map((association): StudentAssociation => {
    if (association.status !== 'pending_validation') return association;
    const score = association.confidence_score;
    const keeps = association.student_id !== null && score !== null && score >= threshold;
    return keeps
      ? { ...association, ...validated, status: 'timeout_confirmed' }
      : {
          ...association,
          ...validated,
          student_id: unknownStudentId(context.class_id),
          confidence_score: UNKNOWN_STUDENT_CONFIDENCE,
          status: 'timeout_confirmed',
        };
  });
}

/**
 * The timeout delay this actor really runs with: the machine's `associationTimeout` delay
 * (so a `.provide({ delays })` override counts), else the factory's option.
 */
function configuredTimeoutMs(self: unknown, fallback: number): number {
  const logic = (self as { logic?: { implementations?: { delays?: Record<string, unknown> } } }).logic;
  const delay = logic?.implementations?.delays?.[ASSOCIATION_TIMEOUT_DELAY];
  return typeof delay === 'number' && Number.isFinite(delay) && delay > 0 ? delay : fallback;
}

/** Adds milliseconds to an ISO timestamp (pure: no clock is read). */
function plusMs(timestamp: string, ms: number): string {
  return new Date(Date.parse(timestamp) + ms).toISOString();
}

/** The cause of the timeout's messages: the engine's meta, else one derived from the context. */
function timeoutCause(context: AssociationsContext, given: EventMeta | undefined, delayMs: number): EventMeta {
  return (
    given ?? {
      event_id: `${context.batch_id}:${ASSOCIATION_TIMEOUT_EVENT}`,
      event_type: ASSOCIATION_TIMEOUT_EVENT,
      correlation_id: context.correlation_id,
      timestamp: plusMs(context.suggested_at, delayMs),
      source_service: SourceService.ASSOCIATIONS,
    }
  );
}

/** A person's validation: the new associations and the one confirmation (confirmed items only). */
function confirmationByPerson(context: AssociationsContext, data: ValidationData, cause: EventMeta) {
  const at = cause.timestamp;
  const associations = resolveByPerson(context.associations, data, at);
  const confirmed = associations.filter((association) => association.status === 'confirmed');
  const rejected = associations.filter((association) => association.status === 'rejected').length;
  const message = outbound('huleedu.class.student.associations.confirmed.v1', cause, SourceService.ASSOCIATIONS, {
    batch_id: context.batch_id,
    class_id: context.class_id,
    course_code: context.course_code,
    associations: confirmed.map((association) => confirmedItem(association, at)),
    timeout_triggered: false,
    validation_summary: { total_associations: associations.length, confirmed: confirmed.length, rejected },
  });
  return { associations, message };
}

/** The timeout: the new associations, the one confirmation and the timeout report. */
function confirmationByTimeout(context: AssociationsContext, cause: EventMeta, threshold: number, delayMs: number) {
  const at = cause.timestamp;
  const associations = resolveByTimeout(context, threshold, at);
  const unknownId = unknownStudentId(context.class_id);
  const unknown = associations.filter((association) => association.student_id === unknownId).length;
  const messages: AssociationsEmitted[] = [
    outbound('huleedu.class.student.associations.confirmed.v1', cause, SourceService.ASSOCIATIONS, {
      batch_id: context.batch_id,
      class_id: context.class_id,
      course_code: context.course_code,
      associations: associations.map((association) => confirmedItem(association, at)),
      timeout_triggered: true,
      validation_summary: { total_associations: associations.length, confirmed: associations.length, rejected: 0 },
    }),
    outbound('huleedu.class.validation.timeout.processed.v1', cause, SourceService.ASSOCIATIONS, {
      batch_id: context.batch_id,
      class_id: context.class_id,
      timeout_hours: delayMs / 3_600_000,
      auto_confirmed_associations: associations.length - unknown,
      unknown_student_associations: unknown,
    }),
  ];
  return { associations, messages };
}

function initialContext(input: AssociationsInput): AssociationsContext {
  return {
    batch_id: input.data.batch_id,
    class_id: input.data.class_id,
    course_code: input.data.course_code,
    suggested_at: input.meta.timestamp,
    correlation_id: input.meta.correlation_id,
    associations: mergeAssociations([], input.data.match_results),
  };
}

function checkOptions(timeoutMs: number, threshold: number): void {
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new RangeError(`timeoutMs must be a positive number, got ${timeoutMs}`);
  if (!(threshold >= 0 && threshold <= 1)) {
    throw new RangeError(`highConfidenceThreshold must be within [0, 1], got ${threshold}`);
  }
}

/**
 * Builds the association machine (id `associations`, states `pending_validation`,
 * `confirmed`, `timeout_confirmed`). Throws RangeError for a non-positive timeout or a
 * threshold outside [0, 1]. Every machine it returns emits StudentAssociationsConfirmedV1
 * at most once per actor.
 */
export function createAssociationsMachine(options: AssociationsMachineOptions = {}) {
  const timeoutMs = options.timeoutMs ?? DEFAULT_ASSOCIATION_TIMEOUT_MS;
  const threshold = options.highConfidenceThreshold ?? HIGH_CONFIDENCE_THRESHOLD;
  checkOptions(timeoutMs, threshold);
  return setup({
    types: {
      context: {} as AssociationsContext,
      events: {} as AssociationsEvent,
      input: {} as AssociationsInput,
      emitted: {} as AssociationsEmitted,
    },
    delays: { associationTimeout: timeoutMs },
    guards: {
      allEssaysKnown: ({ context, event }) =>
        event.type === 'ASSOCIATIONS_VALIDATED' && validationProblem(context, event.data) === undefined,
    },
    actions: {
      mergeSuggestions: assign(({ context, event }) => {
        if (event.type !== 'MATCHES_SUGGESTED') return {};
        return { associations: mergeAssociations(context.associations, event.data.match_results) };
      }),
      confirmByPerson: enqueueActions(({ context, event, enqueue }) => {
        if (event.type !== 'ASSOCIATIONS_VALIDATED') return;
        const { associations, message } = confirmationByPerson(context, event.data, event.meta);
        enqueue.assign({ associations });
        enqueue.emit(message);
      }),
      confirmByTimeout: enqueueActions(({ context, event, self, enqueue }) => {
        const delayMs = configuredTimeoutMs(self, timeoutMs);
        const cause = timeoutCause(context, event.type === ASSOCIATION_TIMEOUT_EVENT ? event.meta : undefined, delayMs);
        const { associations, messages } = confirmationByTimeout(context, cause, threshold, delayMs);
        enqueue.assign({ associations });
        for (const message of messages) enqueue.emit(message);
      }),
    },
  }).createMachine({
    id: 'associations',
    initial: 'pending_validation',
    context: ({ input }) => initialContext(input),
    states: {
      pending_validation: {
        description: 'Suggestions stored; waiting for a person or the timeout.',
        on: {
          MATCHES_SUGGESTED: { actions: 'mergeSuggestions' },
          ASSOCIATIONS_VALIDATED: { guard: 'allEssaysKnown', target: 'confirmed', actions: 'confirmByPerson' },
        },
        after: { associationTimeout: { target: 'timeout_confirmed', actions: 'confirmByTimeout' } },
      },
      confirmed: { type: 'final', description: 'A person validated the batch; the confirmation was sent.' },
      timeout_confirmed: { type: 'final', description: 'The timeout confirmed the batch; the confirmation was sent.' },
    },
  });
}

/** The association machine with the reference's settings (24 h, threshold 0.7). */
export const associationsMachine = createAssociationsMachine();

/** A snapshot of the association machine. */
export type AssociationsSnapshot = SnapshotFrom<typeof associationsMachine>;

function isValidationEvent(event: unknown): event is { type: 'ASSOCIATIONS_VALIDATED'; data: ValidationData } {
  if (typeof event !== 'object' || event === null) return false;
  const candidate = event as { type?: unknown; data?: { batch_id?: unknown; associations?: unknown } };
  return (
    candidate.type === 'ASSOCIATIONS_VALIDATED' &&
    typeof candidate.data?.batch_id === 'string' &&
    Array.isArray(candidate.data.associations)
  );
}

/**
 * Why a validation the pending batch would otherwise take is refused (e.g. `essay_id "x" is
 * not part of batch "b"`). Undefined for any other state or event, and for an accepted one.
 */
export function explainAssociationsGuard(snapshot: AssociationsSnapshot, event: unknown): string | undefined {
  if (snapshot.value !== 'pending_validation' || !isValidationEvent(event)) return undefined;
  return validationProblem(snapshot.context, event.data);
}

function isPendingWithoutStudent(association: Json): boolean {
  if (typeof association !== 'object' || association === null || Array.isArray(association)) return false;
  return association.status === 'pending_validation' && association.student_id === null;
}

/**
 * Version 1 -> 2: drops the pending associations of essays that had no suggestion (a version-1
 * actor kept them with a null student, and its timeout would have pointed them at the UNKNOWN
 * student). Everything else is kept as it was.
 */
export function dropAssociationsWithoutSuggestion(persisted: Json): Json {
  if (typeof persisted !== 'object' || persisted === null || Array.isArray(persisted)) return persisted;
  const context = persisted.context;
  if (typeof context !== 'object' || context === null || Array.isArray(context) || !Array.isArray(context.associations)) return persisted;
  const associations = context.associations.filter((association) => !isPendingWithoutStudent(association));
  return { ...persisted, context: { ...context, associations } };
}

/** The association machine as the engine sees it: no parent entity, guard refusals explained. */
export const associationsLifecycle: LifecycleMachine<typeof associationsMachine> = {
  id: 'associations',
  version: ASSOCIATIONS_MACHINE_VERSION,
  logic: associationsMachine,
  migrations: { 1: dropAssociationsWithoutSuggestion },
  batchOf: (snapshot) => snapshot.context.batch_id,
  parentOf: () => null,
  explainGuard: explainAssociationsGuard,
  plainContext: true,
  invariants: ASSOCIATIONS_INVARIANTS,
};
