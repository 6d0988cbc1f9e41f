/**
 * What machines emit: an envelope body without its event_id (the engine derives the id
 * deterministically from the causing event, so a replay emits the same ids).
 */
import type { EventMeta } from './envelope.js';
import type { DataOfTopic, Topic } from './events.js';

/** A message a machine emits, typed by its topic. XState's `emit` needs the `type` key. */
export type OutboundMessage<T extends Topic = Topic> = T extends Topic
  ? {
      /** The wire event_type. */
      readonly type: T;
      readonly correlation_id: string;
      readonly event_timestamp: string;
      readonly source_service: string;
      readonly schema_version: 1;
      readonly data: DataOfTopic<T>;
    }
  : never;

/** The service names our machines write into `source_service`. */
export const SourceService = {
  BATCH: 'batch_orchestrator_service',
  ESSAY: 'essay_lifecycle_service',
  TRACKER: 'essay_lifecycle_service',
  ASSOCIATIONS: 'class_management_service',
} as const;

/**
 * Builds an outbound message caused by `cause`: same correlation_id, the cause's timestamp
 * (machines never read a clock), schema_version 1.
 */
export function outbound<T extends Topic>(
  type: T,
  cause: EventMeta,
  source: string,
  data: DataOfTopic<T>,
): OutboundMessage<T> {
  return {
    type,
    correlation_id: cause.correlation_id,
    event_timestamp: cause.timestamp,
    source_service: source,
    schema_version: 1,
    data,
  } as OutboundMessage<T>;
}
