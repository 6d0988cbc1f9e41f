/** What dispatch answers. Plain JSON, so it can be stored in the inbox and sent over HTTP. */

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
  readonly code?: 'EVENT_REJECTED' | 'ENTITY_NOT_FOUND';
  readonly accepting_states?: readonly string[];
}

/** A message written to the outbox while taking the event (the whole causal chain). */
export interface EmittedSummary {
  readonly event_id: string;
  readonly event_type: string;
  /** True when one of the engine's own machines took it too. */
  readonly internal: boolean;
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
  readonly code?: 'EVENT_REJECTED' | 'ENTITY_NOT_FOUND';
  readonly accepting_states?: readonly string[];
  /** Every entity the event itself addresses. */
  readonly deliveries: readonly DeliveryResult[];
  /** Every message emitted by the event and by what it caused, in order. */
  readonly emitted: readonly EmittedSummary[];
  /** Transitions taken in the whole causal chain (including internal messages). */
  readonly steps: number;
  /** For a duplicate: the outcome the event had the first time. */
  readonly first_outcome?: 'accepted' | 'refused';
}

/** The answer for one item of dispatchMany that was not valid input. */
export interface InvalidItemResult {
  readonly outcome: 'invalid';
  readonly index: number;
  readonly code: string;
  readonly message: string;
  readonly details: Readonly<Record<string, unknown>>;
}

/** One item of dispatchMany's answer. */
export type BatchItemResult = DispatchResult | InvalidItemResult;
