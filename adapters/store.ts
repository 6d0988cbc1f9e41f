/**
 * The store port: what the durable engine needs from persistence, and nothing else.
 *
 * Types and the `SnapshotStore` interface only; implementations live in adapters/sqlite (and later
 * adapters/postgres). Every member states its CONTRACT: what an implementation must guarantee. The
 * reusable suite in test/contract/snapshot-store-contract.ts checks each contract against a store.
 *
 * Conventions shared by every implementation:
 * - Timestamps are ISO-8601 UTC strings produced by `Date.prototype.toISOString()` from the store's
 *   injected clock (`now: () => Date`), so they compare correctly as text.
 * - JSON values are returned structurally equal to what was written (no key reordering guarantees,
 *   no `undefined`, no non-JSON numbers).
 * - Every failure is a `LifecycleError` (adapters/errors.ts): VERSION_CONFLICT for lost
 *   compare-and-sets and duplicate inbox ids, SNAPSHOT_CORRUPT for unreadable entity rows,
 *   STORE_FAILURE for everything the driver, disk or connection raises (the original in `cause`).
 */

import type { Json } from '../machines/lifecycle-machine.js';

/** Any JSON value (the machines' own Json type). */
export type { Json };

/** One entity row: the persisted actor snapshot of one machine instance. */
export interface EntityRecord {
  /** Machine id, e.g. 'batch', 'essay', 'batch_tracker', 'associations'. */
  machine: string;
  entity_id: string;
  /** E.g. an essay's batch_id; null for top-level entities. */
  parent_id: string | null;
  /** Version of the machine definition that wrote the snapshot. */
  machine_version: number;
  /** Optimistic-concurrency version: 1 on insert, +1 on every update. */
  version: number;
  /** User-visible status string derived from the snapshot. */
  status: string;
  /** XState persisted snapshot (JSON). */
  snapshot: Json;
  /** ISO timestamp of the insert; never changes afterwards. */
  created_at: string;
  /** ISO timestamp of the last commit that wrote this row. */
  updated_at: string;
  /**
   * Present (true) when the snapshot's context parts are kept inside the main row, not in part rows
   * of their own (a row written before its store split parts): the next write of the entity must
   * then not call any part unchanged (the engine sends no `EntityWrite.parts` hint).
   */
  parts_inline?: true;
}

/** An entity insert or update, guarded by a compare-and-set on `version`. */
export interface EntityWrite {
  machine: string;
  entity_id: string;
  /** Written on insert and on update (the row takes the write's value). */
  parent_id: string | null;
  /** 0 = must not exist yet (insert, version becomes 1); n = row must currently have version n (update to n+1). */
  expected_version: number;
  machine_version: number;
  status: string;
  snapshot: Json;
  /**
   * Status and parent_id of the row at `expected_version`, when the writer read them: a store may
   * then leave those (indexed) columns alone when they did not change. Only a hint: the
   * compare-and-set on the version still guards the write.
   */
  stored?: { status: string; parent_id: string | null };
  /**
   * Which context parts (objects `{ part_id, items }`, see adapters/store-parts.ts) changed since
   * `expected_version` (new, or another object than then: `changed`, the very objects of
   * `snapshot`) and which were dropped (`removed`); every other part is as it was. A store that
   * keeps parts in rows of their own then writes exactly `changed` and deletes `removed`; without
   * the hint, it writes every part and deletes any other. `snapshot` is always the whole
   * snapshot, and readers always get it back whole.
   */
  parts?: { changed: ReadonlyArray<{ readonly part_id: string; readonly items: unknown }>; removed: readonly string[] };
}

/** One audit entry: an event applied to (or refused by) one entity. */
export interface AuditWrite {
  event_id: string;
  event_type: string;
  correlation_id: string;
  causation_id: string | null;
  machine: string;
  entity_id: string;
  from_status: string | null;
  to_status: string | null;
  outcome: 'accepted' | 'refused';
  /** Refusal reason (human readable) or null. */
  reason: string | null;
  /** Version of the entity after this event (null when refused). */
  entity_version: number | null;
  /** The full envelope as applied. */
  envelope: Json;
  /**
   * Version of the machine definition that took (or refused) the event; the engine always writes
   * it. What-if reports and migrations tell old rows from new by it.
   */
  machine_version?: number;
}

