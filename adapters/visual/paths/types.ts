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
   * {@link sampleEvents} builds one from the machine's own event types plus payload samples.
   */
  readonly events: (snapshot: AnyMachineSnapshot) => readonly EventObject[];
  /**
   * The vertex key of a snapshot: two snapshots with equal keys are one vertex. Default:
   * the JSON of the state value. Key on the raw context values the guards read (`count`,
   * not `count < limit`). What history states remember is always added to the key.
   */
  readonly serializeState?: (snapshot: AnyMachineSnapshot) => string;
  /** Upper bound of explored steps per seed (default 200,000): a safety net, not a tuning knob. */
  readonly limit?: number;
  /**
   * When the key leaves a state or transition unreached, the seeds are explored again with
   * distinct snapshots (value, context, history) as vertices, at most this many under one key
   * (default 64; 0 turns the second exploration off) and 1,000 per seed, and the plan says which
   * context facts the key was missing.
   */
  readonly snapshotsPerKey?: number;
}

/** One step of a path: the event sent and what it must lead to. */
export interface PathStep {
  readonly event: EventObject;
  /** The state value after the step. */
  readonly value: StateValue;
  /** Ids of the graph transitions the step takes (eventless follow-ups included). */
  readonly transitions: readonly string[];
  /** The context after the step (as JSON), when the plan records contexts. */
  readonly context?: unknown;
  /** The machine's output after the step (as JSON), when the plan records outputs and the machine is done. */
  readonly output?: unknown;
  /** The events the step emitted (`emit`), when the plan records them. */
  readonly emitted?: readonly EventObject[];
}

/** A path from a seed's initial snapshot. */
export interface GeneratedPath {
  /** `<machine id>/<seed>/<n>`. */
  readonly id: string;
  readonly seed: string;
  /** The state value of the seed's initial snapshot. */
  readonly start: StateValue;
  /** The initial context (as JSON), when the plan records contexts. */
  readonly startContext?: unknown;
  readonly steps: readonly PathStep[];
}

/** States, transitions and history restores reached, against the graph model. */
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
  /**
   * What history states restored (`<history id> <- <state>`), against every state they could
   * restore. Reported, never required: a state may be impossible to leave, so never remembered.
   */
  readonly history: { readonly total: number; readonly restored: number; readonly missing: readonly string[] };
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
    /** Vertices (distinct serialized states) over all seeds and explorations. */
    readonly vertices: number;
    /** Explored (vertex, event) pairs over all seeds and explorations. */
    readonly edges: number;
    /** Steps over all selected paths. */
    readonly steps: number;
    readonly ms: number;
  };
  /** Topics emitted by the macrosteps that took each transition (by transition id), as observed while exploring. */
  readonly emits: Readonly<Record<string, readonly string[]>>;
  /** What the user should know: a key that merged snapshots behaving differently (and the facts it lacked). */
  readonly hints: readonly string[];
}

/** What a plan records on every step, for the generated tests to assert (all off by default). */
export interface RecordOptions {
  readonly context?: boolean;
  readonly output?: boolean;
  readonly emitted?: boolean;
}

/** Options of {@link planPaths}. */
export interface PlanOptions {
  /** Called every 1,000 explored steps (and once per seed at the end) with the running count. */
  readonly onProgress?: (progress: { readonly seed: string; readonly explored: number }) => void;
  /** Record contexts, outputs and emitted events on the steps (for opt-in assertions). */
  readonly record?: RecordOptions;
}
