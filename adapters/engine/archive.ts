/**
 * The archive policy (issue #20): what happens to a batch once it is closed.
 *
 * A batch is closed when its batch entity reaches a final status of the batch machine
 * (`completed_successfully`, `completed_with_failures`, `failed_critically`, `cancelled`,
 * `content_ingestion_failed`; BatchClosedV1 is emitted for the first two). `archiveDays` days
 * after that (default 30), `archiveClosedBatches` moves everything of the batch (its batch,
 * batch_tracker, associations and essay entities, their parts, and every audit row of them) into
 * one compressed archive, and deletes the originals, in one transaction per batch. Nothing is lost:
 * - `load`, `loadMany`, `history` and the idempotency answers (`findInbox`) of archived entities
 *   are the same as before;
 * - a later event to an archived batch (a redelivery, an operator command) restores the batch to
 *   the live tables in the transaction that applies it, and the machines decide as before;
 * - `restoreBatch` puts a batch back by hand; what reads the global audit feed (`auditSince`:
 *   replay, what-if over the whole log, the SSE stream) and listings (`list`, `countByStatus`)
 *   cover live rows only: restore the batch first to replay or list it.
 * SQLite only; other stores answer UNSUPPORTED_OPERATION.
 */
import { LifecycleError } from '../errors.js';
import type { ArchiveReport, RestoreReport, SnapshotStore } from '../store.js';
import { defaultMachines, type MachineRegistry } from './registry.js';

/** Days a closed batch stays live before `archiveClosedBatches` archives it. */
export const DEFAULT_ARCHIVE_DAYS = 30;

const DAY_MS = 86_400_000;

/** What `archiveClosedBatches` archives. */
export interface ArchiveOptions {
  /** Days after its closing a batch is archived (default 30; 0: every closed batch now). */
  readonly archiveDays?: number;
  /** The current time (default now). */
  readonly now?: Date;
  /** The machines (default `defaultMachines()`): the batch machine's final states are the closed statuses. */
  readonly machines?: MachineRegistry;
  /** Entities per compressed chunk of an archive (default 1,000): a read of an archived entity decompresses one chunk. */
  readonly chunkEntities?: number;
  /**
   * Audit rows per chunk at most (default 10,000): what archiving or restoring holds in memory at a
   * time; an entity with more rows (a large batch's tracker) continues in the next chunks.
   */
  readonly chunkAuditRows?: number;
}

/** The machine whose entities are batches. */
const BATCH_MACHINE = 'batch';

function unsupported(store: SnapshotStore, operation: string): LifecycleError {
  return new LifecycleError('UNSUPPORTED_OPERATION', `the ${store.kind} store has no batch archives (${operation}); they are implemented on SQLite`, {
    details: { kind: store.kind, operation },
  });
}

/** The statuses of a machine's final states (a batch in one of them is closed). */
export function finalStatuses(machines: MachineRegistry, machineId: string = BATCH_MACHINE): string[] {
  const machine = machines[machineId];
  if (machine === undefined) throw new LifecycleError('INVALID_CONFIGURATION', `no machine "${machineId}" is registered`, { details: { machine: machineId } });
  return Object.entries(machine.logic.root.states)
    .filter(([, node]) => (node as { type?: string }).type === 'final')
    .map(([status]) => status);
}

/** INVALID_CONFIGURATION unless `value` is absent or a positive integer. */
function positiveIntegerOrAbsent(name: string, value: number | undefined): void {
  if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
    throw new LifecycleError('INVALID_CONFIGURATION', `${name} must be a positive integer, got ${value}`, { details: { [name]: value } });
  }
}

/**
 * Archives every batch closed at least `archiveDays` days before `now`, each in one transaction,
 * and reports what it moved. Idempotent: an archived batch is not archived again. Throws
 * INVALID_CONFIGURATION for a bad `archiveDays`, UNSUPPORTED_OPERATION on a store without archives.
 */
export async function archiveClosedBatches(store: SnapshotStore, options: ArchiveOptions = {}): Promise<ArchiveReport> {
  const archiveDays = options.archiveDays ?? DEFAULT_ARCHIVE_DAYS;
  if (!Number.isFinite(archiveDays) || archiveDays < 0) {
    throw new LifecycleError('INVALID_CONFIGURATION', `archiveDays must be a non-negative number of days, got ${archiveDays}`, { details: { archiveDays } });
  }
  const { chunkEntities, chunkAuditRows } = options;
  positiveIntegerOrAbsent('chunkEntities', chunkEntities);
  positiveIntegerOrAbsent('chunkAuditRows', chunkAuditRows);
  if (store.archiveBatches === undefined) throw unsupported(store, 'archiveClosedBatches');
  const machines = options.machines ?? defaultMachines();
  const now = options.now ?? new Date();
  return store.archiveBatches({
    batchMachine: BATCH_MACHINE,
    closedStatuses: finalStatuses(machines),
    closedBefore: new Date(now.getTime() - archiveDays * DAY_MS).toISOString(),
    memberMachines: Object.values(machines).filter((machine) => machine.batchOf !== undefined).map((machine) => machine.id),
    ...(chunkEntities === undefined ? {} : { chunkEntities }),
    ...(chunkAuditRows === undefined ? {} : { chunkAuditRows }),
  });
}

/**
 * Puts an archived batch back into the live tables, exactly as it was. ENTITY_NOT_FOUND when the
 * batch has no archive, ARCHIVE_CORRUPT (nothing changed) when it is unreadable,
 * UNSUPPORTED_OPERATION on a store without archives.
 */
export async function restoreBatch(store: SnapshotStore, batchId: string): Promise<RestoreReport> {
  if (store.restoreBatch === undefined) throw unsupported(store, 'restoreBatch');
  if (typeof batchId !== 'string' || batchId === '') {
    throw new LifecycleError('INVALID_ARGUMENT', 'restoreBatch needs a batch id (a non-empty string)', { details: { batch_id: batchId } });
  }
  return store.restoreBatch(batchId);
}
