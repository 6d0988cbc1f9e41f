/** The options of a LifecycleEngine (engine.ts). */
import type { LifecycleEnvelope } from '../../machines/contracts/events.js';
import type { Delivery } from '../../machines/routing.js';
import type { InvariantViolation } from '../../machines/invariants/index.js';
import type { SnapshotStore } from '../store.js';
import type { InvariantMode } from './invariants.js';
import type { MachineRegistry } from './registry.js';

/** Options of an engine. */
export interface EngineOptions {
  /** Where snapshots, audit, outbox, inbox and timers live. */
  readonly store: SnapshotStore;
  /** The machines by id (default: batch, essay, batch_tracker, associations). */
  readonly machines?: MachineRegistry;
  /** Routing of envelopes to entities (default: the library's routing table). */
  readonly route?: (envelope: LifecycleEnvelope) => Delivery[];
  /** The clock (timers' due times, store timestamps). Tests inject one and never sleep. */
  readonly clock?: () => Date;
  /** How often a lost compare-and-set is retried (with jittered backoff) before VERSION_CONFLICT (default 30). */
  readonly maxRetries?: number;
  /** Upper bound of transitions one event may cause (default 1,000,000). */
  readonly maxSteps?: number;
  /**
   * Entities kept in memory between events (default 5,000; 0 turns it off): an entity the engine
   * committed or read is not read and restored again. Safe with other writers on the same store:
   * a stale entry loses its compare-and-set, is dropped, and the event is retried from the store.
   */
  readonly entityCacheSize?: number;
  /**
   * Lifecycle invariants (machines/invariants) checked after each event's causal chain, before its
   * commit, over the batches it touched: `'off'`; `'log'` (default: the commit goes on and
   * `onInvariantViolation` hears of it); `'refuse'` (nothing is written and the event fails with
   * INVARIANT_VIOLATED naming the invariant; in dispatchMany only that item, answered `invalid`).
   */
  readonly invariants?: InvariantMode;
  /** Hears of violations in `'log'` mode (default: `process.emitWarning`). */
  readonly onInvariantViolation?: (violations: readonly InvariantViolation[], event: { readonly event_id: string; readonly event_type: string }) => void;
  /**
   * Whether messages the engine delivers to its own machines in the same transaction are also
   * written to the outbox (default false: they are stored once, in the audit log, whose rows hold
   * the same envelopes; `auditSince`, `history` and the HTTP `/stream` read them there). `true` is
   * the opt-in for observers that need a broker copy: the NATS relay then publishes them on
   * `lifecycle.internal.<topic>` (`lifecycle-worker --outbox-internal`). Messages for outside
   * services always go to the outbox.
   */
  readonly outboxInternal?: boolean;
  /**
   * Accept internal events (those the engine's machines emit for its own machines) from the caller
   * (default false: refused with SENDER_NOT_ALLOWED, on every input). For replays, path tools and
   * tests that drive one machine with what its siblings would send; never for an engine that
   * takes input from HTTP or a queue.
   */
  readonly acceptInternalEvents?: boolean;
  /**
   * Turns single speed tricks off, for the bench's ablation table (`BENCH_ONLY=ablation npm run
   * bench`). Answers, durability and idempotency are the same either way; only the cost changes.
   */
  readonly ablate?: EngineAblation;
}

/** Speed tricks of the engine that the bench can turn off one at a time (`false` turns one off). */
export interface EngineAblation {
  /** Step with the reusable actor scope of `pure.ts` instead of XState's own `transition()`. */
  readonly reusableScope?: boolean;
}
