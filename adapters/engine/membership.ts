/**
 * Membership: an event is for one batch (its declaration's `batch` field), and everything it
 * reaches, directly or through the messages it causes, must belong to that batch. An essay is
 * reached only through its own batch. The cascade checks every delivery against the root
 * event's batch before applying it; one delivery outside refuses the whole event.
 */
import type { LifecycleMachine } from '../../machines/lifecycle-machine.js';
import type { WorkingEntity } from './unit-of-work.js';

/** The batch an entity belongs to, or undefined for a machine whose entities belong to no batch. */
export function batchOfEntity(machine: LifecycleMachine, entity: WorkingEntity): string | undefined {
  return machine.batchOf?.(entity.snapshot as never);
}

/** Thrown inside the cascade when a delivery would reach an entity of another batch. */
export class OutsideBatch extends Error {
  override readonly name = 'OutsideBatch';

  constructor(
    readonly machine: string,
    readonly entity_id: string,
    readonly status: string,
    readonly entity_batch: string,
    readonly event_batch: string,
    readonly via: string,
  ) {
    super(`${machine} "${entity_id}" belongs to batch "${entity_batch}", not to batch "${event_batch}"`);
  }

  /** The audit reason: what was refused, why, and that nothing of the event was applied. */
  reasonFor(rootType: string): string {
    const through = this.via === rootType ? '' : ` (through ${this.via})`;
    return `${rootType} for batch "${this.event_batch}" would reach ${this.machine} "${this.entity_id}" of batch "${this.entity_batch}"${through}; refused, nothing of the event was applied`;
  }
}

/**
 * The scope an event's deliveries must stay in. `batch` is the root event's declared batch, or
 * null (a timer) until the first entity reached names it.
 */
export class MembershipScope {
  constructor(private batch: string | null) {}

  /** Throws OutsideBatch when `entity` belongs to a batch other than the scope's. */
  check(machine: LifecycleMachine, entity: WorkingEntity | undefined, via: string): void {
    if (entity === undefined) return;
    const owner = batchOfEntity(machine, entity);
    if (owner === undefined) return;
    if (this.batch === null) {
      this.batch = owner;
      return;
    }
    if (owner !== this.batch) throw new OutsideBatch(machine.id, entity.entity_id, entity.status, owner, this.batch, via);
  }
}
