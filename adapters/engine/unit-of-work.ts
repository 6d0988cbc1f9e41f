/**
 * The in-memory working set of one commit: entities loaded (and changed), plus the audit,
 * outbox, inbox and timer rows to write. Entities are replaced, never mutated, so a
 * checkpoint is cheap and a failed item of a group can be rolled back without touching the rest.
 */
import type { AnyMachineSnapshot, StateValue } from 'xstate';
import type { LifecycleMachine } from '../../machines/lifecycle-machine.js';
import type { AuditWrite, CommitBatch, InboxWrite, OutboxWrite, SnapshotStore, TimerWrite } from '../store.js';
import { persistSnapshot, restoreSnapshot } from './snapshots.js';
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
  readonly dirty: boolean;
}

/** A point to roll back to (O(1) to take: changes after it are undone from a journal). */
export interface Checkpoint {
  readonly journal: number;
  readonly audit: number;
  readonly outbox: number;
  readonly inbox: number;
  readonly timersFired: number;
}

const keyOf = (machine: string, entityId: string): string => `${machine}\u0000${entityId}`;

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
  /** Undo steps for every map change, so a checkpoint costs nothing per item of a group. */
  private readonly journal: Array<() => void> = [];

  constructor(private readonly store: SnapshotStore) {}

  private setIn<K, V>(map: Map<K, V>, key: K, value: V): void {
    const had = map.has(key);
    const previous = map.get(key);
    this.journal.push(() => (had ? map.set(key, previous as V) : map.delete(key)));
    map.set(key, value);
  }

  private deleteIn<K, V>(map: Map<K, V>, key: K): void {
    if (!map.has(key)) return;
    const previous = map.get(key) as V;
    this.journal.push(() => map.set(key, previous));
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
    const record = await this.store.load(machine.id, entityId);
    const entity: WorkingEntity | null =
      record === undefined
        ? null
        : (() => {
            const snapshot = restoreSnapshot(record, machine);
            return {
              machine,
              entity_id: entityId,
              snapshot,
              status: statusOfValue(snapshot.value as StateValue),
              parent_id: record.parent_id,
              stored_version: record.version,
              dirty: false,
            };
          })();
    this.setIn(this.entities, key, entity);
    return entity ?? undefined;
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
      dirty: true,
    };
    this.setIn(this.entities, key, entity);
    return entity;
  }

  /** The answer an event id got earlier in this unit, or undefined. */
  takenResult(eventId: string): InboxWrite['result'] | undefined {
    return this.eventIds.get(eventId);
  }

  /** Marks an event id as taken and records its inbox row. */
  take(row: InboxWrite): void {
    this.setIn(this.eventIds, row.event_id, row.result);
    this.inbox.push(row);
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
    return {
      journal: this.journal.length,
      audit: this.audit.length,
      outbox: this.outbox.length,
      inbox: this.inbox.length,
      timersFired: this.timersFired.length,
    };
  }

  rollback(point: Checkpoint): void {
    while (this.journal.length > point.journal) this.journal.pop()?.();
    this.audit.length = point.audit;
    this.outbox.length = point.outbox;
    this.inbox.length = point.inbox;
    this.timersFired.length = point.timersFired;
  }

  /** True when there is anything to write. */
  get isEmpty(): boolean {
    return this.inbox.length === 0 && this.audit.length === 0 && this.timersFired.length === 0;
  }

  /** Everything to write, as one atomic batch (one write per changed entity). */
  toCommitBatch(): CommitBatch {
    const entities = [...this.entities.values()]
      .filter((entity): entity is WorkingEntity => entity !== null && entity.dirty)
      .map((entity) => ({
        machine: entity.machine.id,
        entity_id: entity.entity_id,
        parent_id: entity.parent_id,
        expected_version: entity.stored_version,
        machine_version: entity.machine.version,
        status: entity.status,
        snapshot: persistSnapshot(entity.machine, entity.snapshot),
      }));
    return {
      entities,
      audit: this.audit,
      outbox: this.outbox,
      inbox: this.inbox,
      timersSet: [...this.timersSet.values()],
      timersCancelled: [...this.timersCancelled],
      timersFired: this.timersFired,
    };
  }
}
