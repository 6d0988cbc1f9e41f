/**
 * Copies of the engine's own messages read back from a queue. A message the engine emitted and
 * applied itself that also goes to outside services (declared `alsoOutside`: the slot assignment,
 * the phase outcome, the phase cancel command, the batch closed event) is published on its own
 * topic, and a queue consumer that reads every topic delivers it back. Its sender class
 * (`internal`) refuses it from outside, but its event id is in the inbox, kept for exactly this:
 * the copy answers `duplicate` with the first outcome, instead of SENDER_NOT_ALLOWED (which a
 * queue worker would dead-letter), and nothing changes. An internal event whose id the engine never
 * took is still refused.
 */
import { SenderClass } from '../../machines/contracts/declaration.js';
import type { LifecycleError } from '../errors.js';
import type { SnapshotStore } from '../store.js';
import { duplicateAnswer, type DispatchResult } from './results.js';

/** The event id and type of an internal event refused by its sender class, or undefined. */
function refusedInternal(error: LifecycleError): { event_id: string; event_type: string } | undefined {
  if (error.code !== 'SENDER_NOT_ALLOWED') return undefined;
  const details = error.details as { sender_class?: unknown; event_id?: unknown; event_type?: unknown } | undefined;
  if (details?.sender_class !== SenderClass.INTERNAL || typeof details.event_id !== 'string' || typeof details.event_type !== 'string') return undefined;
  return { event_id: details.event_id, event_type: details.event_type };
}

/**
 * True for what the inbox keeps for a message the engine emitted and applied itself
 * (`{ outcome, internal: true }`, cascade.ts): only such a row makes a refused internal event a
 * copy. Any other row (a root event's answer) means the id was reused by someone else.
 */
function isOwnMessageRow(stored: unknown): boolean {
  return typeof stored === 'object' && stored !== null && (stored as { internal?: unknown }).internal === true;
}

/** `eventId` when `batch` holds it as the inbox key of one of the engine's own messages (an own-message row). */
export function ownMessageKey(batch: { readonly inbox: ReadonlyArray<{ readonly event_id: string; readonly result: unknown }> }, eventId: unknown): string | undefined {
  const row = batch.inbox.find((entry) => entry.event_id === eventId);
  return row !== undefined && isOwnMessageRow(row.result) ? row.event_id : undefined;
}

/**
 * The `duplicate` answers of the refused items that are copies of messages this engine took (one
 * inbox query for all), by their index; the other refusals stay refusals.
 */
export async function ownCopies(store: Pick<SnapshotStore, 'findInbox'>, refused: ReadonlyArray<{ readonly index: number; readonly error: LifecycleError }>): Promise<Map<number, DispatchResult>> {
  const candidates = refused.flatMap(({ index, error }) => {
    const event = refusedInternal(error);
    return event === undefined ? [] : [{ index, event }];
  });
  const answers = new Map<number, DispatchResult>();
  if (candidates.length === 0) return answers;
  const taken = await store.findInbox(candidates.map(({ event }) => event.event_id));
  for (const { index, event } of candidates) {
    const stored = taken.get(event.event_id);
    if (isOwnMessageRow(stored)) answers.set(index, duplicateAnswer(event, stored));
  }
  return answers;
}
