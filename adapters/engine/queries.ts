/** Read side of the engine: entities, lists, history and counts, straight from the store. */
import type { Json } from '../../machines/lifecycle-machine.js';
import type { AuditRecord, EntityRecord, SnapshotStore } from '../store.js';

/** One entity as readers see it. */
export interface EntityView {
  readonly machine: string;
  readonly entity_id: string;
  readonly parent_id: string | null;
  readonly status: string;
  readonly context: Json;
  readonly version: number;
  readonly machine_version: number;
  readonly created_at: string;
  readonly updated_at: string;
}

/** Count of entities per machine and status. */
export interface StatusCount {
  readonly machine: string;
  readonly status: string;
  readonly count: number;
}

function contextOf(record: EntityRecord): Json {
  const snapshot = record.snapshot;
  if (typeof snapshot === 'object' && snapshot !== null && !Array.isArray(snapshot) && 'context' in snapshot) {
    return snapshot.context ?? null;
  }
  return null;
}

/** The view of a stored entity. */
export function toView(record: EntityRecord): EntityView {
  return {
    machine: record.machine,
    entity_id: record.entity_id,
    parent_id: record.parent_id,
    status: record.status,
    context: contextOf(record),
    version: record.version,
    machine_version: record.machine_version,
    created_at: record.created_at,
    updated_at: record.updated_at,
  };
}

/** Queries over one store. Every method reads committed data only. */
export class LifecycleQueries {
  constructor(private readonly store: SnapshotStore) {}

  /** One entity, or undefined. */
  async entity(machine: string, entityId: string): Promise<EntityView | undefined> {
    const record = await this.store.load(machine, entityId);
    return record === undefined ? undefined : toView(record);
  }

  /** Batches, optionally only those in `status`, oldest first. */
  async batches(options: { status?: string; limit?: number; offset?: number } = {}): Promise<EntityView[]> {
    const records = await this.store.list({ machine: 'batch', ...options });
    return records.map(toView);
  }

  /** The essays of a batch, in creation order. */
  async essaysOf(batchId: string, options: { limit?: number; offset?: number } = {}): Promise<EntityView[]> {
    const records = await this.store.list({ machine: 'essay', parent_id: batchId, limit: options.limit ?? 1000, ...(options.offset === undefined ? {} : { offset: options.offset }) });
    return records.map(toView);
  }

  /** Every event an entity took or refused, oldest first. */
  async history(machine: string, entityId: string, options: { limit?: number; afterPosition?: number } = {}): Promise<AuditRecord[]> {
    return this.store.history(machine, entityId, options);
  }

  /** The global audit feed: rows with position > afterPosition, in position (commit) order, at most `limit`. */
  async auditSince(afterPosition: number, limit: number): Promise<AuditRecord[]> {
    return this.store.auditSince(afterPosition, limit);
  }

  /**
   * The position of the newest audit row (`atLeast` when there is none beyond it; 0 for an empty
   * log). Found with the feed alone: a gallop forward from `atLeast`, then a bisection, each step
   * one indexed read of one row, so O(log n) reads however long the log is.
   */
  async latestAuditPosition(atLeast = 0): Promise<number> {
    const first = async (after: number): Promise<number | undefined> => (await this.store.auditSince(after, 1))[0]?.position;
    let known = atLeast;
    for (let step = 1; ; step *= 2) {
      const next = await first(known);
      if (next === undefined) return known;
      const beyond = await first(next + step);
      if (beyond === undefined) return this.bisect(next, next + step, first);
      known = beyond;
    }
  }

  /** The newest position, knowing a row at `low` and none after `high`. */
  private async bisect(low: number, high: number, first: (after: number) => Promise<number | undefined>): Promise<number> {
    let lo = low;
    let hi = high;
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      const found = await first(mid);
      if (found === undefined) hi = mid;
      else lo = found;
    }
    return (await first(lo)) ?? lo;
  }

  /** Entities per machine and status. */
  async counts(machine?: string): Promise<StatusCount[]> {
    return this.store.countByStatus(machine);
  }
}
