/**
 * In-memory implementation of the store port: Maps and arrays, no database. For tests, examples
 * and in-browser demos (it imports nothing from Node). It honours the whole port contract the way
 * the SQLite store does, so code that works against it works against SQLite:
 * - `commit` is all-or-nothing: every inbox id and every compare-and-set is validated, and every
 *   JSON value is copied, BEFORE anything is applied; a failed commit leaves no trace.
 * - Errors carry the same codes and details as SQLite's (VERSION_CONFLICT `{ event_id, duplicate }`
 *   or `{ machine, entity_id, expected_version, actual_version }`, STORE_FAILURE after `close`).
 * - Text ordering (list, countByStatus, dueTimers, nextTimerDue) is by Unicode code point, which is
 *   SQLite's BINARY collation of UTF-8 text.
 * - JSON isolation: values are normalized with a JSON round trip on write (so what comes back is
 *   exactly what a SQL store would return: no `undefined`, no Dates, no non-JSON numbers) and
 *   `structuredClone`d on read, so no caller can mutate stored data.
 * Every method runs synchronously to completion before returning a settled promise, so commits
 * never interleave.
 */
import { LifecycleError } from '../errors.js';
import { checkTimersFired, compareText, versionConflict } from '../store-support.js';
import type {
  AuditRecord,
  CommitBatch,
  CommitResult,
  EntityRecord,
  Json,
  ListQuery,
  OutboxRecord,
  SnapshotStore,
  StatusCountRow as StatusCount,
  TimerRecord,
} from '../store.js';

/** Options of `createMemoryStore`. */
export interface MemoryStoreOptions {
  /** Clock for every timestamp the store writes (default `() => new Date()`). */
  now?: () => Date;
}

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;


const keyOf = (machine: string, entity_id: string): string => `${machine}\u0000${entity_id}`;

/** A page size: the default when absent or not a number, clamped to [0, MAX_LIMIT]. */
function pageLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return DEFAULT_LIMIT;
  return Math.min(MAX_LIMIT, Math.max(0, Math.floor(limit)));
}

function nonNegative(value: number | undefined): number {
  return value === undefined || !Number.isFinite(value) ? 0 : Math.max(0, Math.floor(value));
}


