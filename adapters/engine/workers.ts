/**
 * Background loops the host starts explicitly: the timer scheduler and the outbox relay.
 * Both report every failure to `onError` (never an unobserved rejection) and stop cleanly.
 */
import type { OutboxRecord, SnapshotStore } from '../store.js';
import type { LifecycleEngine } from './engine.js';

/** A running loop. `stop()` resolves when the current round has finished. */
export interface Worker {
  /** Stops the loop; resolves when the current round has finished (nothing is cut off mid-commit). */
  stop(): Promise<void>;
}

/** Options of a polling loop. */
export interface LoopOptions {
  /** Pause between rounds that found nothing to do (ms). */
  readonly intervalMs?: number;
  /** Receives every error; the loop goes on after it. */
  readonly onError?: (error: unknown) => void;
}

function loop(round: () => Promise<number>, options: LoopOptions): Worker {
  const interval = options.intervalMs ?? 1000;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> = Promise.resolve();
  const tick = (): void => {
    if (stopped) return;
    current = round()
      .then((done) => done, (error: unknown) => {
        options.onError?.(error);
        return 0;
      })
      .then((done) => {
        if (!stopped) timer = setTimeout(tick, done > 0 ? 0 : interval);
      });
  };
  tick();
  return {
    async stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      await current;
    },
  };
}

/** Fires due timers every `intervalMs` (and at once after a round that fired some). */
export function startTimerScheduler(engine: LifecycleEngine, options: LoopOptions & { batchSize?: number } = {}): Worker {
  return loop(async () => (await engine.fireDueTimers(options.batchSize ?? 100)).length, options);
}

/** Publishes outbox rows; must resolve only once every given row is durably published. */
export type Publisher = (rows: readonly OutboxRecord[]) => Promise<void>;

/**
 * One relay round: publishes up to `batchSize` unpublished outbox rows in order and marks
 * them published (at-least-once: a crash between publish and mark publishes again, so
 * consumers de-duplicate by event_id, as the engine does). Returns how many were published.
 */
export async function relayOutboxOnce(store: SnapshotStore, publish: Publisher, clock: () => Date = () => new Date(), batchSize = 100): Promise<number> {
  const rows = await store.pendingOutbox(batchSize);
  if (rows.length === 0) return 0;
  try {
    await publish(rows);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    for (const row of rows) await store.markPublishFailed(row.id, message.slice(0, 2000));
    throw error;
  }
  await store.markPublished(
    rows.map((row) => row.id),
    clock().toISOString(),
  );
  return rows.length;
}

/** Runs relayOutboxOnce in a loop. */
export function startOutboxRelay(store: SnapshotStore, publish: Publisher, options: LoopOptions & { batchSize?: number; clock?: () => Date } = {}): Worker {
  return loop(() => relayOutboxOnce(store, publish, options.clock, options.batchSize), options);
}
