/**
 * What an invariant looks at: the committed state of one batch and the entities around it
 * (the batch, its tracker, its associations and its essays) plus the messages emitted for it.
 * Built by the engine after every commit, by the property tests over a whole store, and by the
 * generated path replays after every step. Pure data: no store, no clock.
 */

/** One entity as committed. */
export interface EntityState {
  readonly machine: string;
  readonly entity_id: string;
  readonly status: string;
  readonly parent_id: string | null;
  /** The machine's context (plain JSON). */
  readonly context: unknown;
  /** The entity's version once this commit lands (1 for a new entity). */
  readonly version: number;
  /** Its status and version before this commit; null when the commit created it or the checker does not know. */
  readonly previous: { readonly status: string; readonly version: number; readonly final: boolean } | null;
  /** True when the commit changed this entity (false for one read only to check others). */
  readonly changed: boolean;
}

/** A message emitted for the batch: its type and its data (the wire payload). */
export interface EmittedMessage {
  readonly event_type: string;
  readonly data: Readonly<Record<string, unknown>>;
}

/** The committed state of one batch and what surrounds it. */
export interface InvariantWorld {
  readonly batch_id: string;
  /** The batch's entities the checker holds: batch, tracker, associations (keyed by batch id) and essays. */
  readonly entities: readonly EntityState[];
  /** True when `entities` holds every essay of the batch (counting invariants only run then). */
  readonly allEssays: boolean;
  /** Messages emitted for the batch: those of this commit, or of the whole history when `allEmitted`. */
  readonly emitted: readonly EmittedMessage[];
  /** True when `emitted` is the batch's whole history (invariants counting across commits only run then). */
  readonly allEmitted: boolean;
}

/**
 * A named predicate over an InvariantWorld. `check` answers undefined when the invariant holds,
 * or a message that explains the violation (naming the ids involved).
 */
export interface Invariant {
  /** Stable name: `<machine>.<rule>`, e.g. `essay.parent_is_its_batch`. */
  readonly name: string;
  /** What must hold, in one sentence. */
  readonly description: string;
  readonly check: (world: InvariantWorld) => string | undefined;
}

/** An invariant that did not hold. */
export interface InvariantViolation {
  readonly invariant: string;
  readonly batch_id: string;
  readonly message: string;
}

/** Every entity of `machine` in the world. */
export function entitiesOf(world: InvariantWorld, machine: string): EntityState[] {
  return world.entities.filter((entity) => entity.machine === machine);
}

/** The batch-keyed entity of `machine` (entity id = batch id), or undefined. */
export function batchKeyed(world: InvariantWorld, machine: string): EntityState | undefined {
  return world.entities.find((entity) => entity.machine === machine && entity.entity_id === world.batch_id);
}

/** The messages of one event type, with their data. */
export function emittedOf(world: InvariantWorld, eventType: string): ReadonlyArray<Readonly<Record<string, unknown>>> {
  return world.emitted.filter((message) => message.event_type === eventType).map((message) => message.data);
}

/** The first of `items` that `problem` finds something wrong with, as its message. */
export function firstProblem<T>(items: Iterable<T>, problem: (item: T) => string | undefined): string | undefined {
  for (const item of items) {
    const found = problem(item);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Runs `invariants` over `world`; a check that throws counts as a violation (its message says so). */
export function checkInvariants(world: InvariantWorld, invariants: readonly Invariant[]): InvariantViolation[] {
  const violations: InvariantViolation[] = [];
  for (const invariant of invariants) {
    let message: string | undefined;
    try {
      message = invariant.check(world);
    } catch (error) {
      message = `the check threw: ${error instanceof Error ? error.message : String(error)}`;
    }
    if (message !== undefined) violations.push({ invariant: invariant.name, batch_id: world.batch_id, message });
  }
  return violations;
}
