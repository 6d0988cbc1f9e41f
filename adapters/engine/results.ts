/** What dispatch answers. Plain JSON, so it can be stored in the inbox and sent over HTTP. */

/**
 * Why a delivery was refused: the machine cannot take the event in its state, the entity does
 * not exist, or the event would reach an entity of another batch (membership; nothing applied).
 */
export type RefusalCode = 'EVENT_REJECTED' | 'ENTITY_NOT_FOUND' | 'OUTSIDE_BATCH';

/** How an event ended. */
export type DispatchOutcome = 'accepted' | 'refused' | 'duplicate';

/** One entity's part in taking an event. */
export interface DeliveryResult {
  readonly machine: string;
  readonly entity_id: string;
  /** Status before (null when the event created the entity). */
  readonly from: string | null;
  /** Status after (equal to `from` when refused). */
  readonly to: string | null;
  readonly outcome: 'accepted' | 'refused';
  /** Why it was refused (names the state and the states that would accept the event). */
  readonly reason?: string;
  readonly code?: RefusalCode;
  readonly accepting_states?: readonly string[];
}

/** A message written to the outbox while taking the event (the whole causal chain). */
export interface EmittedSummary {
  readonly event_id: string;
  readonly event_type: string;
  /** True when one of the engine's own machines took it too. */
  readonly internal: boolean;
}

/**
 * A delivery refused while the event as a whole was accepted: a second entity the event itself
 * addresses (StudentAssociationsConfirmedV1 reaches the batch and its tracker), or an entity a
 * message caused by it addresses. Nothing of that delivery was written; the rest was.
 */
export interface RefusedDelivery {
  /** The event the refused delivery belongs to (the root's id, or an internal message's). */
  readonly event_id: string;
  readonly event_type: string;
  readonly machine: string;
  readonly entity_id: string;
  /** The entity's status (null when it does not exist). */
  readonly state: string | null;
  readonly reason?: string;
  readonly code?: RefusalCode;
}

/** The answer to one dispatched envelope. */
export interface DispatchResult {
  readonly event_id: string;
  readonly event_type: string;
  /** accepted: the first entity took it; refused: it could not; duplicate: already taken before (first answer below). */
  readonly outcome: DispatchOutcome;
  /** The first entity the event addresses (null for events only outside services consume). */
  readonly entity: { readonly machine: string; readonly entity_id: string } | null;
  readonly from: string | null;
  readonly to: string | null;
  readonly reason?: string;
  readonly code?: RefusalCode;
  readonly accepting_states?: readonly string[];
  /** Every entity the event itself addresses. */
  readonly deliveries: readonly DeliveryResult[];
  /** Every message emitted by the event and by what it caused, in order. */
  readonly emitted: readonly EmittedSummary[];
  /** Transitions taken in the whole causal chain (including internal messages). */
  readonly steps: number;
  /** For a duplicate: the outcome the event had the first time. */
  readonly first_outcome?: 'accepted' | 'refused';
  /**
   * Present (never empty) when the event was accepted but some delivery of it, or of a message it
   * caused, was refused: a partial refusal. HTTP answers it with the header
   * `Lifecycle-Refused-Deliveries: <count>`; the queue workers log a warning for it.
   */
  readonly refused_deliveries?: readonly RefusedDelivery[];
}

/** The answer for one item of dispatchMany that was not valid input. */
export interface InvalidItemResult {
  readonly outcome: 'invalid';
  readonly index: number;
  readonly code: string;
  readonly message: string;
  readonly details: Readonly<Record<string, unknown>>;
}

/**
 * The codes of failures that are no fault of the input: this process cannot apply the event NOW
 * (a snapshot written by a newer machine version, an unreadable row, a machine that failed), but
 * a worker running other code, or a later release, may. dispatchMany answers them `deferred`.
 */
export const DEFERRED_CODES = ['SNAPSHOT_INCOMPATIBLE', 'SNAPSHOT_CORRUPT', 'MACHINE_ERROR'] as const;
export type DeferredCode = (typeof DEFERRED_CODES)[number];

