/**
 * The embedded SQLite queue and the helpers shared by the queue adapters. The NATS JetStream
 * adapter is a separate entry point (`./nats.js`) so that this one needs no NATS packages.
 */
export {
  drainOnce,
  EmbeddedQueue,
  enqueueJsonl,
  queueProducer,
  startEmbeddedWorker,
  type DrainEngine,
  type DrainReport,
  type EmbeddedQueueOptions,
  type EmbeddedWorker,
  type EmbeddedWorkerOptions,
  type QueueCounts,
  type QueueOutcome,
  type QueueRow,
  type RejectedLine,
} from './embedded.js';
export { backoffDelay, partitionKeyOf, partitionOf, silentLogger, type BackoffOptions, type QueueLogger } from './support.js';
export { embeddedDeadLetters } from './embedded/dead-letters.js';
export type { DeadLetter, DeadLetterCounts, DeadLetterListOptions, DeadLetterQueue, DeadLetterQueueKind, RedriveEngine, RedriveResult } from './dead-letters.js';
