/**
 * SQLite implementation of the store port (better-sqlite3). Synchronous driver, async port: every
 * method runs to completion before returning a settled promise, so commits never interleave inside
 * one process, and IMMEDIATE transactions serialize commits across processes sharing the file.
 */
import Database from 'better-sqlite3';
import { LifecycleError } from '../errors.js';
import { timerNotWaiting, versionConflict } from '../store-support.js';
import { SqliteParts, type StoredEntityRow as EntityRow } from './parts.js';
import { pruneRows } from './retention.js';
import { ensureParentDirectory, validateOptions, type SqliteStoreOptions } from './options.js';
import { SqliteArchives } from './archives.js';
import { ArchivedReads } from './archived-reads.js';
import { WalCheckpointer } from './checkpointer.js';

export type { SqliteStoreOptions };
import type {
  ArchiveReport,
  ArchiveRequest,
  ArchivedBatch,
  AuditRecord,
  CommitBatch,
  CommitResult,
  EntityRecord,
  EntityVersion,
  EntityWrite,
  Json,
  ListQuery,
  OutboxRecord,
  PruneCutoffs,
  PruneReport,
  RestoreReport,
  SnapshotStore,
  StatusCountRow as StatusCount,
  TimerRecord,
} from '../store.js';
import { migrate, migrations } from './migrations.js';
import { decodeOutcome } from './outcomes.js';
import { SqliteAudit, type AuditEncoding } from './audit.js';
import {
  MAX_LIMIT,
  nonNegative,
  pageLimit,
  parseOutbox,
  parseTimer,
  toStoreError,
} from './rows.js';

import { prepareEntityStatements, prepareLogStatements, type Statements } from './statements.js';

/** The SQLite `SnapshotStore`. Build it with `openSqliteStore`, which configures and migrates the file. */
export class SqliteStore implements SnapshotStore {
  /** The migrations this store applies on open. */
  static readonly migrations = migrations;

  readonly kind = 'sqlite' as const;
  readonly checksUnchanged = true;
  /** The better-sqlite3 handle (for tests and benchmarks; do not write through it in production). */
  readonly db: Database.Database;
  /** The background WAL checkpointer of a file store (checkpoint `background`), for tests and benchmarks. */
  readonly checkpointer: WalCheckpointer | undefined;
  private readonly now: () => Date;
  private readonly s: Statements;
  private readonly parts: SqliteParts;
  private readonly commitTx: Database.Transaction<(batch: CommitBatch, at: string) => number[]>;
  private readonly loadManyTx: Database.Transaction<(keys: ReadonlyArray<{ machine: string; entity_id: string }>) => Map<string, EntityRecord>>;
  private readonly readTx: Database.Transaction<(read: () => unknown) => unknown>;
  private readonly markPublishedTx: Database.Transaction<(ids: readonly number[], at: string) => void>;
  private readonly audit: SqliteAudit;
  private readonly pruneTx: Database.Transaction<(cutoffs: PruneCutoffs) => PruneReport>;
  private readonly archives: SqliteArchives;
  private readonly archived: ArchivedReads;
  private readonly archiveTx: Database.Transaction<(batchId: string, closedAt: string, request: ArchiveRequest) => ArchivedBatch | undefined>;
  private readonly restoreTx: Database.Transaction<(batchId: string) => RestoreReport>;

