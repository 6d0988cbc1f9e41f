/**
 * Typed envelopes for senders: the input types (`z.input`) of every envelope and a builder typed
 * by topic, so an editor completes the payload and a misspelt field is a type error. Fields with
 * defaults (`schema_version`, `data.event`, ...) stay optional. The builder validates with the
 * same schema the engine uses and throws INVALID_ENVELOPE naming the fields.
 */
import type { z } from 'zod';
import type { Envelope, EnvelopeHeader } from './envelope.js';
import type { LifecycleEvents} from './events.js';
import { definitionOf, parseEnvelope, type DataOfTopic, type EventName, type Topic } from './events.js';

/** The definition of the event with topic `T`. */
type DefinitionOfTopic<T extends Topic> = Extract<(typeof LifecycleEvents)[EventName], { readonly topic: T }>;

/** What a sender writes as `data` for topic `T` (the schema's input: defaults optional). */
export type DataInput<T extends Topic> = z.input<DefinitionOfTopic<T>['data']>;

/** A whole envelope of topic `T` as a sender writes it (the schema's input). */
export type EnvelopeInput<T extends Topic> = Omit<z.input<typeof EnvelopeHeader>, 'event_type'> & { event_type: T; data: DataInput<T> };

/** A parsed envelope of topic `T` (defaults applied). */
export type EnvelopeOf<T extends Topic> = Envelope<T, DataOfTopic<T>>;

/** Header fields of a built envelope; each has a default. */
export interface EnvelopeOptions {
  /** Default: a new random uuid. */
  readonly event_id?: string;
  /** Default: a new random uuid (pass the causing event's to keep a chain together). */
  readonly correlation_id?: string;
  /** ISO-8601 with offset. Default: now. */
  readonly event_timestamp?: string;
  /** Default: `lifecycle_client`. */
  readonly source_service?: string;
  readonly metadata?: Record<string, unknown>;
}

/** Thrown by `envelope` when the payload does not match the topic's schema. */
export class InvalidEnvelopeError extends Error {
  override readonly name = 'InvalidEnvelopeError';
  readonly code = 'INVALID_ENVELOPE';

  constructor(
    readonly topic: string,
    readonly issues: ReadonlyArray<{ readonly path: string; readonly message: string }>,
  ) {
    super(`invalid ${topic} envelope: ${issues.slice(0, 5).map((issue) => `${issue.path}: ${issue.message}`).join('; ')}`);
  }
}

/**
 * A complete, validated envelope of `topic` with `data`: the header is filled in (new event and
 * correlation ids, the current time, `schema_version` 1) unless `options` says otherwise.
 *
 * @example envelope('huleedu.commands.batch.pipeline.v1', { batch_id: 'b-1', requested_pipeline: 'nlp', user_id: 't-1' })
 */
export function envelope<T extends Topic>(topic: T, data: DataInput<T>, options: EnvelopeOptions = {}): EnvelopeOf<T> {
  if (definitionOf(topic) === undefined) throw new InvalidEnvelopeError(topic, [{ path: 'event_type', message: `unknown event_type "${topic}"` }]);
  const raw = {
    event_id: options.event_id ?? globalThis.crypto.randomUUID(),
    event_type: topic,
    event_timestamp: options.event_timestamp ?? new Date().toISOString(),
    source_service: options.source_service ?? 'lifecycle_client',
    schema_version: 1,
    correlation_id: options.correlation_id ?? globalThis.crypto.randomUUID(),
    ...(options.metadata === undefined ? {} : { metadata: options.metadata }),
    data,
  };
  const parsed = parseEnvelope(raw);
  if (!parsed.ok) throw new InvalidEnvelopeError(topic, parsed.issues);
  return parsed.envelope as EnvelopeOf<T>;
}
