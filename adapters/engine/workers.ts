/**
 * Background loops the host starts explicitly: the timer scheduler and the outbox relay.
 * Both report every failure to `onError` (never an unobserved rejection) and stop cleanly.
 */
import type { OutboxRecord, SnapshotStore } from '../store.js';
import type { LifecycleEngine } from './engine.js';
import { startPolling, type WakeableWorker } from './polling.js';

export type { WakeableWorker, Worker } from './polling.js';

/** Options of a polling loop. */
export interface LoopOptions {
  /** Pause between rounds that found nothing to do (ms, default 1000). */
  readonly intervalMs?: number;
  /** Receives every error; the loop goes on after it. */
  readonly onError?: (error: unknown) => void;
}

function loop(round: () => Promise<number>, options: LoopOptions): WakeableWorker {
  const polling = startPolling(round, { intervalMs: options.intervalMs ?? 1000, onError: options.onError });
  return { stop: () => polling.stop(), wake: () => polling.wake() };
}

/** Fires due timers every `intervalMs` (and at once after a round that fired some). */
export function startTimerScheduler(engine: LifecycleEngine, options: LoopOptions & { batchSize?: number } = {}): WakeableWorker {
  return loop(async () => (await engine.fireDueTimers(options.batchSize ?? 100)).length, options);
}

/** Rows a Publisher could not publish (outbox id -> why); every other row it was given is durably published. */
export type PublishFailures = ReadonlyMap<number, unknown>;

/**
 * Publishes outbox rows; resolves once every given row is durably published, or with the rows it
 * could not publish (the others are marked published, those retried). Throwing = none published.
 */
export type Publisher = (rows: readonly OutboxRecord[]) => Promise<void | PublishFailures>;

/** A store several relays can share (PostgreSQL): claims give concurrent relays disjoint rows. */
interface ClaimingStore {
  claimOutbox(limit: number, leaseMs: number, options?: { inAggregateOrder?: boolean }): Promise<OutboxRecord[]>;
}

function claimingStore(store: SnapshotStore): ClaimingStore | undefined {
  const candidate = store as SnapshotStore & Partial<ClaimingStore>;
  return typeof candidate.claimOutbox === 'function' ? (candidate as SnapshotStore & ClaimingStore) : undefined;
}

/** Settings of one relay round. */
export interface RelayRoundOptions {
  /** The clock of `published_at` (default the system clock). */
  readonly clock?: () => Date;
  /** Rows per round (default 100). */
  readonly batchSize?: number;
  /** How long a claimed row stays this relay's before another may take it (ms, default 10,000; claiming stores only). */
  readonly claimLeaseMs?: number;
}

/**
 * One relay round: publishes up to `batchSize` unpublished outbox rows and marks them published
 * (at-least-once: a crash between publish and mark publishes again, so consumers de-duplicate by
 * event_id, as the engine does). On a store that can claim rows (`claimOutbox`, PostgreSQL) the
 * rows are claimed first, in aggregate order, so relays of several workers publish each row once
 * and the rows of one aggregate in id order; otherwise every relay reads the same pending rows.
 * Returns how many were published; throws the first publish error after marking what failed.
 */
export async function relayOutboxOnce(
  store: SnapshotStore,
  publish: Publisher,
  clockOrOptions: (() => Date) | RelayRoundOptions = {},
  batchSize?: number,
): Promise<number> {
  const options: RelayRoundOptions = typeof clockOrOptions === 'function' ? { clock: clockOrOptions } : clockOrOptions;
  const limit = batchSize ?? options.batchSize ?? 100;
  const claiming = claimingStore(store);
  const rows = claiming ? await claiming.claimOutbox(limit, options.claimLeaseMs ?? 10_000, { inAggregateOrder: true }) : await store.pendingOutbox(limit);
  if (rows.length === 0) return 0;
  let failures: PublishFailures;
  try {
    failures = (await publish(rows)) ?? new Map();
  } catch (error) {
    failures = new Map(rows.map((row) => [row.id, error]));
  }
  const published = rows.filter((row) => !failures.has(row.id)).map((row) => row.id);
  if (published.length > 0) await store.markPublished(published, (options.clock ?? (() => new Date()))().toISOString());
  for (const [id, error] of failures) await store.markPublishFailed(id, (error instanceof Error ? error.message : String(error)).slice(0, 2000));
  const [first] = failures.values();
  if (failures.size > 0) throw first;
  return published.length;
}

/** Runs relayOutboxOnce in a loop. */
export function startOutboxRelay(store: SnapshotStore, publish: Publisher, options: LoopOptions & RelayRoundOptions = {}): WakeableWorker {
  return loop(() => relayOutboxOnce(store, publish, options), options);
}