/** A stored audit entry. */
export interface AuditRecord extends Omit<AuditWrite, 'machine_version'> {
  /** Version of the machine that produced the row; null for rows written before stores recorded it. */
  machine_version: number | null;
  /** Global, strictly increasing across all commits (gaps allowed); assigned in `batch.audit` order. */
  position: number;
  /** The commit's timestamp. */
  recorded_at: string;
}

/** An event to publish after the commit (transactional outbox). */
export interface OutboxWrite {
  /** Unique: writing an event_id that is already in the outbox is a no-op (ON CONFLICT DO NOTHING). */
  event_id: string;
  event_type: string;
  /** Partition/ordering key (batch id). */
  aggregate_id: string;
  envelope: Json;
  /** True when the engine also delivered it to one of its own machines. */
  internal: boolean;
}

/** A stored outbox row. */
export interface OutboxRecord extends OutboxWrite {
  /** Strictly increasing in commit order; publishers deliver in ascending id. */
  id: number;
  created_at: string;
  published_at: string | null;
  /** Failed publish attempts so far (0 on insert). */
  attempts: number;
  last_error: string | null;
}

/** The idempotency record of one processed inbound event, with the answer given for it. */
export interface InboxWrite {
  event_id: string;
  event_type: string;
  result: Json;
}

/** A durable timer: `event` is delivered to (machine, entity_id) at `due_at`. */
export interface TimerWrite {
  timer_id: string;
  machine: string;
  entity_id: string;
  /** ISO timestamp. */
  due_at: string;
  event: Json;
}

/** A stored timer. */
export interface TimerRecord extends TimerWrite {
  /** When the timer was first set (re-arming keeps it). */
  created_at: string;
  /** When the engine marked it fired; null while pending. */
  fired_at: string | null;
}

/** Everything one dispatch (or one group of dispatches) commits, atomically. */
export interface CommitBatch {
  entities: EntityWrite[];
  audit: AuditWrite[];
  /** Duplicated event_ids (already stored, or repeated in this batch) are skipped silently. */
  outbox: OutboxWrite[];
  /** Each event_id must be new; a duplicate fails the whole batch (see `SnapshotStore.commit`). */
  inbox: InboxWrite[];
  /** Upsert by timer_id (re-arming replaces machine/entity_id/due_at/event and clears fired_at). */
  timersSet: TimerWrite[];
  /** timer_ids to delete (missing ids are ignored). */
  timersCancelled: string[];
  /**
   * timer_ids to mark fired_at = commit time, first (before `timersSet` and `timersCancelled`), by
   * compare-and-set: a timer that is missing or already fired (or repeated) fails the whole batch
   * with VERSION_CONFLICT (`details.timer_id`). A timer fires at most once per arming.
   */
  timersFired: string[];
  /**
   * Rows the batch relied on without writing them (an event refused by a remembered snapshot):
   * the commit fails with VERSION_CONFLICT and writes nothing unless each is still at `version`.
   * Honoured by stores whose `checksUnchanged` is true; the engine sends it only to those.
   */
  unchanged?: EntityVersion[];
}

/** How many entities of a machine are in a status. */
export interface StatusCountRow {
  machine: string;
  status: string;
  count: number;
}

/** An entity row at a version. */
export interface EntityVersion {
  machine: string;
  entity_id: string;
  version: number;
}

/** What a successful commit reports. */
export interface CommitResult {
  /** The single timestamp written to every row of the batch (created_at/updated_at/recorded_at/...). */
  committedAt: string;
  /** Positions assigned to `batch.audit`, in the same order; strictly increasing. */
  auditPositions: number[];
}

/** The `loadMany` map key of one entity: `${machine}\u0000${entity_id}`. */
export type EntityKey = `${string}\u0000${string}`;

