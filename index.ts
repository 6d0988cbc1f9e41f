/**
 * essay-lifecycle-statecharts: XState v5 machines for an essay-grading pipeline and the
 * durable engine that runs them. Subpaths: `./sqlite` (embedded store).
 */
export * from './machines/index.js';
export * from './adapters/engine/index.js';
export * from './adapters/errors.js';
export type {
  AuditRecord,
  AuditWrite,
  CommitBatch,
  CommitResult,
  EntityRecord,
  EntityWrite,
  InboxWrite,
  ListQuery,
  OutboxRecord,
  OutboxWrite,
  SnapshotStore,
  TimerRecord,
  TimerWrite,
} from './adapters/store.js';
