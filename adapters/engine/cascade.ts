/**
 * Takes one root event and everything it causes inside the engine: each emitted message is
 * written to the outbox and, when one of the engine's machines consumes it, taken in turn
 * (breadth first, in emission order) with a deterministic event id and the root's
 * correlation_id. All of it lands in one unit of work, hence in one transaction.
 */
import { batchIdOf, type Delivery } from '../../machines/routing.js';
import { parseEnvelope, type LifecycleEnvelope } from '../../machines/contracts/events.js';
import type { Json } from '../../machines/lifecycle-machine.js';
import { LifecycleError } from '../errors.js';
import { emittedEventId } from './ids.js';
import { answerOf, storedAnswerOf, type DeliveryResult, type DispatchResult, type EmittedSummary } from './results.js';
import { applyDelivery, type EmittedMessage } from './step.js';
import type { UnitOfWork } from './unit-of-work.js';
import { machineOf, type MachineRegistry } from './registry.js';

/** What the cascade needs from the engine. */
export interface CascadeContext {
  readonly machines: MachineRegistry;
  readonly route: (envelope: LifecycleEnvelope) => Delivery[];
  readonly now: Date;
  readonly maxSteps: number;
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
}

interface QueueItem extends RootItem {
  readonly causation_id: string | null;
}

function toEnvelope(message: EmittedMessage, eventId: string, causationId: string): Record<string, unknown> {
  const { type, ...body } = message;
  return { event_id: eventId, event_type: type, ...body, metadata: { causation_id: causationId } };
}

async function deliverAll(
  uow: UnitOfWork,
  item: RootItem,
  causationId: string | null,
  ctx: CascadeContext,
): Promise<{ results: DeliveryResult[]; emitted: Array<readonly EmittedMessage[]> }> {
  const results: DeliveryResult[] = [];
  const emitted: Array<readonly EmittedMessage[]> = [];
  for (let index = 0; index < item.deliveries.length; index += 1) {
    const delivery = item.deliveries[index] as Delivery;
    const machine = machineOf(ctx.machines, delivery.machine);
    const step = await applyDelivery(uow, machine, delivery, ctx.now);
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
  sink: { queue: QueueItem[]; emitted: EmittedSummary[] },
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
    if (!internal || ctx.outboxInternal) {
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
        causation_id: item.event_id,
      });
    }
  });
}

/** Takes the root item and its whole causal chain into `uow`; returns the root's answer. */
export async function runCascade(uow: UnitOfWork, root: RootItem, ctx: CascadeContext): Promise<DispatchResult> {
  const sink = { queue: [] as QueueItem[], emitted: [] as EmittedSummary[] };
  let steps = 0;
  let rootResults: DeliveryResult[] | undefined;
  let causationId: string | null = null;
  for (let item: RootItem | undefined = root; item !== undefined; ) {
    const { results, emitted } = await deliverAll(uow, item, causationId, ctx);
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
    else uow.take({ event_id: item.event_id, event_type: item.event_type, result: { outcome: results[0]?.outcome ?? 'accepted', internal: true } });
    const next = sink.queue.shift();
    causationId = next?.causation_id ?? null;
    item = next;
  }
  const answer = answerOf(root, rootResults ?? [], sink.emitted, steps);
  uow.take({ event_id: root.event_id, event_type: root.event_type, result: storedAnswerOf(answer) as unknown as Json });
  return answer;
}
