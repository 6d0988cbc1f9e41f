/** The embedded worker: drains a queue in a loop, pausing when it is empty and backing off after failures. */
import type { Worker } from '../../engine/workers.js';
import { backoffDelay } from '../support.js';
import type { EmbeddedQueue } from './queue.js';
import type { DrainEngine, DrainReport } from './types.js';

/** Options of `startEmbeddedWorker`. */
export interface EmbeddedWorkerOptions {
  /** Pause when the queue is empty (ms, default 200). */
  readonly intervalMs?: number;
  /** Rows per transaction (default 100). */
  readonly batchSize?: number;
  /** Receives every failure; the loop goes on after a capped exponential pause. */
  readonly onError?: (error: unknown) => void;
  /** Receives the report of every round that took rows. */
  readonly onDrained?: (report: DrainReport) => void;
  /** Longest pause after repeated failures (ms, default 30,000). */
  readonly maxBackoffMs?: number;
}

/** A running embedded worker. */
export interface EmbeddedWorker extends Worker {
  /** Resolves when a round finds the queue empty (or at once when stopped). */
  idle(): Promise<void>;
}

/** Drains `queue` in a loop until stopped: at once while there is work, every `intervalMs` otherwise. */
export function startEmbeddedWorker(engine: DrainEngine, queue: EmbeddedQueue, options: EmbeddedWorkerOptions = {}): EmbeddedWorker {
  const interval = options.intervalMs ?? 200;
  const batchSize = options.batchSize ?? 100;
  let stopped = false;
  let failures = 0;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> = Promise.resolve();
  let idleWaiters: Array<() => void> = [];
  const wakeIdle = (): void => {
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const resolve of waiters) resolve();
  };
  const tick = (): void => {
    if (stopped) return;
    current = queue.drain(engine, batchSize).then(
      (report) => {
        failures = 0;
        if (report.taken > 0) options.onDrained?.(report);
        else wakeIdle();
        return report.taken > 0 ? 0 : interval;
      },
      (error: unknown) => {
        failures += 1;
        options.onError?.(error);
        return backoffDelay(failures, { initialMs: Math.max(interval, 50), maxMs: options.maxBackoffMs ?? 30_000 });
      },
    ).then((delay) => {
      if (!stopped) timer = setTimeout(tick, delay);
    });
  };
  tick();
  return {
    async stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      await current;
      wakeIdle();
    },
    idle() {
      return stopped ? Promise.resolve() : new Promise((resolve) => idleWaiters.push(resolve));
    },
  };
}
