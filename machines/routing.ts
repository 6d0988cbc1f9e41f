/**
 * Routing: which machine instances an envelope drives, and with which machine event, read from
 * the event's declaration (its `targets`). Pure domain knowledge, so the engine stays generic.
 * An event can drive several entities (StudentAssociationsConfirmedV1 drives the batch and its
 * tracker) or none (an outbound command for an outside service).
 */
import { metaOf, type EventMeta } from './contracts/envelope.js';
import { MachineId, type CreateMode, type EventTarget, type SenderClass } from './contracts/declaration.js';
import type { MachineEventData, MachineEventType } from './contracts/event-tables.js';
import { definitionOf, type LifecycleEnvelope } from './contracts/events.js';

export { MachineId };

/** A machine event as delivered: type, parsed data, meta. */
export interface RoutedEvent {
  readonly type: string;
  readonly data: unknown;
  readonly meta: EventMeta;
}

/** One entity an envelope drives. */
export interface Delivery {
  readonly machine: MachineId;
  readonly entity_id: string;
  readonly event: RoutedEvent;
  /**
   * Present when this event may create the entity: `input` for initialTransition, and
   * whether the event is then also applied (false when the input already is the event).
   */
  readonly create?: { readonly input: unknown; readonly applyEvent: boolean };
}

/**
 * A delivery of one of the library's machine events, typed by machine: a wrong event type or
 * payload does not compile. For hosts writing their own `EngineOptions.route`.
 */
export function deliveryTo<M extends MachineId, T extends MachineEventType<M>>(
  machine: M,
  entityId: string,
  type: T,
  data: MachineEventData<M, T>,
  meta: EventMeta,
  create?: Delivery['create'],
): Delivery {
  const event = { type, data, meta };
  return create === undefined ? { machine, entity_id: entityId, event } : { machine, entity_id: entityId, event, create };
}

type AnyTarget = EventTarget<Record<string, unknown>, MachineId, string, unknown>;

function creationOf(mode: CreateMode | undefined, entityId: string, data: unknown, meta: EventMeta): Delivery['create'] {
  switch (mode) {
    case undefined:
      return undefined;
    case 'then_apply':
      return { input: { batch_id: entityId }, applyEvent: true };
    case 'from_event':
    case 'from_event_only':
      return { input: { data, meta }, applyEvent: false };
  }
}

function deliveryOf(target: AnyTarget, data: Record<string, unknown>, meta: EventMeta): Delivery {
  const entityId = data[target.entity] as string;
  const event = target.event === undefined ? { type: target.types[0], data } : target.event(data);
  const create = creationOf(target.create, entityId, data, meta);
  const routed = { type: event.type, data: event.data, meta };
  return create === undefined ? { machine: target.machine, entity_id: entityId, event: routed } : { machine: target.machine, entity_id: entityId, event: routed, create };
}

/**
 * The entities a parsed envelope drives, in delivery order (its declaration's targets). An empty
 * list means the event is for outside services only (it is recorded, not applied).
 */
export function route(envelope: LifecycleEnvelope): Delivery[] {
  const definition = definitionOf(envelope.event_type);
  if (definition === undefined) return [];
  const meta = metaOf(envelope);
  const data = envelope.data as Record<string, unknown>;
  return (definition.targets as readonly AnyTarget[]).map((target) => deliveryOf(target, data, meta));
}

/** The batch a parsed envelope is for (its declaration's `batch` field): the membership scope and the outbox's ordering key. */
export function batchIdOf(envelope: LifecycleEnvelope): string {
  const definition = definitionOf(envelope.event_type);
  const value = definition === undefined ? undefined : (envelope.data as Record<string, unknown>)[definition.batch];
  return typeof value === 'string' ? value : envelope.correlation_id;
}

/** Who may send an envelope of this topic (its declaration's sender class); undefined for a topic we do not know. */
export function senderClassOf(topic: string): SenderClass | undefined {
  return definitionOf(topic)?.sender;
}
