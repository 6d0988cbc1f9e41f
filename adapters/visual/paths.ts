/**
 * Path generation for transition coverage. @xstate/graph explores the machine from each
 * seed with explicit sample events and a state serializer (the state value plus only the
 * context values that change behaviour, so the graph stays small); every explored step is
 * traced to the transition definitions XState actually took (eventless ones included).
 * From that exploration we pick, for every transition of the graph model, the shortest
 * path that takes it, and report every state or transition no path reaches.
 *
 * This module is the entry point; the code lives in ./paths/: types.ts, tracer.ts (the traced
 * steps), history.ts (history states), explore.ts (exploration of one seed), plan.ts (path
 * selection), hints.ts (a key too coarse), run.ts (paths run again), targets.ts (paths to chosen
 * states, simple paths), events.ts (event discovery), coverage.ts.
 */
export { isComplete } from './paths/coverage.js';
export { countSimplePaths } from './paths/explore.js';
export { planPaths } from './paths/plan.js';
export { discoverEvents, sampleEvents, type EventSamples } from './paths/events.js';
export { findPaths, inStates, type FindPathsOptions } from './paths/targets.js';
export type { Coverage, GeneratedPath, PathPlan, PathSeed, PathStep, PathSubject, PlanOptions, RecordOptions } from './paths/types.js';
