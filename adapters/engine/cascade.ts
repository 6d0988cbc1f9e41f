/**
 * Takes one root event and everything it causes inside the engine: each emitted message for
 * outside services is written to the outbox and, when one of the engine's machines consumes it, taken in turn
 * (breadth first, in emission order) with a deterministic event id and the root's
 * correlation_id. All of it lands in one unit of work, hence in one transaction.
 */
import { batchIdOf, type Delivery } from '../../machines/routing.js';
import { definitionOf, parseEnvelope, type LifecycleEnvelope } from '../../machines/contracts/events.js';
import type { Json } from '../../machines/lifecycle-machine.js';
import { LifecycleError } from '../errors.js';
import { emittedEventId } from './ids.js';
import { answerOf, storedAnswerOf, type DeliveryResult, type DispatchResult, type EmittedSummary, type RefusedDelivery } from './results.js';
import type { Stepper } from './pure.js';
import { applyDelivery, type EmittedMessage } from './step.js';
import type { Checkpoint, UnitOfWork } from './unit-of-work.js';
import { MembershipScope, OutsideBatch } from './membership.js';
import { machineOf, type MachineRegistry } from './registry.js';
import { Fifo } from './fifo.js';

/** What the cascade needs from the engine. */
export interface CascadeContext {
  readonly machines: MachineRegistry;
  readonly route: (envelope: LifecycleEnvelope) => Delivery[];
  readonly now: Date;
  readonly maxSteps: number;
  /** How each step is computed (default: the reusable-scope stepper). */
  readonly stepper?: Stepper;
  /** Write internal messages to the outbox too (EngineOptions.outboxInternal). */
  readonly outboxInternal: boolean;
}

/** A root item: an event with its deliveries already decided. */
export interface RootItem {
  readonly event_id: string;
  readonly event_type: string;
  readonly correlation_id: string;
  readonly envelope: Json;
  readonly deliveries: readonly Delivery[];
  /** True when a missing first entity must fail the call (ENTITY_NOT_FOUND) instead of being recorded. */
  readonly strict: boolean;
  /** The batch the event is for (membership scope); null when the first entity reached names it (a timer). */
  readonly batch_id: string | null;
}

interface QueueItem extends RootItem {
  readonly causation_id: string | null;
  /**
   * True when the message also left the engine (the outbox): a copy may come back from a queue,
   * so its event id is kept in the inbox and the copy answers `duplicate`. A message that never
   * left cannot come back (an outside sender of an internal topic is refused by its sender class),
   * and its audit rows record it: no inbox row (one random B-tree insert fewer per delivery).
   */
  readonly published: boolean;
}

function toEnvelope(message: EmittedMessage, eventId: string, causationId: string): Record<string, unknown> {
  const { type, ...body } = message;
  return { event_id: eventId, event_type: type, ...body, metadata: { causation_id: causationId } };
}

async function deliverAll(
  uow: UnitOfWork,
  item: RootItem,
  causationId: string | null,
  ctx: CascadeContext & { readonly scope: MembershipScope },
): Promise<{ results: DeliveryResult[]; emitted: Array<readonly EmittedMessage[]> }> {
  const results: DeliveryResult[] = [];
  const emitted: Array<readonly EmittedMessage[]> = [];
  for (let index = 0; index < item.deliveries.length; index += 1) {
    const delivery = item.deliveries[index] as Delivery;
    const machine = machineOf(ctx.machines, delivery.machine);
    const existing = await uow.get(machine, delivery.entity_id);
    ctx.scope.check(machine, existing, item.event_type);
    const step = await applyDelivery(uow, machine, delivery, ctx.now, ctx.stepper);
    if (existing === undefined) ctx.scope.check(machine, await uow.get(machine, delivery.entity_id), item.event_type);
    if (index === 0 && item.strict && step.delivery.code === 'ENTITY_NOT_FOUND') {
      throw new LifecycleError('ENTITY_NOT_FOUND', `${item.event_type} addresses ${step.delivery.reason ?? 'a missing entity'}`, {
        details: { machine: delivery.machine, entity_id: delivery.entity_id, event_id: item.event_id },
      });
    }
    results.push(step.delivery);
    emitted.push(step.emitted);
    uow.audit.push({
      event_id: item.event_id,
      event_type: item.event_type,
      correlation_id: item.correlation_id,
      causation_id: causationId,
      machine: delivery.machine,
      entity_id: delivery.entity_id,
      from_status: step.delivery.from,
      to_status: step.delivery.to,
      outcome: step.delivery.outcome,
      reason: step.delivery.reason ?? null,
      entity_version: step.version,
      envelope: item.envelope,
      machine_version: machine.version,
    });
  }
  return { results, emitted };
}

