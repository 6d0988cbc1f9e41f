/**
 * The engine's refusals and answers built from an event alone: invalid input, an item of a group
 * held back behind a deferred one, a stale cache seen by an invariant check, a sender that may not
 * send an event; plus the warning of an invariant violation in `log` mode and the retry backoff.
 */
import { parseEnvelope, type LifecycleEnvelope } from '../../machines/contracts/events.js';
import type { InvariantViolation } from '../../machines/invariants/index.js';
import { senderClassOf } from '../../machines/routing.js';
import { LifecycleError } from '../errors.js';
import type { RootItem } from './cascade.js';
import type { DeferredItemResult, InvalidItemResult } from './results.js';

/** `log` mode: a process warning naming the event and every violated invariant. */
export function warnOfViolations(violations: readonly InvariantViolation[], event: { readonly event_id: string; readonly event_type: string }): void {
  const text = violations.map((violation) => `${violation.invariant}: ${violation.message}`).join('; ');
  process.emitWarning(`${event.event_type} ${event.event_id} broke ${violations.length} lifecycle invariant(s): ${text}`, { code: 'LIFECYCLE_INVARIANT' });
}



/** The error naming what is wrong with raw input (INVALID_ENVELOPE or UNKNOWN_EVENT_TYPE). */
function invalidInput(raw: unknown): LifecycleError {
  const parsed = parseEnvelope(raw);
  if (parsed.ok) return new LifecycleError('INVALID_ENVELOPE', 'invalid envelope');
  const summary = parsed.issues
    .slice(0, 5)
    .map((issue) => `${issue.path}: ${issue.message}`)
    .join('; ');
  return new LifecycleError(parsed.kind, `${parsed.kind === 'UNKNOWN_EVENT_TYPE' ? 'unknown event type' : 'invalid envelope'}: ${summary}`, {
    details: { issues: parsed.issues },
  });
}

/** The answer of a group item that could not be taken. */
export function invalidItem(index: number, error: LifecycleError): InvalidItemResult {
  return { outcome: 'invalid', index, code: error.code, message: error.message, details: error.details };
}

/** An item of a batch whose earlier item in the same call was deferred: it waits behind it. */
export function heldBack(root: RootItem, index: number, batch: string, blocker: DeferredItemResult): DeferredItemResult {
  return {
    outcome: 'deferred',
    index,
    event_id: root.event_id,
    code: blocker.code,
    message: `held back behind event ${blocker.event_id} of batch "${batch}", which could not be applied now (${blocker.code})`,
    details: { held_back_by: blocker.event_id, batch_id: batch },
  };
}


/** What the unit of an event saw through `stale` cache entries that other writers have moved on: retried. */
export function staleCacheConflict(root: RootItem, stale: number): LifecycleError {
  return new LifecycleError('VERSION_CONFLICT', `event ${root.event_id} saw ${stale} cached entit${stale === 1 ? 'y' : 'ies'} another writer has changed`, {
    details: { event_id: root.event_id, stale_cache: true },
  });
}

/** The refusal of an event the engine only ever emits itself (internal or outbound), from outside. */
export function senderNotAllowed(envelope: LifecycleEnvelope): LifecycleError {
  const sender = senderClassOf(envelope.event_type) ?? 'unknown';
  const what = sender === 'outbound' ? 'an outbound event: the engine\'s machines emit it for outside services' : 'an internal event: only the engine\'s own machines emit it';
  return new LifecycleError('SENDER_NOT_ALLOWED', `${envelope.event_type} is ${what}, it is never accepted from outside`, {
    details: { event_type: envelope.event_type, sender_class: sender, event_id: envelope.event_id },
  });
}

/** Accepts raw input or throws the LifecycleError naming what is wrong. */
export function parseOrThrow(raw: unknown): LifecycleEnvelope {
  const parsed = parseEnvelope(raw);
  if (!parsed.ok) throw invalidInput(raw);
  return parsed.envelope;
}

/**
 * Waits before retrying a lost compare-and-set: exponential with full jitter (0 to
 * 1, 2, 4 ... 64 ms), so writers contending for one hot entity spread out instead of
 * colliding again in lock step.
 */
export async function backoff(attempt: number): Promise<void> {
  const ceiling = Math.min(64, 2 ** attempt);
  await new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling));
}