  /** `db` must already be configured and migrated (see `openSqliteStore`). */
  constructor(
    db: Database.Database,
    now: () => Date = () => new Date(),
    options: { readonly deriveStoredAnswers?: boolean; readonly compactAuditEnvelopes?: boolean; readonly checkpointer?: WalCheckpointer | undefined } = {},
  ) {
    this.db = db;
    this.checkpointer = options.checkpointer;
    this.now = now;
    const encoding: AuditEncoding = { deriveAnswers: options.deriveStoredAnswers !== false, compactEnvelopes: options.compactAuditEnvelopes !== false };
    this.audit = new SqliteAudit(db, encoding);
    this.s = { ...prepareEntityStatements(db), ...prepareLogStatements(db) };
    this.parts = new SqliteParts(db);
    this.archives = new SqliteArchives(db);
    this.archived = new ArchivedReads(this.archives, this.parts);
    this.archiveTx = db.transaction((batchId: string, closedAt: string, request: ArchiveRequest) => {
      // Still closed, and not written since it was selected (another process may have restored or written it).
      const batch = this.s.loadEntity.get(request.batchMachine, batchId);
      if (batch === undefined || batch.updated_at !== closedAt || !request.closedStatuses.includes(batch.status)) return undefined;
      return this.archives.archive(batchId, closedAt, request, this.now().toISOString());
    });
    this.restoreTx = db.transaction((batchId: string) => this.archives.restore(batchId));
    this.commitTx = db.transaction((batch: CommitBatch, at: string) => this.applyBatch(batch, at));
    this.loadManyTx = db.transaction((keys: ReadonlyArray<{ machine: string; entity_id: string }>) => {
      const found = new Map<string, EntityRecord>();
      // Without archives in the file a missing entity is just missing: no hash and lookup each (a registration reads thousands).
      const archives = this.archives.any();
      for (const { machine, entity_id } of keys) {
        const row = this.s.loadEntity.get(machine, entity_id);
        const record = row !== undefined ? this.parts.read(row) : archives ? this.archived.entity(machine, entity_id) : undefined;
        if (record !== undefined) found.set(`${machine}\u0000${entity_id}`, record);
      }
      return found;
    });
    this.readTx = db.transaction((read: () => unknown) => read());
    this.pruneTx = db.transaction((cutoffs: PruneCutoffs) => pruneRows(db, cutoffs));
    this.markPublishedTx = db.transaction((ids: readonly number[], at: string) => {
      for (const id of ids) this.s.markPublished.run(at, id);
    });
  }

  load(machine: string, entity_id: string): Promise<EntityRecord | undefined> {
    return this.run('load', () => {
      const row = this.s.loadEntity.get(machine, entity_id);
      if (row !== undefined && row.part_count === 0) return this.parts.read(row);
      // A second read (its parts, or the archive) shares one read transaction with the first, so a
      // commit of another connection in between (a part write, a restore) cannot tear the answer.
      return this.loadManyTx.deferred([{ machine, entity_id }]).get(`${machine}\u0000${entity_id}`);
    });
  }

  loadMany(keys: ReadonlyArray<{ machine: string; entity_id: string }>): Promise<Map<string, EntityRecord>> {
    return this.run('loadMany', () => (keys.length === 0 ? new Map<string, EntityRecord>() : this.loadManyTx.deferred(keys)));
  }

  findInbox(event_ids: readonly string[]): Promise<Map<string, Json>> {
    return this.run('findInbox', () => (event_ids.length === 0 ? new Map<string, Json>() : (this.readInbox(event_ids, false) ?? this.inOneRead(() => this.readInbox(event_ids, true) ?? new Map<string, Json>()))));
  }

  /** `read`'s statements in one read transaction (a consistent view across live rows and archives). */
  private inOneRead<T>(read: () => T): T {
    return this.readTx.deferred(read) as T;
  }

  /** The kept answers; undefined when one is in an archive and `inArchives` is false (read it again in one read transaction). */
  private readInbox(event_ids: readonly string[], inArchives: boolean): Map<string, Json> | undefined {
    const found = new Map<string, Json>();
    const rows = event_ids.length === 1 ? this.s.findInbox.all(event_ids[0] as string) : this.s.findInboxMany.all(JSON.stringify(event_ids));
    if (!inArchives && rows.some((row) => row.result === null)) return undefined;
    for (const row of rows) found.set(row.event_id, decodeOutcome(row.result === null ? this.archived.outcome(row) : row));
    return found;
  }

  commit(batch: CommitBatch): Promise<CommitResult> {
    return this.run('commit', () => {
      const committedAt = this.now().toISOString();
      // A deferred transaction is enough when its first statement writes (an audit or inbox
      // insert): SQLite retries a first-statement write lock under busy_timeout like BEGIN
      // IMMEDIATE would, without IMMEDIATE's extra round (measured: about 20 us per commit).
      const firstWrites = batch.audit.length > 0 || batch.inbox.length > 0;
      const auditPositions = firstWrites ? this.commitTx(batch, committedAt) : this.commitTx.immediate(batch, committedAt);
      this.checkpointer?.committed();
      return { committedAt, auditPositions };
    });
  }

  history(machine: string, entity_id: string, options: { limit?: number; afterPosition?: number } = {}): Promise<AuditRecord[]> {
    // Live rows and the archive in one read transaction: an archive or restore in between would double or drop rows.
    return this.run('history', () => this.inOneRead(() => this.archived.history(machine, entity_id, this.audit.history(machine, entity_id, options), options)));
  }

  auditSince(afterPosition: number, limit: number): Promise<AuditRecord[]> {
    return this.run('auditSince', () => this.audit.since(afterPosition, limit));
  }