/**
 * The answer for one item of dispatchMany that this engine could not apply now (DEFERRED_CODES),
 * or that waits behind such an item of the same batch (`details.held_back_by`). Nothing of it was
 * written; it must be retried later, never discarded: queues keep it, HTTP answers 503.
 */
export interface DeferredItemResult {
  readonly outcome: 'deferred';
  readonly index: number;
  readonly event_id: string;
  readonly code: DeferredCode;
  readonly message: string;
  readonly details: Readonly<Record<string, unknown>>;
}

/** One item of dispatchMany's answer. */
export type BatchItemResult = DispatchResult | InvalidItemResult | DeferredItemResult;

/** The answer to an event from what its deliveries did: the first delivery speaks for the event. */
export function answerOf(
  event: { readonly event_id: string; readonly event_type: string },
  deliveries: readonly DeliveryResult[],
  emitted: readonly EmittedSummary[],
  steps: number,
  refused: readonly RefusedDelivery[] = [],
): DispatchResult {
  const answer = headAnswerOf(event, deliveries, emitted, steps);
  return refused.length === 0 || answer.outcome !== 'accepted' ? answer : { ...answer, refused_deliveries: refused };
}

function headAnswerOf(
  event: { readonly event_id: string; readonly event_type: string },
  deliveries: readonly DeliveryResult[],
  emitted: readonly EmittedSummary[],
  steps: number,
): DispatchResult {
  const first = deliveries[0];
  const answer: DispatchResult = {
    event_id: event.event_id,
    event_type: event.event_type,
    outcome: first === undefined || first.outcome === 'accepted' ? 'accepted' : 'refused',
    entity: first === undefined ? null : { machine: first.machine, entity_id: first.entity_id },
    from: first?.from ?? null,
    to: first?.to ?? null,
    deliveries,
    emitted,
    steps,
  };
  // Optional fields are set only when present (no `undefined` keys), in the order they always had.
  if (first?.reason === undefined && first?.code === undefined && first?.accepting_states === undefined) return answer;
  const { deliveries: _d, emitted: _e, steps: _s, ...head } = answer;
  return {
    ...head,
    ...(first.reason === undefined ? {} : { reason: first.reason }),
    ...(first.code === undefined ? {} : { code: first.code }),
    ...(first.accepting_states === undefined ? {} : { accepting_states: first.accepting_states }),
    deliveries,
    emitted,
    steps,
  };
}

/**
 * The first answer as the inbox keeps it: only what `answerOf` cannot derive (event id and type
 * are the inbox key's, the top-level fields are the first delivery's).
 */
export interface StoredAnswer {
  readonly deliveries: readonly DeliveryResult[];
  readonly emitted: readonly EmittedSummary[];
  readonly steps: number;
  readonly refused_deliveries?: readonly RefusedDelivery[];
}

export function storedAnswerOf(answer: DispatchResult): StoredAnswer {
  const stored = { deliveries: answer.deliveries, emitted: answer.emitted, steps: answer.steps };
  return answer.refused_deliveries === undefined ? stored : { ...stored, refused_deliveries: answer.refused_deliveries };
}

/**
 * The answer to a duplicate of `event` from what the inbox kept: a StoredAnswer, the
 * `{ outcome, internal }` of an internal message, or a whole DispatchResult as stored before
 * StoredAnswer existed (its top-level fields are its first delivery's, so they derive the same).
 */
export function duplicateAnswer(event: { readonly event_id: string; readonly event_type: string }, stored: unknown): DispatchResult {
  const kept = (typeof stored === 'object' && stored !== null ? stored : {}) as Partial<DispatchResult>;
  const derived = answerOf(event, kept.deliveries ?? [], kept.emitted ?? [], 0, kept.refused_deliveries ?? []);
  const firstOutcome = kept.outcome ?? derived.outcome;
  return { ...derived, outcome: 'duplicate', first_outcome: firstOutcome === 'refused' ? 'refused' : 'accepted' };
}
