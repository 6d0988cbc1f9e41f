/**
 * The embedded durable queue: a `queue` table in the same SQLite database as the store
 * (migration 2), so a process needs no server to take events asynchronously.
 *
 * This module is the entry point; the code lives in ./embedded/: queue.ts (the queue and its drain
 * transaction, whose module comment explains the exactly-once guarantees), statements.ts (its SQL),
 * worker.ts (the drain loop), producer.ts (enqueueing from HTTP or JSONL), types.ts.
 */
export { drainOnce, EmbeddedQueue } from './embedded/queue.js';
export { enqueueJsonl, queueProducer, type RejectedLine } from './embedded/producer.js';
export { startEmbeddedWorker, type EmbeddedWorker, type EmbeddedWorkerOptions } from './embedded/worker.js';
export type { DrainEngine, DrainReport, EmbeddedQueueOptions, QueueCounts, QueueOutcome, QueueRow } from './embedded/types.js';
