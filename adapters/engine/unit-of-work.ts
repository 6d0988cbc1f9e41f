/**
 * The in-memory working set of one commit: entities loaded (and changed), plus the audit,
 * outbox, inbox and timer rows to write. Entities are replaced, never mutated, so a
 * checkpoint is cheap and a failed item of a group can be rolled back without touching the rest.
 */
import type { AnyMachineSnapshot, StateValue } from 'xstate';
import type { LifecycleMachine } from '../../machines/lifecycle-machine.js';
import type { AuditWrite, CommitBatch, EntityRecord, EntityVersion, EntityWrite, InboxWrite, OutboxWrite, SnapshotStore, TimerWrite } from '../store.js';
import { isLifecycleError } from '../errors.js';
import { EntityCache } from './entity-cache.js';
import type { MachineRegistry } from './registry.js';

const NO_CACHE = new EntityCache(0);
import { persistSnapshot, restoreSnapshot } from './snapshots.js';
import { partChanges } from './parts.js';
import { statusOfValue } from '../../machines/lifecycle-machine.js';

/** An entity as the unit of work holds it. */
export interface WorkingEntity {
  readonly machine: LifecycleMachine;
  readonly entity_id: string;
  readonly snapshot: AnyMachineSnapshot;
  readonly status: string;
  readonly parent_id: string | null;
  /** Version in the store when loaded; 0 when created in this unit. */
  readonly stored_version: number;
  /** Status and parent_id of the stored row (undefined when created in this unit). */
  readonly stored: { readonly status: string; readonly parent_id: string | null } | undefined;
  /** The snapshot as the store holds it (undefined when created in this unit): its parts are compared by identity. */
  readonly stored_snapshot: AnyMachineSnapshot | undefined;
  readonly dirty: boolean;
}

/** A point to roll back to (O(1) to take: changes after it are undone from a journal). */
export interface Checkpoint {
  readonly journal: number;
  readonly audit: number;
  readonly outbox: number;
  readonly inbox: number;
  readonly timersFired: number;
  /** Entries of the invariants' change list (truncated on rollback, not journalled). */
  readonly putKeys: number;
}

const keyOf = (machine: string, entityId: string): string => `${machine}\u0000${entityId}`;

/** A stored row as the unit holds it (its snapshot restored and checked). */
function working(record: EntityRecord, machine: LifecycleMachine): WorkingEntity {
  const snapshot = restoreSnapshot(record, machine);
  return {
    machine,
    entity_id: record.entity_id,
    snapshot,
    status: statusOfValue(snapshot.value as StateValue),
    parent_id: record.parent_id,
    stored_version: record.version,
    stored: { status: record.status, parent_id: record.parent_id },
    // A migrated row, or one written before its store split parts: its parts are not in part rows yet.
    stored_snapshot: record.machine_version === machine.version && record.parts_inline !== true ? snapshot : undefined,
    dirty: false,
  };
}

/** Collects one commit's worth of work. */
export class UnitOfWork {
  private readonly entities = new Map<string, WorkingEntity | null>();
  readonly audit: AuditWrite[] = [];
  readonly outbox: OutboxWrite[] = [];
  readonly inbox: InboxWrite[] = [];
  private readonly timersSet = new Map<string, TimerWrite>();
  private readonly timersCancelled = new Set<string>();
  readonly timersFired: string[] = [];
  /** Event ids taken in this unit (a group may carry the same event twice). */
  private readonly eventIds = new Map<string, InboxWrite['result']>();
  /** Entities served from the cache: the commit checks those it does not write are still current. */
  private readonly fromCache = new Set<string>();
  /** Cache entries `peek` handed out without joining the unit (the invariants' view of a batch). */
  private readonly peekedFromCache = new Set<string>();
  /** Rows read ahead by `prefetch`, null for none (never changed; `entities` holds what the unit made of them). */
  private readonly prefetched = new Map<string, EntityRecord | null>();
  /** Undo steps for map changes, so a checkpoint costs nothing per item of a group. */
  private readonly journal: Array<() => void> = [];
  /**
   * Keys changed since the last checkpoint, per map: only a key's first change after a checkpoint
   * needs an undo step (a rollback goes back to that checkpoint), so the journal holds one entry
   * per changed key, not every intermediate value (a fan-out changes its tracker once per essay).
   */
  private readonly touched = new Map<Map<unknown, unknown>, Set<unknown>>();
  /** Keys of the entities `put` in this unit, in order (repeats included): what the invariants check. */
  private readonly putKeys: string[] = [];

  constructor(
    private readonly store: SnapshotStore,
    private readonly cache: EntityCache = NO_CACHE,
    /** Ids of the engine's own published messages that another event took first (see `take`). */
    private readonly claimedElsewhere: ReadonlySet<string> = new Set(),
  ) {}

