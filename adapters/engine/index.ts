/** The durable engine and its read side. */
export { LifecycleEngine, type CommitListener, type EngineAblation, type EngineOptions } from './engine.js';
export { parseOrThrow } from './refusals.js';
export { INVARIANT_MODES, invariantsOf, type InvariantMode } from './invariants.js';
export { DEFERRED_CODES } from './results.js';
export type { BatchItemResult, DeferredCode, DeferredItemResult, DeliveryResult, DispatchOutcome, DispatchResult, EmittedSummary, InvalidItemResult } from './results.js';
export { LifecycleQueries, toView, type EntityView, type StatusCount } from './queries.js';
export { rebuildEntity, type RebuiltEntity } from './rebuild.js';
export { defaultMachines, machineOf, type MachineRegistry } from './registry.js';
export { deterministicUuid } from './ids.js';
export { relayOutboxOnce, startOutboxRelay, startTimerScheduler, type LoopOptions, type Publisher, type PublishFailures, type RelayRoundOptions, type WakeableWorker, type Worker } from './workers.js';
export { restoreSnapshot, persistSnapshot } from './snapshots.js';
export { DEFAULT_RETENTION, pruneStore, type RetentionPolicy } from './retention.js';
export { archiveClosedBatches, DEFAULT_ARCHIVE_DAYS, finalStatuses, restoreBatch, type ArchiveOptions } from './archive.js';
export type { PollingWorker } from './polling.js';
export { FORCE_EVENT_TYPE, ForceRequestSchema, type ForceRequest } from './force.js';
export { forceTargets, type ForceTarget } from './force-rules.js';
export { whatIf, machinesOfModule, type WhatIfOptions, type WhatIfProgress, type WhatIfReport, type EntityDivergence, type StepDifference, type StepRef, type StepView, type MachinePair, type Selection, type EntityRef } from './what-if/index.js';
