/**
 * The durable engine: one validated envelope becomes one atomic, idempotent transition (and
 * everything it causes inside the engine), committed with its audit rows, outbox messages,
 * inbox entry and timers in one store transaction. Transport-neutral: HTTP and queue
 * consumers are thin shells over `dispatch` / `dispatchMany`.
 */
import { randomUUID } from 'node:crypto';
import type { LifecycleEnvelope } from '../../machines/contracts/events.js';
import type { Json } from '../../machines/lifecycle-machine.js';
import { acceptedFromOutside, SenderClass } from '../../machines/contracts/declaration.js';
import { batchIdOf, route as defaultRoute, senderClassOf, type Delivery } from '../../machines/routing.js';
import { isPreparedEvent, issuePrepared, preparedWith, type PreparedEvent } from './prepared.js';
import { isLifecycleError, LifecycleError } from '../errors.js';
import type { AuditWrite, SnapshotStore, TimerRecord } from '../store.js';
import { runCascade, type CascadeContext, type RootItem } from './cascade.js';
import { applyForce, FORCE_EVENT_TYPE, parseForceRequest, type ForceRequest } from './force.js';
import { timerEventId } from './ids.js';
import { defaultMachines, machineOf, type MachineRegistry } from './registry.js';
import { DEFERRED_CODES, duplicateAnswer, type BatchItemResult, type DeferredCode, type DeferredItemResult, type DispatchResult } from './results.js';
import { backoff, heldBack, invalidItem, parseOrThrow, senderNotAllowed, staleCacheConflict, warnOfViolations } from './refusals.js';
import { UnitOfWork } from './unit-of-work.js';
import { ownCopies, ownMessageKey } from './own-copies.js';
import { DEFAULT_ENTITY_CACHE_SIZE, EntityCache } from './entity-cache.js';
import { reusableScopeStepper, xstateStepper, type Stepper } from './pure.js';
import { checkInvariants, type Invariant } from '../../machines/invariants/index.js';
import { INVARIANT_MODES, invariantError, invariantsOf, worldsSince, type InvariantMode } from './invariants.js';
import type { EngineOptions } from './engine-options.js';

export type { EngineAblation, EngineOptions } from './engine-options.js';



/** Receives the audit rows of every commit, after it is durable. */
export type CommitListener = (rows: readonly AuditWrite[]) => void;

/** What the items of one dispatchMany attempt share. */
interface GroupState {
  readonly attempt: number;
  readonly seenBefore: ReadonlyMap<string, Json>;
  /** The first deferred item of each batch in this call: later items of the batch wait behind it. */
  readonly deferredBatches: Map<string, DeferredItemResult>;
}

/** The engine. Create one per store; it holds no state besides its listeners. */
export class LifecycleEngine {
  readonly store: SnapshotStore;
  readonly machines: MachineRegistry;
  private readonly route: (envelope: LifecycleEnvelope) => Delivery[];
  private readonly clock: () => Date;
  private readonly maxRetries: number;
  private readonly maxSteps: number;
  private readonly outboxInternal: boolean;
  private readonly listeners = new Set<CommitListener>();
  private readonly cache: EntityCache;
  private readonly stepper: Stepper;
  private readonly acceptInternalEvents: boolean;
  private readonly invariantMode: InvariantMode;
  private readonly invariantList: readonly Invariant[];
  private readonly onViolation: NonNullable<EngineOptions['onInvariantViolation']>;

  constructor(options: EngineOptions) {
    this.store = options.store;
    this.machines = options.machines ?? defaultMachines();
    this.route = options.route ?? defaultRoute;
    this.clock = options.clock ?? (() => new Date());
    this.maxRetries = options.maxRetries ?? 30;
    this.maxSteps = options.maxSteps ?? 1_000_000;
    this.stepper = options.ablate?.reusableScope === false ? xstateStepper : reusableScopeStepper;
    this.acceptInternalEvents = options.acceptInternalEvents === true;
    this.outboxInternal = options.outboxInternal ?? false;
    const cacheSize = options.entityCacheSize ?? DEFAULT_ENTITY_CACHE_SIZE;
    if (!Number.isInteger(cacheSize) || cacheSize < 0) {
      throw new LifecycleError('INVALID_CONFIGURATION', `entityCacheSize must be a non-negative integer, got ${cacheSize}`, {
        details: { entityCacheSize: cacheSize },
      });
    }
    this.invariantMode = options.invariants ?? 'log';
    if (!INVARIANT_MODES.includes(this.invariantMode)) {
      throw new LifecycleError('INVALID_CONFIGURATION', `invariants must be one of ${INVARIANT_MODES.join(', ')}, got ${String(this.invariantMode)}`, {
        details: { invariants: this.invariantMode },
      });
    }
    this.invariantList = invariantsOf(this.machines);
    this.onViolation = options.onInvariantViolation ?? warnOfViolations;
    // Only a store that checks `unchanged` rows can tell a refusal based on a stale entry.
    this.cache = new EntityCache(this.store.checksUnchanged === true ? cacheSize : 0);
  }

