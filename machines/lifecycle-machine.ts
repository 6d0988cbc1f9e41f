/**
 * What the engine, the exporters and the test generators need to know about a machine,
 * beyond its XState logic: its id, its version, and how to read a status from a snapshot.
 */
import type { AnyStateMachine, SnapshotFrom, StateValue } from 'xstate';
import type { Invariant } from './invariants/world.js';

/** JSON value (persisted snapshots are JSON). */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Upgrades a persisted snapshot written by machine version `from` to version `from + 1`. */
export type SnapshotMigration = (persisted: Json) => Json;

/** A machine as the rest of the library sees it. */
export interface LifecycleMachine<Logic extends AnyStateMachine = AnyStateMachine> {
  /** Stable id; also the `machine` column of the store and the XState machine id. */
  readonly id: string;
  /** Bump when a persisted snapshot of the previous version no longer means the same thing. */
  readonly version: number;
  /** The XState logic. */
  readonly logic: Logic;
  /**
   * Migrations by source version: `migrations[n]` turns a version-n snapshot into version n+1.
   * A snapshot older than `version` with a gap in this table is refused (SNAPSHOT_INCOMPATIBLE).
   */
  readonly migrations?: Readonly<Record<number, SnapshotMigration>>;
  /**
   * The batch an entity belongs to, read from its own snapshot (an essay's batch_id, a batch's
   * own id). The engine refuses any event for another batch that would reach it (membership).
   * Leave it unset for a machine whose entities belong to no batch.
   */
  readonly batchOf?: (snapshot: SnapshotFrom<Logic>) => string;
  /** The parent entity of a snapshot (an essay's batch), or null. */
  readonly parentOf?: (snapshot: SnapshotFrom<Logic>) => string | null;
  /**
   * A domain reason why `event` is refused in `snapshot` when the state does accept its
   * type but a guard says no (e.g. "nothing left to run"). Undefined when not applicable.
   */
  readonly explainGuard?: (snapshot: SnapshotFrom<Logic>, event: unknown) => string | undefined;
  /**
   * True when the machine's context is plain JSON data and the machine never spawns or invokes
   * actors (so its snapshots hold no actor refs and no children). The engine then persists a
   * snapshot by copying its JSON fields instead of XState's deep scan of the context for actor
   * refs. Leave it unset for a machine that spawns: the engine uses XState's own persistence.
   */
  readonly plainContext?: boolean;
  /**
   * Invariants of this machine's entities (machines/invariants): checked by the engine after every
   * commit (option `invariants`), by the generated path replays and by the property tests.
   */
  readonly invariants?: readonly Invariant[];
}

/**
 * The user-visible status of a state value: the top-level state name. Machines put their
 * status strings at the top level, so nested detail never changes what users see.
 */
export function statusOfValue(value: StateValue): string {
  if (typeof value === 'string') return value;
  const [first] = Object.keys(value);
  if (first === undefined) throw new Error('empty state value');
  return first;
}