/** Listing filter: default limit 100, max 1000 (larger values are clamped), offset default 0. */
export interface ListQuery {
  machine: string;
  status?: string;
  parent_id?: string;
  limit?: number;
  offset?: number;
}

/** What `SnapshotStore.prune` deletes: rows older than the given ISO timestamps. */
export interface PruneCutoffs {
  /** Outbox rows published before this time (unpublished rows are never deleted). */
  readonly outboxPublishedBefore: string;
  /** Idempotency keys (inbox rows) of events first recorded before this time. */
  readonly inboxBefore: string;
}

/** What a prune deleted. */
export interface PruneReport {
  readonly outbox: number;
  readonly inbox: number;
}

/** Which batches `SnapshotStore.archiveBatches` archives (built by adapters/engine/archive.ts). */
export interface ArchiveRequest {
  /** The machine whose entities are batches. */
  readonly batchMachine: string;
  /** The statuses in which a batch is closed (its machine's final states). */
  readonly closedStatuses: readonly string[];
  /** Only batches whose batch entity was last written (it reached its closed status) at or before this ISO time. */
  readonly closedBefore: string;
  /** Machines whose entities belong to a batch: top level with the batch's id, or with the batch as `parent_id`. */
  readonly memberMachines: readonly string[];
  /** Entities per compressed chunk (a read decompresses one chunk); the store's default when absent. */
  readonly chunkEntities?: number;
  /** Audit rows per chunk at most (an entity with more continues in the next chunks); the store's default when absent. */
  readonly chunkAuditRows?: number;
}

/** One batch moved into its archive. */
export interface ArchivedBatch {
  readonly batch_id: string;
  /** Rows moved: entities, entity parts, audit rows. */
  readonly entities: number;
  readonly parts: number;
  readonly audit_rows: number;
  /** Bytes of the compressed archive, and of its columns before compression. */
  readonly bytes: number;
  readonly raw_bytes: number;
}

/** What `archiveBatches` did. */
export interface ArchiveReport {
  readonly archived: readonly ArchivedBatch[];
}

/** What `restoreBatch` put back into the live tables. */
export interface RestoreReport {
  readonly batch_id: string;
  readonly entities: number;
  readonly parts: number;
  readonly audit_rows: number;
}

/** The persistence port of the durable engine. */
export interface SnapshotStore {
  /** Which implementation this is. */
  readonly kind: 'sqlite' | 'postgres' | 'memory';
  /** True when `commit` checks `CommitBatch.unchanged` (the engine keeps entities in memory only then). */
  readonly checksUnchanged?: boolean;

  /** CONTRACT: returns the committed row of (machine, entity_id), or undefined. Throws SNAPSHOT_CORRUPT when the row is unreadable. */
  load(machine: string, entity_id: string): Promise<EntityRecord | undefined>;

  /**
   * CONTRACT: loads many at once from one consistent read; the map is keyed `${machine}\u0000${entity_id}`
   * (type `EntityKey`); missing ones are absent. Throws SNAPSHOT_CORRUPT if any requested row is unreadable.
   */
  loadMany(keys: ReadonlyArray<{ machine: string; entity_id: string }>): Promise<Map<string, EntityRecord>>;

  /** CONTRACT: the stored results for those event ids that were already committed; others are absent. */
  findInbox(event_ids: readonly string[]): Promise<Map<string, Json>>;

  /**
   * CONTRACT: commits the whole batch in ONE transaction or nothing; concurrent commits (other
   * connections or processes) are serialized. Every row gets the same timestamp (`committedAt`).
   * - Inbox: if any inbox event_id already exists (or repeats within the batch) it throws
   *   LifecycleError('VERSION_CONFLICT') with details { event_id, duplicate: true } and writes nothing
   *   (the engine then re-reads the inbox and answers "duplicate"). Inbox duplicates are checked
   *   BEFORE entity versions, so a redelivered event is reported as a duplicate, never as stale.
   * - Entities: if any entity's expected_version does not match (including insert of an existing row,
   *   or update of a missing one) it throws LifecycleError('VERSION_CONFLICT') with details
   *   { machine, entity_id, expected_version, actual_version } (actual_version 0 = absent) and writes nothing.
   * - Outbox duplicates are skipped; timers are upserted, cancelled, then marked fired, in that order.
   * - Driver errors are translated to LifecycleError('STORE_FAILURE', ..., { cause }).
   */
  commit(batch: CommitBatch): Promise<CommitResult>;