  list(query: ListQuery): Promise<EntityRecord[]> {
    return this.run('list', () => this.inOneRead(() => this.archived.list(query, () => this.listLive(query, MAX_LIMIT, 0)) ?? this.listLive(query, pageLimit(query.limit), nonNegative(query.offset))));
  }

  /** One page of live entities. */
  private listLive(query: ListQuery, limit: number, offset: number): EntityRecord[] {
    const { machine, status, parent_id } = query;
    let rows: EntityRow[];
    if (status !== undefined && parent_id !== undefined) rows = this.s.listByStatusAndParent.all(machine, status, parent_id, limit, offset);
    else if (status !== undefined) rows = this.s.listByStatus.all(machine, status, limit, offset);
    else if (parent_id !== undefined) rows = this.s.listByParent.all(machine, parent_id, limit, offset);
    else rows = this.s.listAll.all(machine, limit, offset);
    return rows.map((row) => this.parts.read(row));
  }

  countByStatus(machine?: string): Promise<StatusCount[]> {
    return this.run('countByStatus', () => (machine === undefined ? this.s.countAll.all() : this.s.countMachine.all(machine)));
  }

  dueTimers(now: string, limit: number): Promise<TimerRecord[]> {
    return this.run('dueTimers', () => this.s.dueTimers.all(now, pageLimit(limit)).map(parseTimer));
  }

  nextTimerDue(): Promise<string | undefined> {
    return this.run('nextTimerDue', () => this.s.nextTimerDue.get()?.due ?? undefined);
  }

  pendingOutbox(limit: number): Promise<OutboxRecord[]> {
    return this.run('pendingOutbox', () => this.s.pendingOutbox.all(pageLimit(limit)).map(parseOutbox));
  }

  markPublished(ids: readonly number[], at: string): Promise<void> {
    return this.run('markPublished', () => void (ids.length > 0 && this.markPublishedTx.immediate(ids, at)));
  }

  markPublishFailed(id: number, error: string): Promise<void> {
    return this.run('markPublishFailed', () => void this.s.markPublishFailed.run(error, id));
  }

  outboxCount(options: { published?: boolean } = {}): Promise<number> {
    const { outboxCountAll, outboxCountPublished, outboxCountPending } = this.s;
    const stmt = options.published === undefined ? outboxCountAll : options.published ? outboxCountPublished : outboxCountPending;
    return this.run('outboxCount', () => stmt.get()?.n ?? 0);
  }

  prune(cutoffs: PruneCutoffs): Promise<PruneReport> {
    return this.run('prune', () => this.pruneTx.immediate(cutoffs));
  }

  archiveBatches(request: ArchiveRequest): Promise<ArchiveReport> {
    return this.run('archiveBatches', () => {
      const archived: ArchivedBatch[] = [];
      for (const { batchId, closedAt } of this.archives.closedBatches(request)) {
        const done = this.archiveTx.immediate(batchId, closedAt, request);
        if (done !== undefined) archived.push(done);
      }
      return { archived };
    });
  }

  restoreBatch(batchId: string): Promise<RestoreReport> {
    return this.run('restoreBatch', () => this.restoreTx.immediate(batchId));
  }

  async close(): Promise<void> {
    await this.checkpointer?.stop();
    return this.run('close', () => void (this.db.open && this.db.close()));
  }

  /** Runs a synchronous operation as a settled promise, translating driver errors. */
  private run<T>(operation: string, fn: () => T): Promise<T> {
    try {
      return Promise.resolve(fn());
    } catch (error) {
      return Promise.reject(toStoreError(error, operation));
    }
  }