function toStoreError(error: unknown, operation: string): LifecycleError {
  if (error instanceof LifecycleError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new LifecycleError('STORE_FAILURE', `memory store ${operation} failed: ${message}`, { details: { operation }, cause: error });
}

/** A detached JSON copy of `value`, as a SQL store would persist it; non-JSON input fails like a driver would. */
function toJson(value: unknown, what: string): Json {
  const text = JSON.stringify(value);
  if (text === undefined) throw new LifecycleError('STORE_FAILURE', `${what} is not a JSON value`, { details: { what } });
  return JSON.parse(text) as Json;
}

/** The `SnapshotStore` that keeps everything in memory. Build it with `createMemoryStore`. */
export class MemoryStore implements SnapshotStore {
  readonly kind = 'memory' as const;
  readonly checksUnchanged = true;
  private readonly now: () => Date;
  private closed = false;

  private readonly entities = new Map<string, EntityRecord>();
  /** Audit rows in position order, and each entity's rows (also in position order). */
  private readonly audit: AuditRecord[] = [];
  private readonly auditByEntity = new Map<string, AuditRecord[]>();
  private lastPosition = 0;
  /** Outbox rows by event_id (insertion = id order), and the unpublished ones by id (also ascending). */
  private readonly outbox = new Map<string, OutboxRecord>();
  private readonly outboxById = new Map<number, OutboxRecord>();
  private readonly pending = new Map<number, OutboxRecord>();
  private lastOutboxId = 0;
  private readonly inbox = new Map<string, Json>();
  private readonly timers = new Map<string, TimerRecord>();

  constructor(options: MemoryStoreOptions = {}) {
    this.now = options.now ?? (() => new Date());
  }

  load(machine: string, entity_id: string): Promise<EntityRecord | undefined> {
    return this.run('load', () => {
      const row = this.entities.get(keyOf(machine, entity_id));
      return row === undefined ? undefined : structuredClone(row);
    });
  }

  loadMany(keys: ReadonlyArray<{ machine: string; entity_id: string }>): Promise<Map<string, EntityRecord>> {
    return this.run('loadMany', () => {
      const found = new Map<string, EntityRecord>();
      for (const { machine, entity_id } of keys) {
        const key = keyOf(machine, entity_id);
        const row = this.entities.get(key);
        if (row !== undefined) found.set(key, structuredClone(row));
      }
      return found;
    });
  }

  findInbox(event_ids: readonly string[]): Promise<Map<string, Json>> {
    return this.run('findInbox', () => {
      const found = new Map<string, Json>();
      for (const id of event_ids) {
        if (this.inbox.has(id)) found.set(id, structuredClone(this.inbox.get(id) as Json));
      }
      return found;
    });
  }

  commit(batch: CommitBatch): Promise<CommitResult> {
    return this.run('commit', () => {
      const committedAt = this.now().toISOString();
      this.validate(batch);
      const prepared = prepare(batch);
      return { committedAt, auditPositions: this.apply(prepared, committedAt) };
    });
  }

  history(machine: string, entity_id: string, options: { limit?: number; afterPosition?: number } = {}): Promise<AuditRecord[]> {
    return this.run('history', () => {
      const after = nonNegative(options.afterPosition);
      const rows = this.auditByEntity.get(keyOf(machine, entity_id)) ?? [];
      return rows.filter((row) => row.position > after).slice(0, pageLimit(options.limit)).map((row) => structuredClone(row));
    });
  }

  auditSince(afterPosition: number, limit: number): Promise<AuditRecord[]> {
    return this.run('auditSince', () => {
      const after = nonNegative(afterPosition);
      const max = pageLimit(limit);
      const found: AuditRecord[] = [];
      for (let i = firstAfter(this.audit, after); i < this.audit.length && found.length < max; i += 1) {
        found.push(structuredClone(this.audit[i] as AuditRecord));
      }
      return found;
    });
  }

  list(query: ListQuery): Promise<EntityRecord[]> {
    return this.run('list', () => {
      const { machine, status, parent_id } = query;
      const offset = nonNegative(query.offset);
      const rows = [...this.entities.values()].filter(
        (row) => row.machine === machine && (status === undefined || row.status === status) && (parent_id === undefined || row.parent_id === parent_id),
      );
      rows.sort((a, b) => compareText(a.created_at, b.created_at) || compareText(a.entity_id, b.entity_id));
      return rows.slice(offset, offset + pageLimit(query.limit)).map((row) => structuredClone(row));
    });
  }

  countByStatus(machine?: string): Promise<StatusCount[]> {
    return this.run('countByStatus', () => {
      const counts = new Map<string, StatusCount>();
      for (const row of this.entities.values()) {
        if (machine !== undefined && row.machine !== machine) continue;
        const key = keyOf(row.machine, row.status);
        const entry = counts.get(key);
        if (entry === undefined) counts.set(key, { machine: row.machine, status: row.status, count: 1 });
        else entry.count += 1;
      }
      return [...counts.values()].sort((a, b) => compareText(a.machine, b.machine) || compareText(a.status, b.status));
    });
  }

  dueTimers(now: string, limit: number): Promise<TimerRecord[]> {
    return this.run('dueTimers', () =>
      [...this.timers.values()]
        .filter((timer) => timer.fired_at === null && compareText(timer.due_at, now) <= 0)
        .sort((a, b) => compareText(a.due_at, b.due_at) || compareText(a.timer_id, b.timer_id))
        .slice(0, pageLimit(limit))
        .map((timer) => structuredClone(timer)),
    );
  }

  nextTimerDue(): Promise<string | undefined> {
    return this.run('nextTimerDue', () => {
      let next: string | undefined;
      for (const timer of this.timers.values()) {
        if (timer.fired_at === null && (next === undefined || compareText(timer.due_at, next) < 0)) next = timer.due_at;
      }
      return next;
    });
  }

  pendingOutbox(limit: number): Promise<OutboxRecord[]> {
    return this.run('pendingOutbox', () => {
      const max = pageLimit(limit);
      const found: OutboxRecord[] = [];
      for (const row of this.pending.values()) {
        if (found.length >= max) break;
        found.push(structuredClone(row));
      }
      return found;
    });
  }

  markPublished(ids: readonly number[], at: string): Promise<void> {
    return this.run('markPublished', () => {
      for (const id of ids) {
        const row = this.pending.get(id);
        if (row === undefined) continue;
        row.published_at = at;
        this.pending.delete(id);
      }
    });
  }

  markPublishFailed(id: number, error: string): Promise<void> {
    return this.run('markPublishFailed', () => {
      const row = this.pending.get(id);
      if (row === undefined) return;
      row.attempts += 1;
      row.last_error = error;
    });
  }

  outboxCount(options: { published?: boolean } = {}): Promise<number> {
    return this.run('outboxCount', () => {
      const all = this.outboxById.size;
      if (options.published === undefined) return all;
      return options.published ? all - this.pending.size : this.pending.size;
    });
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  /** Runs a synchronous operation as a settled promise; refuses once closed; translates errors. */
  private run<T>(operation: string, fn: () => T): Promise<T> {
    if (this.closed) {
      return Promise.reject(new LifecycleError('STORE_FAILURE', `memory store ${operation} failed: the store is closed`, { details: { operation } }));
    }
    try {
      return Promise.resolve(fn());
    } catch (error) {
      return Promise.reject(toStoreError(error, operation));
    }
  }

  /**
   * Throws the VERSION_CONFLICT SQLite would raise, without writing: inbox duplicates first (stored,
   * or repeated within the batch, reported at the first repeat), then each compare-and-set in batch
   * order against the versions the earlier writes of the same batch would leave.
   */
  private validate(batch: CommitBatch): void {
    const seen = new Set<string>();
    for (const { event_id } of batch.inbox) {
      if (this.inbox.has(event_id) || seen.has(event_id)) {
        throw new LifecycleError('VERSION_CONFLICT', `event ${event_id} was already processed`, { details: { event_id, duplicate: true } });
      }
      seen.add(event_id);
    }
    for (const row of batch.unchanged ?? []) {
      const actual = this.entities.get(keyOf(row.machine, row.entity_id))?.version ?? 0;
      if (actual !== row.version) throw versionConflict(row.machine, row.entity_id, row.version, actual);
    }
    checkTimersFired(batch.timersFired, (id) => this.timers.get(id)?.fired_at === null);
    const versions = new Map<string, number>();
    for (const w of batch.entities) {
      const key = keyOf(w.machine, w.entity_id);
      const actual = versions.get(key) ?? this.entities.get(key)?.version ?? 0;
      if (actual !== w.expected_version) throw versionConflict(w.machine, w.entity_id, w.expected_version, actual);
      versions.set(key, actual + 1);
    }
  }

  /** Applies a validated, prepared batch; nothing in here can fail. Returns the audit positions. */
  private apply(batch: CommitBatch, at: string): number[] {
    for (const entry of batch.inbox) this.inbox.set(entry.event_id, entry.result);
    for (const w of batch.entities) {
      const key = keyOf(w.machine, w.entity_id);
      const previous = this.entities.get(key);
      this.entities.set(key, {
        machine: w.machine,
        entity_id: w.entity_id,
        parent_id: w.parent_id,
        machine_version: w.machine_version,
        version: w.expected_version + 1,
        status: w.status,
        snapshot: w.snapshot,
        created_at: previous?.created_at ?? at,
        updated_at: at,
      });
    }
    const positions: number[] = [];
    for (const a of batch.audit) {
      this.lastPosition += 1;
      const row: AuditRecord = { ...a, machine_version: a.machine_version ?? null, position: this.lastPosition, recorded_at: at };
      this.audit.push(row);
      const key = keyOf(a.machine, a.entity_id);
      const rows = this.auditByEntity.get(key);
      if (rows === undefined) this.auditByEntity.set(key, [row]);
      else rows.push(row);
      positions.push(row.position);
    }
    for (const o of batch.outbox) {
      if (this.outbox.has(o.event_id)) continue;
      this.lastOutboxId += 1;
      const row: OutboxRecord = { ...o, id: this.lastOutboxId, created_at: at, published_at: null, attempts: 0, last_error: null };
      this.outbox.set(o.event_id, row);
      this.outboxById.set(row.id, row);
      this.pending.set(row.id, row);
    }
    // Firing consumes the arming read as due (checked in validate); what the firing's own cascade cancels or re-arms comes after it.
    for (const id of batch.timersFired) {
      const timer = this.timers.get(id);
      if (timer !== undefined) this.timers.set(id, { ...timer, fired_at: at });
    }
    for (const t of batch.timersSet) {
      const previous = this.timers.get(t.timer_id);
      this.timers.set(t.timer_id, { ...t, created_at: previous?.created_at ?? at, fired_at: null });
    }
    for (const id of batch.timersCancelled) this.timers.delete(id);
    return positions;
  }
}

/** Index of the first row with position > after (rows are in ascending position). */
function firstAfter(rows: readonly AuditRecord[], after: number): number {
  let low = 0;
  let high = rows.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if ((rows[mid] as AuditRecord).position <= after) low = mid + 1;
    else high = mid;
  }
  return low;
}

/**
 * A detached copy of every row of the batch, with exactly the port's columns (extra properties a
 * caller's objects may carry are not stored) and JSON normalized; throws before anything is applied.
 */
function prepare(batch: CommitBatch): CommitBatch {
  return {
    entities: batch.entities.map((w) => ({
      machine: w.machine,
      entity_id: w.entity_id,
      parent_id: w.parent_id,
      expected_version: w.expected_version,
      machine_version: w.machine_version,
      status: w.status,
      snapshot: toJson(w.snapshot, `snapshot of ${w.machine} '${w.entity_id}'`),
    })),
    audit: batch.audit.map((a) => ({
      event_id: a.event_id,
      event_type: a.event_type,
      correlation_id: a.correlation_id,
      causation_id: a.causation_id,
      machine: a.machine,
      entity_id: a.entity_id,
      from_status: a.from_status,
      to_status: a.to_status,
      outcome: a.outcome,
      reason: a.reason,
      entity_version: a.entity_version,
      envelope: toJson(a.envelope, `audit envelope of ${a.event_id}`),
      ...(a.machine_version === undefined ? {} : { machine_version: a.machine_version }),
    })),
    outbox: batch.outbox.map((o) => ({
      event_id: o.event_id,
      event_type: o.event_type,
      aggregate_id: o.aggregate_id,
      envelope: toJson(o.envelope, `outbox envelope of ${o.event_id}`),
      internal: Boolean(o.internal),
    })),
    inbox: batch.inbox.map((i) => ({ event_id: i.event_id, event_type: i.event_type, result: toJson(i.result, `inbox result of ${i.event_id}`) })),
    timersSet: batch.timersSet.map((t) => ({
      timer_id: t.timer_id,
      machine: t.machine,
      entity_id: t.entity_id,
      due_at: t.due_at,
      event: toJson(t.event, `timer event of ${t.timer_id}`),
    })),
    timersCancelled: [...batch.timersCancelled],
    timersFired: [...batch.timersFired],
  };
}

/** A fresh, empty in-memory store. */
export function createMemoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  return new MemoryStore(options);
}
