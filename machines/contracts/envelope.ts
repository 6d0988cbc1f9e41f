/**
 * The event envelope of the reference system (reference.md 7.1), kept on the wire unchanged,
 * and the helpers that tie one `event_type` to the zod schema of its `data`.
 */
import { z } from 'zod';
import type { EventBinding, EventTarget, IdField, MachineId, SenderClass } from './declaration.js';

/** Longest identifier we accept anywhere (batch ids, essay ids, storage ids, user ids). */
export const MAX_ID_LENGTH = 255;

/** A non-empty identifier of bounded length. */
export const Id = z.string().min(1).max(MAX_ID_LENGTH);

/** An ISO-8601 timestamp with an explicit offset or `Z`. */
export const Timestamp = z.iso.datetime({ offset: true });

/** A free-text field of bounded length. */
export const Text = z.string().max(10_000);

/** Fields every envelope carries, whatever its payload. */
export const EnvelopeHeader = z.object({
  event_id: z.uuid(),
  event_type: z.string().min(1).max(200),
  event_timestamp: Timestamp,
  source_service: z.string().min(1).max(200),
  schema_version: z.literal(1).default(1),
  correlation_id: z.uuid(),
  data_schema_uri: z.string().max(2_000).nullish(),
  metadata: z.record(z.string(), z.unknown()).nullish(),
});

/** An envelope whose payload has not been checked yet (what routing looks at first). */
export const UntypedEnvelope = EnvelopeHeader.extend({ data: z.unknown() });
export type UntypedEnvelope = z.infer<typeof UntypedEnvelope>;

/** One lifecycle event: its topic, the schema of its payload, who may send it and what it drives. */
export interface EventDefinition<
  Topic extends string = string,
  Data extends z.ZodType = z.ZodType,
  Targets extends readonly EventTarget<z.output<Data>, MachineId, string, unknown>[] = readonly EventTarget<z.output<Data>, MachineId, string, unknown>[],
> {
  /** The wire `event_type` (the reference's Kafka topic string). */
  readonly topic: Topic;
  /** The reference's class name, for documentation and error messages. */
  readonly name: string;
  /** Schema of `data`. */
  readonly data: Data;
  /** Schema of the whole envelope (header + `event_type` literal + data). */
  readonly envelope: z.ZodType<Envelope<Topic, z.output<Data>>, unknown>;
  /** Who may send it (see SenderClass). */
  readonly sender: SenderClass;
  /** The payload field naming the batch the event is for (membership scope). */
  readonly batch: IdField<z.output<Data>>;
  /** The machine instances it drives, in delivery order (empty: outside services only). */
  readonly targets: Targets;
  /** True when services outside the engine consume it too, besides `targets` (see EventBinding.alsoOutside). */
  readonly alsoOutside: boolean;
}

/** A parsed envelope of one event type. */
export type Envelope<Topic extends string = string, Data = unknown> = Omit<
  z.output<typeof EnvelopeHeader>,
  'event_type'
> & { event_type: Topic; data: Data };

/**
 * Declares one lifecycle event: topic, payload schema, sender class, batch field and targets.
 * The envelope schema is derived, never written by hand; so are routing and the machines' event
 * unions (see routing.ts and machine-event.ts).
 */
export function defineEvent<
  const Topic extends string,
  Data extends z.ZodType,
  const Targets extends readonly EventTarget<z.output<Data>, MachineId, string, unknown>[] = readonly [],
>(name: string, topic: Topic, data: Data, binding: EventBinding<z.output<Data>, Targets>): EventDefinition<Topic, Data, Targets> {
  const envelope = EnvelopeHeader.extend({ event_type: z.literal(topic), data }) as unknown as z.ZodType<
    Envelope<Topic, z.output<Data>>,
    unknown
  >;
  return {
    topic, name, data, envelope, sender: binding.sender, batch: binding.batch, targets: (binding.targets ?? []) as Targets, alsoOutside: binding.alsoOutside === true,
  };
}

/** What a machine knows about the event that drove it (never the clock or a random value). */
export interface EventMeta {
  /** The envelope's event_id. */
  readonly event_id: string;
  /** The envelope's event_type. */
  readonly event_type: string;
  /** Propagated unchanged into everything this event causes. */
  readonly correlation_id: string;
  /** The envelope's event_timestamp: the only notion of time a machine has. */
  readonly timestamp: string;
  /** The service that produced the envelope. */
  readonly source_service: string;
}

/** The metadata part of a parsed envelope. */
export function metaOf(envelope: Envelope): EventMeta {
  return {
    event_id: envelope.event_id,
    event_type: envelope.event_type,
    correlation_id: envelope.correlation_id,
    timestamp: envelope.event_timestamp,
    source_service: envelope.source_service,
  };
}
