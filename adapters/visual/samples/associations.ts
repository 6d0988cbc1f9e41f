/**
 * Samples of the associations machine: one seed (match suggestions for two essays), the suggestion
 * and validation events, and the timeout the engine's timer delivers.
 */
import type { AnyMachineSnapshot, EventObject } from 'xstate';
import { ASSOCIATION_TIMEOUT_EVENT, associationsLifecycle, DEFAULT_ASSOCIATION_TIMEOUT_MS, type AssociationsContext } from '../../../machines/associations.js';
import { machineEventTopics } from '../../../machines/contracts/event-tables.js';
import { LifecycleEvents } from '../../../machines/contracts/events.js';
import { dispatchOf, envelopeOf, metaOf, SAMPLE_TIMESTAMP, sampler, type ProjectSubject, type SampleEvent } from './common.js';

/** The time the association timeout of the sample batch falls due. */
export const SAMPLE_TIMEOUT_AT = new Date(Date.parse(SAMPLE_TIMESTAMP) + DEFAULT_ASSOCIATION_TIMEOUT_MS).toISOString();

function suggestionsData(batch_id: string, essayIds: readonly string[]) {
  return LifecycleEvents.BatchAuthorMatchesSuggestedV1.data.parse({
    batch_id,
    class_id: 'class-1',
    course_code: 'ENG5',
    match_results: essayIds.map((essay_id, index) => ({
      essay_id,
      suggestions: index === 0 ? [{ student_id: 'student-1', student_name: 'Ada Lovelace', confidence_score: 0.9 }] : [],
    })),
  });
}

/** The timeout as the engine's timer delivers it (the timer's meta; no payload). */
function timeoutEvent(batchId: string): SampleEvent {
  return {
    type: ASSOCIATION_TIMEOUT_EVENT,
    meta: { ...metaOf(ASSOCIATION_TIMEOUT_EVENT, `associations:timeout:${batchId}`, SAMPLE_TIMEOUT_AT), source_service: 'lifecycle_engine.timers' },
  };
}

function associationsEvents(snapshot: AnyMachineSnapshot): EventObject[] {
  const context = snapshot.context as AssociationsContext;
  const sample = sampler('associations', JSON.stringify(snapshot.value));
  const E = LifecycleEvents;
  return [
    sample('MATCHES_SUGGESTED', E.BatchAuthorMatchesSuggestedV1.topic, suggestionsData(context.batch_id, ['essay-3'])),
    sample(
      'ASSOCIATIONS_VALIDATED',
      E.StudentAssociationsValidatedV1.topic,
      E.StudentAssociationsValidatedV1.data.parse({
        batch_id: context.batch_id,
        user_id: 'teacher-1',
        associations: [{ essay_id: 'essay-1', student_id: 'student-1', confirmed: true }],
      }),
    ),
    timeoutEvent(context.batch_id),
  ];
}

export function associationsSubject(): ProjectSubject {
  const topic = LifecycleEvents.BatchAuthorMatchesSuggestedV1.topic;
  const topics: Readonly<Record<string, string>> = machineEventTopics('associations');
  const dispatch = dispatchOf(topics, 'associations');
  return {
    id: 'associations',
    machine: associationsLifecycle.logic,
    lifecycle: associationsLifecycle,
    seeds: [{ name: 'default', input: { data: suggestionsData('batch-1', ['essay-1', 'essay-2']), meta: metaOf(topic, 'associations:default:create') } }],
    events: associationsEvents,
    entityId: () => 'batch-1',
    create: (seed) => envelopeOf(topic, seed.input as SampleEvent),
    toAction: (event) => (event.type === ASSOCIATION_TIMEOUT_EVENT ? { kind: 'timer', at: (event as SampleEvent).meta.timestamp } : dispatch(event)),
  };
}