  /**
   * CONTRACT: the audit entries of one entity in ascending position, only those with
   * position > afterPosition (default 0), at most `limit` (default 100, max 1000).
   */
  history(machine: string, entity_id: string, options?: { limit?: number; afterPosition?: number }): Promise<AuditRecord[]>;

  /** CONTRACT: global audit feed: entries with position > afterPosition, ascending, at most `limit` (max 1000). */
  auditSince(afterPosition: number, limit: number): Promise<AuditRecord[]>;

  /** CONTRACT: entities of `query.machine` matching status/parent_id, ordered by created_at then entity_id, paged. */
  list(query: ListQuery): Promise<EntityRecord[]>;

  /** CONTRACT: row counts per (machine, status), ordered by machine then status; only one machine when given. */
  countByStatus(machine?: string): Promise<StatusCountRow[]>;

  /** CONTRACT: unfired timers with due_at <= now, ascending due_at (ties by timer_id), at most `limit` (max 1000). */
  dueTimers(now: string, limit: number): Promise<TimerRecord[]>;
  /**
   * Optional, for stores shared by several workers: like dueTimers, but leases the rows it
   * returns for `leaseMs` so concurrent callers get disjoint timers. The engine uses it when
   * present; the inbox stays the final guard against a second firing.
   */
  claimDueTimers?(now: string, limit: number, leaseMs: number): Promise<TimerRecord[]>;

  /** CONTRACT: the earliest due_at among unfired timers, or undefined when there is none. */
  nextTimerDue(): Promise<string | undefined>;

  /** CONTRACT: unpublished outbox rows (published_at IS NULL), ascending id, at most `limit` (max 1000). */
  pendingOutbox(limit: number): Promise<OutboxRecord[]>;

  /** CONTRACT: sets published_at = at on those ids, atomically; already-published rows keep their first published_at; unknown ids are ignored. */
  markPublished(ids: readonly number[], at: string): Promise<void>;

  /** CONTRACT: on an unpublished row: attempts + 1 and last_error = error; the row stays pending. Unknown or published ids are ignored. */
  markPublishFailed(id: number, error: string): Promise<void>;

  /** CONTRACT: number of outbox rows; only published (true) or only unpublished (false) when given. */
  outboxCount(options?: { published?: boolean }): Promise<number>;

  /**
   * Optional retention (see adapters/engine/retention.ts): deletes published outbox rows and
   * inbox keys older than the cutoffs, in one transaction, and reports how many of each. An
   * event whose inbox key was deleted is no longer recognised as a duplicate.
   */
  prune?(cutoffs: PruneCutoffs): Promise<PruneReport>;

  /**
   * Optional archive of closed batches (SQLite; see adapters/engine/archive.ts): moves every row
   * of each closed batch the request selects (its entities, their parts and audit rows) into one
   * compressed archive, each batch in one transaction. Afterwards `load`, `loadMany`, `history`
   * and `findInbox` answer for the archived entities exactly as before; a commit touching one of
   * them first restores its batch in the same transaction. `auditSince` and `list` cover live rows only.
   */
  archiveBatches?(request: ArchiveRequest): Promise<ArchiveReport>;

  /**
   * Optional, with `archiveBatches`: puts an archived batch's rows back into the live tables,
   * exactly as they were, and drops its archive. ENTITY_NOT_FOUND when the batch has no archive,
   * ARCHIVE_CORRUPT (nothing changed) when its archive is unreadable.
   */
  restoreBatch?(batchId: string): Promise<RestoreReport>;

  /** CONTRACT: releases the connection(s); idempotent. Any later call rejects with STORE_FAILURE. */
  close(): Promise<void>;
}
