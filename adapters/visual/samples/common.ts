/**
 * What the samples of every machine share: the sample timestamp, correlation id and source, the
 * meta and wire envelope of a sample event, the per-vertex sample builder, and the essays of the
 * sample batch.
 */
import type { EventObject } from 'xstate';
import { deterministicUuid } from '../../engine/ids.js';
import type { EventMeta } from '../../../machines/contracts/envelope.js';
import { LifecycleEvents } from '../../../machines/contracts/events.js';
import type { LifecycleMachine } from '../../../machines/lifecycle-machine.js';
import type { MachineId } from '../../../machines/routing.js';
import type { PathSeed, PathSubject } from '../paths/types.js';

/** Timestamp of every sample event (the association timeout fires 24 h later). */
export const SAMPLE_TIMESTAMP = '2026-01-01T10:00:00.000Z';

/** Correlation id of every sample event. */
export const SAMPLE_CORRELATION_ID = deterministicUuid('visual-paths:correlation');

/** `source_service` of every sample event. */
export const SAMPLE_SOURCE = 'path_generator';

/** How the engine produces one machine event: an envelope to dispatch, or a timer that falls due. */
export type EngineAction =
  | { readonly kind: 'dispatch'; readonly envelope: Record<string, unknown> }
  | { readonly kind: 'timer'; readonly at: string };

/** A machine of this library with its samples and its engine binding. */
export interface ProjectSubject extends PathSubject {
  /** The machine id (engine registry key and routing target). */
  readonly id: MachineId;
  /** What the engine registers for this machine (the same logic as `machine`). */
  readonly lifecycle: LifecycleMachine;
  /** The entity a seed creates. */
  readonly entityId: (seed: PathSeed) => string;
  /** The envelope that creates the entity for a seed; undefined when the first step creates it. */
  readonly create: (seed: PathSeed) => Record<string, unknown> | undefined;
  /** The engine action that produces `event` (inverse routing). */
  readonly toAction: (event: EventObject) => EngineAction;
}

export interface SampleEvent<T extends string = string> extends EventObject {
  readonly type: T;
  readonly data?: unknown;
  readonly meta: EventMeta;
}

export function metaOf(topic: string, idKey: string, timestamp = SAMPLE_TIMESTAMP): EventMeta {
  return {
    event_id: deterministicUuid(`visual-paths:${idKey}`),
    event_type: topic,
    correlation_id: SAMPLE_CORRELATION_ID,
    timestamp,
    source_service: SAMPLE_SOURCE,
  };
}

/** The wire envelope of a sample event (its meta becomes the header). */
export function envelopeOf(topic: string, event: { readonly data?: unknown; readonly meta: EventMeta }): Record<string, unknown> {
  return {
    event_id: event.meta.event_id,
    event_type: topic,
    event_timestamp: event.meta.timestamp,
    source_service: event.meta.source_service,
    schema_version: 1,
    correlation_id: event.meta.correlation_id,
    data: event.data,
  };
}

export function dispatchOf(topics: Readonly<Record<string, string>>, machine: string) {
  return (event: EventObject): EngineAction => {
    const topic = topics[event.type];
    if (topic === undefined) throw new Error(`${machine}: no topic produces machine event ${event.type}`);
    return { kind: 'dispatch', envelope: envelopeOf(topic, event as SampleEvent) };
  };
}

/** Builds one sample event of a vertex (see `sampler`). */
export type Sampler = <T extends string>(type: T, topic: string, data: unknown, variant?: string) => SampleEvent<T>;

/** Builds sample events for one vertex: ids derive from the vertex key, the type and a variant. */
export function sampler(machine: string, vertexKey: string): Sampler {
  return <T extends string>(type: T, topic: string, data: unknown, variant = ''): SampleEvent<T> => ({
    type,
    data,
    meta: metaOf(topic, `${machine}:${vertexKey}:${type}:${variant}`),
  });
}

export const ESSAY_IDS = ['essay-1', 'essay-2'] as const;
export const refsOfEssays = (ids: readonly string[]) => ids.map((essay_id, index) => ({ essay_id, text_storage_id: `text-${index + 1}` }));

/** The registration of a sample batch (the batch and batch_tracker machines both take it). */
export function registrationData(batchId: string, classId: string | null) {
  return LifecycleEvents.BatchEssaysRegistered.data.parse({
    entity_id: batchId,
    expected_essay_count: ESSAY_IDS.length,
    essay_ids: [...ESSAY_IDS],
    course_code: 'ENG5',
    user_id: 'teacher-1',
    ...(classId === null ? {} : { class_id: classId }),
  });
}