  /** True the first time `key` of `map` changes since the last checkpoint. */
  private firstChange<K, V>(map: Map<K, V>, key: K): boolean {
    let keys = this.touched.get(map);
    if (keys === undefined) {
      keys = new Set();
      this.touched.set(map, keys);
    }
    if (keys.has(key)) return false;
    keys.add(key);
    return true;
  }

  private setIn<K, V>(map: Map<K, V>, key: K, value: V): void {
    if (this.firstChange(map, key)) {
      const had = map.has(key);
      const previous = map.get(key);
      this.journal.push(() => (had ? map.set(key, previous as V) : map.delete(key)));
    }
    map.set(key, value);
  }

  private deleteIn<K, V>(map: Map<K, V>, key: K): void {
    if (!map.has(key)) return;
    if (this.firstChange(map, key)) {
      const previous = map.get(key) as V;
      this.journal.push(() => map.set(key, previous));
    }
    map.delete(key);
  }

  private addCancel(id: string, add: boolean): void {
    const had = this.timersCancelled.has(id);
    if (had === add) return;
    this.journal.push(() => (had ? this.timersCancelled.add(id) : this.timersCancelled.delete(id)));
    if (add) this.timersCancelled.add(id);
    else this.timersCancelled.delete(id);
  }

  /** The entity, loading it on first use; undefined when it does not exist. */
  async get(machine: LifecycleMachine, entityId: string): Promise<WorkingEntity | undefined> {
    const key = keyOf(machine.id, entityId);
    if (this.entities.has(key)) return this.entities.get(key) ?? undefined;
    const cached = this.cache.get(key);
    if (cached !== undefined && cached.machine === machine) {
      this.setIn(this.entities, key, cached);
      this.fromCache.add(key);
      return cached;
    }
    // Read ahead (a row, or null: no row then), used once: the unit holds the entity from here (a
    // rollback reads the store again). A row another writer adds meanwhile fails the commit (CAS).
    const prefetched = this.prefetched.get(key);
    if (prefetched !== undefined) this.prefetched.delete(key);
    const record = prefetched === undefined ? await this.store.load(machine.id, entityId) : (prefetched ?? undefined);
    const entity = record === undefined ? null : working(record, machine);
    this.setIn(this.entities, key, entity);
    return entity ?? undefined;
  }

  /**
   * Reads the stored rows of these entities in one store call, for `get` to use. Only rows: their
   * snapshots are restored (and checked) when `get` asks, so a bad row fails only its own item.
   */
  async prefetch(keys: ReadonlyArray<{ readonly machine: string; readonly entity_id: string }>, machines: MachineRegistry): Promise<void> {
    const wanted = new Map<string, { machine: string; entity_id: string }>();
    for (const { machine, entity_id } of keys) {
      const key = keyOf(machine, entity_id);
      if (machines[machine] !== undefined && !this.entities.has(key) && !this.prefetched.has(key) && !this.cache.has(key)) {
        wanted.set(key, { machine, entity_id });
      }
    }
    if (wanted.size < 2) return;
    let rows: Map<string, EntityRecord>;
    try {
      rows = await this.store.loadMany([...wanted.values()]);
    } catch (error) {
      // An unreadable row: read one by one instead, so it fails only the items that touch it.
      if (isLifecycleError(error, 'SNAPSHOT_CORRUPT')) return;
      throw error;
    }
    for (const key of wanted.keys()) this.prefetched.set(key, rows.get(key) ?? null);
  }

  /** Records the entity's new snapshot (created when it did not exist). */
  put(machine: LifecycleMachine, entityId: string, snapshot: AnyMachineSnapshot): WorkingEntity {
    const key = keyOf(machine.id, entityId);
    const previous = this.entities.get(key) ?? null;
    const entity: WorkingEntity = {
      machine,
      entity_id: entityId,
      snapshot,
      status: statusOfValue(snapshot.value as StateValue),
      parent_id: machine.parentOf?.(snapshot as never) ?? null,
      stored_version: previous?.stored_version ?? 0,
      stored: previous?.stored,
      stored_snapshot: previous?.stored_snapshot,
      dirty: true,
    };
    this.setIn(this.entities, key, entity);
    this.putKeys.push(key);
    return entity;
  }

  /** How many entity changes this unit holds (a mark for {@link touchedSince}). */
  get touchedCount(): number {
    return this.putKeys.length;
  }

  /** The entities changed since `mark` (each once, as the unit now holds them). */
  touchedSince(mark: number): WorkingEntity[] {
    const keys = new Set(this.putKeys.slice(mark));
    return [...keys].flatMap((key) => {
      const entity = this.entities.get(key);
      return entity === undefined || entity === null ? [] : [entity];
    });
  }

  /** The entity as this unit or the cache holds it, without reading the store or joining the unit. */
  peek(machineId: string, entityId: string): WorkingEntity | undefined {
    const key = keyOf(machineId, entityId);
    const held = this.entities.get(key);
    if (held !== undefined) return held ?? undefined;
    const cached = this.cache.get(key);
    if (cached !== undefined) this.peekedFromCache.add(key);
    return cached;
  }

