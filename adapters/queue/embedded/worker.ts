/** The embedded worker: drains a queue in a loop, pausing when it is empty and backing off after failures. */
import { startPolling, type PollingWorker } from '../../engine/polling.js';
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
export type EmbeddedWorker = PollingWorker;

/** Drains `queue` in a loop until stopped: at once while there is work, every `intervalMs` otherwise. */
export function startEmbeddedWorker(engine: DrainEngine, queue: EmbeddedQueue, options: EmbeddedWorkerOptions = {}): EmbeddedWorker {
  const interval = options.intervalMs ?? 200;
  const batchSize = options.batchSize ?? 100;
  const round = async (): Promise<number> => {
    const report = await queue.drain(engine, batchSize);
    if (report.taken > 0) options.onDrained?.(report);
    return report.taken;
  };
  return startPolling(round, {
    intervalMs: interval,
    onError: options.onError,
    afterFailure: (failures) => backoffDelay(failures, { initialMs: Math.max(interval, 50), maxMs: options.maxBackoffMs ?? 30_000 }),
  });
}
