/** The durable engine and its read side. */
export { LifecycleEngine, parseOrThrow, type CommitListener, type EngineOptions } from './engine.js';
export { INVARIANT_MODES, invariantsOf, type InvariantMode } from './invariants.js';
export type { BatchItemResult, DeliveryResult, DispatchOutcome, DispatchResult, EmittedSummary, InvalidItemResult } from './results.js';
export { LifecycleQueries, toView, type EntityView, type StatusCount } from './queries.js';
export { rebuildEntity, type RebuiltEntity } from './rebuild.js';
export { defaultMachines, machineOf, type MachineRegistry } from './registry.js';
export { deterministicUuid } from './ids.js';
export { relayOutboxOnce, startOutboxRelay, startTimerScheduler, type LoopOptions, type Publisher, type PublishFailures, type RelayRoundOptions, type Worker } from './workers.js';
export { restoreSnapshot, persistSnapshot } from './snapshots.js';
export type { PollingWorker } from './polling.js';