  /** The body of the commit transaction: throws (rolling everything back) on any conflict. */
  private applyBatch(batch: CommitBatch, at: string): number[] {
    const s = this.s;
    // The outcome of an event goes on its first audit row, and its inbox row points there. (A
    // duplicate still fails before any entity is written: the audit rows roll back with it.)
    const answers = new Map(batch.inbox.map((entry) => [entry.event_id, entry.result]));
    const { positions, outcomeAt } = this.audit.write(batch.audit, answers, at);
    for (const entry of batch.inbox) {
      const position = outcomeAt.get(entry.event_id);
      const inline = position === undefined ? JSON.stringify(entry.result) : null;
      if (s.insertInbox.run(entry.event_id, inline, position ?? null).changes !== 1) {
        throw new LifecycleError('VERSION_CONFLICT', `event ${entry.event_id} was already processed`, {
          details: { event_id: entry.event_id, duplicate: true },
        });
      }
    }
    // A write to an entity of an archived batch restores the batch first (one lookup per entity, only when archives exist).
    // Not before the inserts above: a deferred transaction must write first (see commit), or a concurrent writer makes it fail busy.
    if (this.archives.any()) this.archives.restoreHolding([...batch.entities, ...(batch.unchanged ?? []), ...batch.audit]);
    for (const row of batch.unchanged ?? []) this.checkUnchanged(row);
    for (const write of batch.entities) this.writeEntity(write, at);
    for (const o of batch.outbox) {
      s.insertOutbox.run(o.event_id, o.event_type, o.aggregate_id, JSON.stringify(o.envelope), o.internal ? 1 : 0, at);
    }
    // Firing consumes the arming read as due (a compare-and-set); what the firing's own cascade cancels or re-arms comes after it.
    for (const id of batch.timersFired) if (s.fireTimer.run(at, id).changes !== 1) throw timerNotWaiting(id);
    for (const t of batch.timersSet) s.upsertTimer.run(t.timer_id, t.machine, t.entity_id, t.due_at, JSON.stringify(t.event), at);
    for (const id of batch.timersCancelled) s.deleteTimer.run(id);
    return positions;
  }

  /** Throws VERSION_CONFLICT when the row is no longer at the version the batch relied on. */
  private checkUnchanged(row: EntityVersion): void {
    const actual = this.s.entityVersion.get(row.machine, row.entity_id)?.version ?? 0;
    if (actual !== row.version) throw versionConflict(row.machine, row.entity_id, row.version, actual);
  }

  /** Compare-and-set of one entity row; throws VERSION_CONFLICT when the expected version does not hold. */
  private writeEntity(w: EntityWrite, at: string): void {
    const { snapshot, partCount, writeParts } = this.parts.prepare(w);
    const s = this.s;
    const sameParent = w.stored !== undefined && w.stored.parent_id === w.parent_id;
    const sameStatus = w.stored !== undefined && w.stored.status === w.status;
    let changes: number;
    if (w.expected_version === 0) changes = s.insertEntity.run(w.machine, w.entity_id, w.parent_id, w.machine_version, w.status, snapshot, at, at, partCount).changes;
    else if (sameParent && sameStatus) changes = s.updateEntityUnindexed.run(w.machine_version, snapshot, at, partCount, w.machine, w.entity_id, w.expected_version).changes;
    else if (sameParent) changes = s.updateEntityStatus.run(w.machine_version, w.status, snapshot, at, partCount, w.machine, w.entity_id, w.expected_version).changes;
    else changes = s.updateEntity.run(w.parent_id, w.machine_version, w.status, snapshot, at, partCount, w.machine, w.entity_id, w.expected_version).changes;
    if (changes === 1) {
      writeParts();
      return;
    }
    const actual = this.s.entityVersion.get(w.machine, w.entity_id)?.version ?? 0;
    throw versionConflict(w.machine, w.entity_id, w.expected_version, actual);
  }
}


/**
 * Opens (creating if needed, with its folder) a SQLite store: sets busy_timeout, journal_mode=WAL
 * (file databases), synchronous, foreign_keys=ON, then applies missing migrations. Throws
 * INVALID_CONFIGURATION for bad options and STORE_FAILURE when the folder cannot be created, the
 * file cannot be opened or its schema is newer than this code.
 */
export function openSqliteStore(options: SqliteStoreOptions): SqliteStore {
  const { synchronous, busyTimeoutMs, checkpoint } = validateOptions(options);
  const now = options.now ?? (() => new Date());
  ensureParentDirectory(options.path);
  let db: Database.Database | undefined;
  try {
    db = new Database(options.path, { timeout: busyTimeoutMs });
    db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    if (!db.memory) {
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (mode !== 'wal') throw new Error(`journal_mode WAL was refused (got ${String(mode)})`);
    }
    db.pragma(`synchronous = ${synchronous}`);
    db.pragma('foreign_keys = ON');
    migrate(db, migrations, now);
    const checkpointer = checkpoint === 'background' && !db.memory ? new WalCheckpointer(db, busyTimeoutMs, options.onCheckpointError) : undefined;
    return new SqliteStore(db, now, { deriveStoredAnswers: options.deriveStoredAnswers !== false, compactAuditEnvelopes: options.compactAuditEnvelopes !== false, checkpointer });
  } catch (error) {
    if (db?.open === true) db.close();
    throw toStoreError(error, `open of ${options.path}`);
  }
}
