/**
 * The retention policy: what the stores keep, for how long, and why.
 *
 * - Entities and the audit log are kept for ever: the entity rows are the state, the audit log is
 *   the history (`history`, `rebuildEntity`, the SSE stream and what-if replays read it).
 * - A published outbox row is kept `outboxDays` (default 7) after its publication, for
 *   operators who look at what went out; unpublished rows are never deleted.
 * - An inbox key (the idempotency record of one event id) is kept `inboxDays` (default 7)
 *   after the event was first recorded. That is the idempotency window: a redelivery within it
 *   answers `duplicate`; a redelivery after it is taken as a new event. Keep it longer than any
 *   producer or queue may redeliver (the reference's longest TTL is 24 hours).
 */
import { LifecycleError } from '../errors.js';
import type { PruneReport, SnapshotStore } from '../store.js';

/** How long published outbox rows and inbox keys are kept, in days. */
export interface RetentionPolicy {
  readonly outboxDays?: number;
  readonly inboxDays?: number;
}

/** The defaults: 7 days each. */
export const DEFAULT_RETENTION = { outboxDays: 7, inboxDays: 7 } as const;

const DAY_MS = 86_400_000;

function days(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) {
    throw new LifecycleError('INVALID_CONFIGURATION', `retention ${name} must be a non-negative number of days, got ${value}`, { details: { [name]: value } });
  }
  return value;
}

/**
 * Applies the policy at `now` (default the current time): deletes published outbox rows and
 * inbox keys older than their windows, and reports how many. INVALID_CONFIGURATION for a bad
 * policy or a store without retention support (the in-memory store).
 */
export async function pruneStore(store: SnapshotStore, policy: RetentionPolicy = {}, now: Date = new Date()): Promise<PruneReport> {
  const outboxDays = days('outboxDays', policy.outboxDays ?? DEFAULT_RETENTION.outboxDays);
  const inboxDays = days('inboxDays', policy.inboxDays ?? DEFAULT_RETENTION.inboxDays);
  if (store.prune === undefined) {
    throw new LifecycleError('INVALID_CONFIGURATION', `the ${store.kind} store has no retention (it keeps nothing across restarts)`, { details: { kind: store.kind } });
  }
  const cutoff = (d: number): string => new Date(now.getTime() - d * DAY_MS).toISOString();
  return store.prune({ outboxPublishedBefore: cutoff(outboxDays), inboxBefore: cutoff(inboxDays) });
}