  /**
   * Reads the stored versions of every entity this unit took from the cache (joined or peeked) and
   * evicts the entries another writer has moved on; answers how many. One store read, for the rare
   * path where a stale entry may explain what the unit saw (an invariant that seems broken).
   */
  async evictStaleCacheEntries(): Promise<number> {
    const held = new Map<string, { machine: string; entity_id: string; version: number }>();
    for (const key of [...this.fromCache, ...this.peekedFromCache]) {
      const entity = this.entities.get(key) ?? this.cache.get(key);
      if (entity !== undefined && entity !== null) held.set(key, { machine: entity.machine.id, entity_id: entity.entity_id, version: entity.stored_version });
    }
    if (held.size === 0) return 0;
    const rows = await this.store.loadMany([...held.values()].map(({ machine, entity_id }) => ({ machine, entity_id })));
    let evicted = 0;
    for (const [key, entry] of held) {
      if (rows.get(key)?.version === entry.version) continue;
      this.cache.delete(key);
      evicted += 1;
    }
    return evicted;
  }

  /** The answer an event id got earlier in this unit, or undefined. */
  takenResult(eventId: string): InboxWrite['result'] | undefined {
    return this.eventIds.get(eventId);
  }

  /** Marks an event id as taken and records its inbox row. */
  take(row: InboxWrite): void {
    this.setIn(this.eventIds, row.event_id, row.result);
    // Derived ids are public: when another event took this one first, the message goes on without its key.
    if (!this.claimedElsewhere.has(row.event_id)) this.inbox.push(row);
  }

  /** Arms (or re-arms) a timer. */
  setTimer(timer: TimerWrite): void {
    this.addCancel(timer.timer_id, false);
    this.setIn(this.timersSet, timer.timer_id, timer);
  }

  /** Cancels a timer, whether armed in this unit or before. */
  cancelTimer(timerId: string): void {
    this.deleteIn(this.timersSet, timerId);
    this.addCancel(timerId, true);
  }

  checkpoint(): Checkpoint {
    this.touched.clear();
    return {
      journal: this.journal.length,
      audit: this.audit.length,
      outbox: this.outbox.length,
      inbox: this.inbox.length,
      timersFired: this.timersFired.length,
      putKeys: this.putKeys.length,
    };
  }

  rollback(point: Checkpoint): void {
    while (this.journal.length > point.journal) this.journal.pop()?.();
    this.touched.clear();
    this.putKeys.length = point.putKeys;
    this.audit.length = point.audit;
    this.outbox.length = point.outbox;
    this.inbox.length = point.inbox;
    this.timersFired.length = point.timersFired;
  }

  /** After the commit: remember every entity of the unit as the store now holds it. */
  remember(): void {
    for (const [key, entity] of this.entities) {
      if (entity === null) continue;
      this.cache.set(
        key,
        entity.dirty
          ? {
              ...entity,
              stored_version: entity.stored_version + 1,
              stored: { status: entity.status, parent_id: entity.parent_id },
              stored_snapshot: entity.snapshot,
              dirty: false,
            }
          : entity,
      );
    }
  }

  /** After a failed commit: forget every entity the unit touched (the store may hold newer rows). */
  forget(): void {
    for (const key of this.entities.keys()) this.cache.delete(key);
  }

  /** True when there is anything to write. */
  get isEmpty(): boolean {
    return this.inbox.length === 0 && this.audit.length === 0 && this.timersFired.length === 0;
  }

  /** Everything to write, as one atomic batch (one write per changed entity). */
  toCommitBatch(): CommitBatch {
    const entities: EntityWrite[] = [];
    for (const entity of this.entities.values()) {
      if (entity === null || !entity.dirty) continue;
      const write: { -readonly [K in keyof EntityWrite]: EntityWrite[K] } = {
        machine: entity.machine.id,
        entity_id: entity.entity_id,
        parent_id: entity.parent_id,
        expected_version: entity.stored_version,
        machine_version: entity.machine.version,
        status: entity.status,
        snapshot: persistSnapshot(entity.machine, entity.snapshot),
      };
      if (entity.stored !== undefined) write.stored = entity.stored;
      if (entity.stored_snapshot !== undefined) write.parts = partChanges(entity.stored_snapshot.context, entity.snapshot.context);
      entities.push(write);
    }
    const unchanged: EntityVersion[] = [];
    for (const key of this.fromCache) {
      const entity = this.entities.get(key);
      if (entity !== undefined && entity !== null && !entity.dirty) {
        unchanged.push({ machine: entity.machine.id, entity_id: entity.entity_id, version: entity.stored_version });
      }
    }
    return {
      entities,
      ...(unchanged.length === 0 ? {} : { unchanged }),
      audit: this.audit,
      outbox: this.outbox,
      inbox: this.inbox,
      timersSet: [...this.timersSet.values()],
      timersCancelled: [...this.timersCancelled],
      timersFired: this.timersFired,
    };
  }
}
