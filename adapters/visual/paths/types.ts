/** The types of path generation: what is explored (subjects, seeds) and what comes out (paths, coverage, plans). */
import type { AnyMachineSnapshot, AnyStateMachine, EventObject, StateValue } from 'xstate';

/** Where a traversal starts: a named machine input (the initial snapshot is computed from it). */
export interface PathSeed {
  /** Short name used in path ids and test titles (`guest`, `regular`, `default`). */
  readonly name: string;
  /** The machine input (undefined for machines without input). */
  readonly input?: unknown;
}

/** Everything the generator needs to explore one machine. */
export interface PathSubject {
  /** The machine explored. */
  readonly machine: AnyStateMachine;
  /** Starting points; every seed is explored and their coverage is merged. */
  readonly seeds: readonly PathSeed[];
  /**
   * The sample events offered in a snapshot (valid payloads). Only the ones the snapshot
   * accepts (`snapshot.can(event)`) are explored, so a path never contains a refused step.
   */
  readonly events: (snapshot: AnyMachineSnapshot) => readonly EventObject[];
  /**
   * The vertex key of a snapshot: two snapshots with equal keys are one vertex. Default:
   * the JSON of the state value. Put only the context facts that change behaviour in it.
   */
  readonly serializeState?: (snapshot: AnyMachineSnapshot) => string;
  /** Upper bound of explored steps per seed (default 200,000): a safety net, not a tuning knob. */
  readonly limit?: number;
}

/** One step of a path: the event sent and what it must lead to. */
export interface PathStep {
  readonly event: EventObject;
  /** The state value after the step. */
  readonly value: StateValue;
  /** Ids of the graph transitions the step takes (eventless follow-ups included). */
  readonly transitions: readonly string[];
}

/** A path from a seed's initial snapshot. */
export interface GeneratedPath {
  /** `<machine id>/<seed>/<n>`. */
  readonly id: string;
  readonly seed: string;
  /** The state value of the seed's initial snapshot. */
  readonly start: StateValue;
  readonly steps: readonly PathStep[];
}

/** States and transitions reached, against the graph model. */
export interface Coverage {
  readonly states: { readonly total: number; readonly reached: number; readonly missing: readonly string[] };
  readonly transitions: {
    readonly total: number;
    readonly taken: number;
    /** Human descriptions (`state: EVENT [guard] -> target`) of the transitions never taken. */
    readonly missing: readonly string[];
    /** Ids of the transitions never taken. */
    readonly missingIds: readonly string[];
  };
}

/** The result of planning paths for one machine. */
export interface PathPlan {
  readonly machine: string;
  readonly paths: readonly GeneratedPath[];
  /** Coverage of the explored graph (what any path could reach). */
  readonly explored: Coverage;
  /**
   * Coverage of the selected paths, from running them again. Equal to `explored` unless the
   * serializer merges snapshots that behave differently.
   */
  readonly coverage: Coverage;
  readonly stats: {
    /** Vertices (distinct serialized states) over all seeds. */
    readonly vertices: number;
    /** Explored (vertex, event) pairs over all seeds. */
    readonly edges: number;
    /** Steps over all selected paths. */
    readonly steps: number;
    readonly ms: number;
  };
  /** Topics emitted by the macrosteps that took each transition (by transition id), as observed while exploring. */
  readonly emits: Readonly<Record<string, readonly string[]>>;
}

/** Options of {@link planPaths}. */
export interface PlanOptions {
  /** Called every 1,000 explored steps (and once per seed at the end) with the running count. */
  readonly onProgress?: (progress: { readonly seed: string; readonly explored: number }) => void;
}