  /** Calls `listener` after every commit; returns the unsubscribe function. */
  subscribe(listener: CommitListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Parses raw input, applies its declared sender class and routes it with this engine's routing.
   * An `internal` event is refused (SENDER_NOT_ALLOWED, unless the engine was built with
   * `acceptInternalEvents`). An `outbound` event drives nothing here by its declaration: a copy the
   * engine emitted and a queue that captures every topic delivers back is recorded, and changes
   * nothing. `strictSender` takes only the classes outside parties send (client commands and service
   * results) and refuses outbound events too: HTTP uses it. The answer is deeply frozen and can be
   * handed to `dispatch` / `dispatchMany`, which then neither parse nor route it again: a transport
   * authorizes exactly what the engine will apply. An event prepared by another engine is routed
   * again here. Throws INVALID_ENVELOPE / UNKNOWN_EVENT_TYPE / SENDER_NOT_ALLOWED.
   */
  prepare(raw: unknown, options: { readonly strictSender?: boolean } = {}): PreparedEvent {
    const prepared = isPreparedEvent(raw) ? (preparedWith(raw, this.route) ? raw : this.prepareParsed(raw.envelope)) : this.prepareParsed(parseOrThrow(raw));
    if (options.strictSender === true && !acceptedFromOutside(prepared.sender) && !this.acceptInternalEvents) throw senderNotAllowed(prepared.envelope);
    return prepared;
  }

  private prepareParsed(envelope: LifecycleEnvelope): PreparedEvent {
    const sender = senderClassOf(envelope.event_type);
    if (sender === undefined || (sender === SenderClass.INTERNAL && !this.acceptInternalEvents)) throw senderNotAllowed(envelope);
    return issuePrepared({ envelope, sender, batch_id: batchIdOf(envelope), deliveries: this.route(envelope) }, this.route);
  }

  /** `prepare`, as a value: the prepared event or the LifecycleError it throws. */
  private tryPrepare(raw: unknown): { ok: true; event: PreparedEvent } | { ok: false; error: LifecycleError } {
    try {
      return { ok: true, event: this.prepare(raw) };
    } catch (error) {
      if (isLifecycleError(error)) return { ok: false, error };
      throw error;
    }
  }

  /**
   * Takes one envelope (raw, or prepared by `prepare`). Invalid input throws INVALID_ENVELOPE / UNKNOWN_EVENT_TYPE and an
   * event for a missing entity throws ENTITY_NOT_FOUND; in both cases nothing is written. A
   * refusal by the machine is an answer (outcome `refused`), recorded like an acceptance. An
   * event id seen before (a copy of the engine's own message too: own-copies.ts) answers
   * `duplicate` with the first outcome and changes nothing.
   */
  async dispatch(raw: unknown): Promise<DispatchResult> {
    const prepared = this.tryPrepare(raw);
    if (!prepared.ok) {
      const copy = (await ownCopies(this.store, [{ index: 0, error: prepared.error }])).get(0);
      if (copy !== undefined) return copy;
      throw prepared.error;
    }
    const root = this.rootOf(prepared.event);
    const [result] = await this.commitWithRetry(async (uow) => [await this.takeOrDuplicate(uow, root, () => this.take(uow, root))]);
    if (result === undefined) throw new LifecycleError('STORE_FAILURE', 'dispatch produced no result');
    return result;
  }

  /**
   * Takes many envelopes in order and commits them together (group commit). An invalid item
   * or one for a missing entity is answered `invalid` and skipped; the others still commit. An
   * item this engine cannot apply now (DEFERRED_CODES: a snapshot of a newer machine version, an
   * unreadable row, a failing machine) is answered `deferred` and so is every later item of the
   * same batch in the call (a batch's events are never applied out of order); nothing of them is
   * written, and the caller keeps them for a retry or for a worker that can apply them.
   */
  async dispatchMany(raws: readonly unknown[]): Promise<BatchItemResult[]> {
    const parsed = raws.map((raw) => this.tryPrepare(raw));
    const copies = await ownCopies(this.store, parsed.flatMap((item, index) => (item.ok ? [] : [{ index, error: item.error }])));
    const ids = parsed.flatMap((item) => (item.ok ? [item.event.envelope.event_id] : []));
    const roots = parsed.map((item) => (item.ok ? this.rootOf(item.event) : undefined));
    return this.commitWithRetry(async (uow, attempt) => {
      // One inbox query and one entity read for the whole group instead of one of each per item.
      const seenBefore = await this.store.findInbox(ids);
      await uow.prefetch(roots.flatMap((root) => (root === undefined || seenBefore.has(root.event_id) ? [] : root.deliveries)), this.machines);
      const group: GroupState = { attempt, seenBefore, deferredBatches: new Map() };
      const results: BatchItemResult[] = [];
      for (const [index, item] of parsed.entries()) {
        if (!item.ok) results.push(copies.get(index) ?? invalidItem(index, item.error));
        else results.push(await this.takeItem(uow, roots[index] ?? this.rootOf(item.event), index, item.event.batch_id, group));
      }
      return results;
    });
  }

  /**
   * Forces one entity into a named state: an operator's repair, admin only over HTTP. Committed like
   * any event (one transaction: entity version check, audit row with the reason and the principal,
   * inbox entry of its event id); the same event_id again answers `duplicate`. Emits nothing (see
   * force.ts). Throws INVALID_ARGUMENT, ENTITY_NOT_FOUND, UNKNOWN_STATE or FORCE_REFUSED (see
   * force-rules.ts) and then writes nothing.
   */
  async force(request: ForceRequest): Promise<DispatchResult> {
    const command = parseForceRequest(request, this.machines, randomUUID);
    const event = { event_id: command.event_id, event_type: FORCE_EVENT_TYPE };
    const [result] = await this.commitWithRetry(async (uow) => {
      const stored = (await this.store.findInbox([command.event_id])).get(command.event_id);
      return [stored !== undefined ? duplicateAnswer(event, stored) : await applyForce(uow, this.machines, command, this.clock())];
    });
    if (result === undefined) throw new LifecycleError('STORE_FAILURE', 'force produced no result');
    return result;
  }

  /** One item of dispatchMany: its answer, or `invalid` / `deferred` with the unit of work rolled back to before it. */
  private async takeItem(uow: UnitOfWork, root: RootItem, index: number, batch: string, group: GroupState): Promise<BatchItemResult> {
    const blocker = group.deferredBatches.get(batch);
    if (blocker !== undefined) return heldBack(root, index, batch, blocker);
    const point = uow.checkpoint();
    try {
      return await this.takeOrDuplicate(uow, root, () => this.take(uow, root, group.seenBefore));
    } catch (error) {
      if (!isLifecycleError(error, 'ENTITY_NOT_FOUND', 'INVARIANT_VIOLATED', ...DEFERRED_CODES)) throw error;
      uow.rollback(point);
      if (error.code === 'ENTITY_NOT_FOUND' || error.code === 'INVARIANT_VIOLATED') return invalidItem(index, error);
      const deferred: DeferredItemResult = { outcome: 'deferred', index, event_id: root.event_id, code: error.code as DeferredCode, message: error.message, details: error.details };
      group.deferredBatches.set(batch, deferred);
      return deferred;
    }
  }

  /**
   * Fires every timer due at the engine's clock; each fires exactly once (the store's compare-and-set
   * on the timer row: a timer another writer fired or cancelled meanwhile is skipped). Returns their answers.
   */
  async fireDueTimers(limit = 100): Promise<DispatchResult[]> {
    const now = this.clock().toISOString();
    const due = this.store.claimDueTimers ? await this.store.claimDueTimers(now, limit, 60_000) : await this.store.dueTimers(now, limit);
    const answers: DispatchResult[] = [];
    for (const timer of due) {
      try {
        const [answer] = await this.commitWithRetry(async (uow) => {
          uow.timersFired.push(timer.timer_id);
          return [await this.takeTimer(uow, timer)];
        });
        if (answer !== undefined) answers.push(answer);
      } catch (error) {
        if (!isLifecycleError(error, 'VERSION_CONFLICT') || error.details.timer_id !== timer.timer_id) throw error;
      }
    }
    return answers;
  }

  /**
   * Takes a due timer's event. Its id is derived (ids.ts), so an outside event may have taken it
   * first: a timer still due never committed its own firing (that marks it fired in the same
   * transaction, and the store refuses to fire it twice), so a `duplicate` here is such a claim,
   * and the timer fires under a fresh id instead of being swallowed.
   */
  private async takeTimer(uow: UnitOfWork, timer: TimerRecord): Promise<DispatchResult> {
    const answer = await this.take(uow, this.timerRoot(timer));
    if (answer.outcome !== 'duplicate') return answer;
    return this.take(uow, this.timerRoot(timer, randomUUID()));
  }

  private rootOf(event: PreparedEvent): RootItem {
    const { envelope } = event;
    return {
      event_id: envelope.event_id,
      event_type: envelope.event_type,
      correlation_id: envelope.correlation_id,
      envelope: envelope as unknown as Json,
      deliveries: event.deliveries,
      strict: true,
      batch_id: event.batch_id,
    };
  }

  private timerRoot(timer: TimerRecord, event_id = timerEventId(timer.timer_id, timer.due_at)): RootItem {
    const stored = timer.event as { type?: unknown; correlation_id?: unknown };
    const type = typeof stored.type === 'string' ? stored.type : 'xstate.after.unknown';
    const correlation_id = typeof stored.correlation_id === 'string' ? stored.correlation_id : timerEventId(timer.timer_id, 'correlation');
    const meta = { event_id, event_type: type, correlation_id, timestamp: timer.due_at, source_service: 'lifecycle_engine.timers' };
    machineOf(this.machines, timer.machine);
    return {
      event_id,
      event_type: type,
      correlation_id,
      envelope: { timer_id: timer.timer_id, event_type: type, due_at: timer.due_at, correlation_id },
      deliveries: [{ machine: timer.machine as Delivery['machine'], entity_id: timer.entity_id, event: { type, data: {}, meta } }],
      strict: false,
      batch_id: null,
    };
  }

  /**
   * `take`, and when it fails, the inbox read again: another worker may have committed the same
   * event between this attempt's inbox read and its entity reads, leaving rows this engine cannot
   * apply (a newer machine version in a rolling deploy). That is a duplicate, not a failure: what
   * the failed take put in the unit of work is rolled back. Costs nothing on the normal path.
   */
  private async takeOrDuplicate(uow: UnitOfWork, root: RootItem, take: () => Promise<DispatchResult>): Promise<DispatchResult> {
    const point = uow.checkpoint();
    try {
      return await take();
    } catch (error) {
      const stored = (await this.store.findInbox([root.event_id])).get(root.event_id);
      if (stored === undefined) throw error;
      uow.rollback(point);
      return duplicateAnswer(root, stored);
    }
  }

  /** Takes one root item into the unit of work, or answers duplicate. */
  private async take(uow: UnitOfWork, root: RootItem, seenBefore?: ReadonlyMap<string, Json>): Promise<DispatchResult> {
    const takenHere = uow.takenResult(root.event_id);
    if (takenHere !== undefined) return duplicateAnswer(root, takenHere);
    const stored = seenBefore !== undefined ? seenBefore.get(root.event_id) : (await this.store.findInbox([root.event_id])).get(root.event_id);
    if (stored !== undefined) return duplicateAnswer(root, stored);
    const context: CascadeContext = {
      machines: this.machines,
      route: this.route,
      now: this.clock(),
      maxSteps: this.maxSteps,
      stepper: this.stepper,
      outboxInternal: this.outboxInternal,
    };
    if (this.invariantMode === 'off') return runCascade(uow, root, context);
    const mark = { touched: uow.touchedCount, outbox: uow.outbox.length, audit: uow.audit.length };
    const answer = await runCascade(uow, root, context);
    const worlds = worldsSince(uow, mark, this.machines);
    const violations = worlds.flatMap((world) => checkInvariants(world, this.invariantList));
    if (violations.length === 0) return answer;
    // A violation seen through a cache entry another writer has moved on is no violation: retry
    // the unit with the store's rows (the commit's compare-and-set would refuse it anyway).
    const stale = await uow.evictStaleCacheEntries();
    if (stale > 0) throw staleCacheConflict(root, stale);
    if (this.invariantMode === 'refuse') throw invariantError(root.event_type, root.event_id, violations);
    this.onViolation(violations, root);
    return answer;
  }

  private async commitWithRetry<T>(work: (uow: UnitOfWork, attempt: number) => Promise<T[]>): Promise<T[]> {
    const claimedElsewhere = new Set<string>();
    for (let attempt = 0; ; attempt += 1) {
      const uow = new UnitOfWork(this.store, this.cache, claimedElsewhere);
      let results: T[];
      try {
        results = await work(uow, attempt);
      } catch (error) {
        uow.forget();
        if (!isLifecycleError(error, 'VERSION_CONFLICT') || error.details.stale_cache !== true || attempt >= this.maxRetries) throw error;
        continue;
      }
      if (uow.isEmpty) return results;
      const batch = uow.toCommitBatch();
      try {
        await this.store.commit(batch);
        uow.remember();
      } catch (error) {
        uow.forget();
        if (!isLifecycleError(error, 'VERSION_CONFLICT') || attempt >= this.maxRetries) throw error;
        // A lost inbox key is a duplicate: the retry answers it at once; the key of one of the engine's
        // own published messages was claimed by another event, and the retry goes on without it. A lost entity row backs off.
        const claimed = ownMessageKey(batch, error.details.event_id);
        if (claimed !== undefined) claimedElsewhere.add(claimed);
        else if (error.details.duplicate !== true) await backoff(attempt);
        continue;
      }
      this.notify(batch.audit);
      return results;
    }
  }

  private notify(rows: readonly AuditWrite[]): void {
    for (const listener of this.listeners) {
      try {
        listener(rows);
      } catch {
        // A listener's failure never undoes or blocks a commit.
      }
    }
  }
}