function enqueueEmitted(
  uow: UnitOfWork,
  item: RootItem,
  delivery: DeliveryResult,
  messages: readonly EmittedMessage[],
  ctx: CascadeContext,
  sink: { queue: Fifo<QueueItem>; emitted: EmittedSummary[] },
): void {
  messages.forEach((message, index) => {
    const eventId = emittedEventId(item.event_id, delivery.machine, delivery.entity_id, index);
    const raw = toEnvelope(message, eventId, item.event_id);
    const parsed = parseEnvelope(raw);
    if (!parsed.ok) {
      throw new LifecycleError('MACHINE_ERROR', `${delivery.machine} "${delivery.entity_id}" emitted an invalid ${message.type}: ${parsed.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, {
        details: { machine: delivery.machine, entity_id: delivery.entity_id, issues: parsed.issues },
      });
    }
    const deliveries = ctx.route(parsed.envelope);
    const internal = deliveries.length > 0;
    // Applied here and read by nobody outside: its audit rows are its only copy unless asked (outboxInternal).
    const published = !internal || ctx.outboxInternal || definitionOf(message.type)?.alsoOutside === true;
    if (published) {
      uow.outbox.push({ event_id: eventId, event_type: message.type, aggregate_id: batchIdOf(parsed.envelope), envelope: raw as Json, internal });
    }
    sink.emitted.push({ event_id: eventId, event_type: message.type, internal });
    if (internal) {
      sink.queue.push({
        event_id: eventId,
        event_type: message.type,
        correlation_id: parsed.envelope.correlation_id,
        envelope: raw as Json,
        deliveries,
        strict: false,
        batch_id: item.batch_id,
        causation_id: item.event_id,
        published,
      });
    }
  });
}

/**
 * The deliveries of `item` refused while the root may still be accepted: every refused one of
 * an internal message, and those after the first of the root itself (the first speaks for it).
 */
function refusedOf(item: RootItem, results: readonly DeliveryResult[], isRoot: boolean): RefusedDelivery[] {
  return results.flatMap((result, index) => {
    if (result.outcome !== 'refused' || (isRoot && index === 0)) return [];
    const refused: RefusedDelivery = { event_id: item.event_id, event_type: item.event_type, machine: result.machine, entity_id: result.entity_id, state: result.from };
    return [{ ...refused, ...(result.reason === undefined ? {} : { reason: result.reason }), ...(result.code === undefined ? {} : { code: result.code }) }];
  });
}

/**
 * The answer when a delivery would leave the event's batch: everything of the event is rolled
 * back, and the refusal is audited (on the entity it would have reached) and kept in the inbox.
 */
function refuseOutside(uow: UnitOfWork, root: RootItem, point: Checkpoint, violation: OutsideBatch): DispatchResult {
  uow.rollback(point);
  const reason = violation.reasonFor(root.event_type);
  const refused: DeliveryResult = {
    machine: violation.machine,
    entity_id: violation.entity_id,
    from: violation.status,
    to: violation.status,
    outcome: 'refused',
    code: 'OUTSIDE_BATCH',
    reason,
  };
  uow.audit.push({
    event_id: root.event_id,
    event_type: root.event_type,
    correlation_id: root.correlation_id,
    causation_id: null,
    machine: violation.machine,
    entity_id: violation.entity_id,
    from_status: violation.status,
    to_status: violation.status,
    outcome: 'refused',
    reason,
    entity_version: null,
    envelope: root.envelope,
  });
  const answer = answerOf(root, [refused], [], 0);
  uow.take({ event_id: root.event_id, event_type: root.event_type, result: storedAnswerOf(answer) as unknown as Json });
  return answer;
}

/** A fan-out this long (queued messages) reads its entities ahead, PREFETCH_WINDOW at a time. */
const PREFETCH_MIN = 16;
const PREFETCH_WINDOW = 256;

/**
 * Reads the entities of `next` and of the queued messages after it (up to PREFETCH_WINDOW) in one
 * store call (`uow.prefetch`: only rows the unit and the cache lack), so a fan-out to N essays costs
 * N / PREFETCH_WINDOW reads instead of N (on PostgreSQL, round trips). Returns how many queued
 * messages after `next` the window covered.
 */
async function prefetchWindow(uow: UnitOfWork, next: QueueItem, queue: Fifo<QueueItem>, ctx: CascadeContext): Promise<number> {
  const ahead = queue.peek(PREFETCH_WINDOW - 1);
  await uow.prefetch([next, ...ahead].flatMap((queued) => queued.deliveries), ctx.machines);
  return ahead.length;
}

/** Takes the root item and its whole causal chain into `uow`; returns the root's answer. */
export async function runCascade(uow: UnitOfWork, root: RootItem, ctx: CascadeContext): Promise<DispatchResult> {
  const point = uow.checkpoint();
  try {
    return await takeChain(uow, root, { ...ctx, scope: new MembershipScope(root.batch_id) });
  } catch (error) {
    if (error instanceof OutsideBatch) return refuseOutside(uow, root, point, error);
    throw error;
  }
}

async function takeChain(uow: UnitOfWork, root: RootItem, ctx: CascadeContext & { readonly scope: MembershipScope }): Promise<DispatchResult> {
  const sink = { queue: new Fifo<QueueItem>(), emitted: [] as EmittedSummary[] };
  let steps = 0;
  let rootResults: DeliveryResult[] | undefined;
  let causationId: string | null = null;
  const refused: RefusedDelivery[] = [];
  let prefetchedAhead = 0;
  for (let item: RootItem | QueueItem | undefined = root; item !== undefined; ) {
    const { results, emitted } = await deliverAll(uow, item, causationId, ctx);
    refused.push(...refusedOf(item, results, item === root));
    for (const result of results) if (result.outcome === 'accepted') steps += 1;
    if (steps > ctx.maxSteps) {
      throw new LifecycleError('MACHINE_ERROR', `${root.event_type} caused more than ${ctx.maxSteps} transitions; stopping (a cycle between machines?)`, {
        details: { event_id: root.event_id },
      });
    }
    for (let index = 0; index < results.length; index += 1) {
      const messages = emitted[index];
      if (messages !== undefined && messages.length > 0) enqueueEmitted(uow, item, results[index] as DeliveryResult, messages, ctx, sink);
    }
    if (rootResults === undefined) rootResults = results;
    else if ('published' in item && item.published) uow.take({ event_id: item.event_id, event_type: item.event_type, result: { outcome: results[0]?.outcome ?? 'accepted', internal: true } });
    const next = sink.queue.shift();
    if (prefetchedAhead > 0) prefetchedAhead -= 1;
    else if (next !== undefined && sink.queue.length >= PREFETCH_MIN) prefetchedAhead = await prefetchWindow(uow, next, sink.queue, ctx);
    causationId = next?.causation_id ?? null;
    item = next;
  }
  const answer = answerOf(root, rootResults ?? [], sink.emitted, steps, refused);
  uow.take({ event_id: root.event_id, event_type: root.event_type, result: storedAnswerOf(answer) as unknown as Json });
  return answer;
}
