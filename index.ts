/**
 * essay-lifecycle-statecharts: XState v5 machines for an essay-grading pipeline and the
 * durable engine that runs them. This entry point needs only xstate and zod at run time.
 *
 * Subpaths, each with its own optional peer: `./sqlite` (embedded store, better-sqlite3),
 * `./memory` (in-memory store, none), `./postgres` (pg), `./http` (express router, express and
 * express-rate-limit), `./queue` (embedded SQLite queue, better-sqlite3), `./queue/nats`
 * (JetStream, @nats-io/jetstream and @nats-io/transport-node), `./visual` (diagrams and path
 * generation, @xstate/graph; SVG also @viz-js/viz).
 */
export * from './machines/index.js';
export * from './adapters/engine/index.js';
export * from './adapters/errors.js';
export type {
  ArchivedBatch,
  ArchiveReport,
  ArchiveRequest,
  AuditRecord,
  AuditWrite,
  CommitBatch,
  CommitResult,
  EntityRecord,
  EntityWrite,
  EntityVersion,
  InboxWrite,
  ListQuery,
  OutboxRecord,
  OutboxWrite,
  PruneCutoffs,
  PruneReport,
  RestoreReport,
  SnapshotStore,
  StatusCountRow,
  TimerRecord,
  TimerWrite,
} from './adapters/store.js';
