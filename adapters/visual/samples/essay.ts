/**
 * Samples of the essay machine: one seed (the slot of essay-1), its slot and content events and every
 * trigger of the transition-request topic.
 */
import type { AnyMachineSnapshot, EventObject } from 'xstate';
import { LifecycleEvents } from '../../../machines/contracts/events.js';
import { ESSAY_TRIGGERS, type EssayTrigger } from '../../../machines/contracts/events-internal.js';
import { essayLifecycle } from '../../../machines/essay.js';
import { dispatchOf, envelopeOf, metaOf, sampler, type ProjectSubject, type SampleEvent } from './common.js';

const ESSAY_TOPICS: Readonly<Record<string, string>> = {
  SLOT_ASSIGNED: LifecycleEvents.EssaySlotAssignedV1.topic,
  CONTENT_FAILED: LifecycleEvents.EssayContentFailedV1.topic,
  ...Object.fromEntries(ESSAY_TRIGGERS.map((trigger) => [trigger, LifecycleEvents.EssayTransitionRequestedV1.topic])),
};

function triggerData(trigger: EssayTrigger, essay_id: string, batch_id: string) {
  const extra = trigger.startsWith('CMD_INITIATE_')
    ? { run_id: 1, text_storage_id: 'text-1' }
    : trigger.endsWith('_SUCCEEDED')
      ? { run_id: 1, text_storage_id: `text-1-${trigger.toLowerCase()}` }
      : trigger.endsWith('_FAILED') || trigger === 'EVT_CRITICAL_FAILURE'
        ? { run_id: 1, reason: 'path test' }
        : { run_id: 1 };
  return LifecycleEvents.EssayTransitionRequestedV1.data.parse({ essay_id, batch_id, trigger, ...extra });
}

function essayEvents(snapshot: AnyMachineSnapshot): EventObject[] {
  const { essay_id, batch_id } = snapshot.context as { essay_id: string; batch_id: string };
  const sample = sampler('essay', JSON.stringify(snapshot.value));
  const file = { batch_id, essay_id, file_upload_id: 'upload-1', original_file_name: 'essay-1.docx' };
  return [
    sample('SLOT_ASSIGNED', LifecycleEvents.EssaySlotAssignedV1.topic, LifecycleEvents.EssaySlotAssignedV1.data.parse({ ...file, text_storage_id: 'text-1' })),
    sample('CONTENT_FAILED', LifecycleEvents.EssayContentFailedV1.topic, LifecycleEvents.EssayContentFailedV1.data.parse({ ...file, validation_error_code: 'EMPTY_CONTENT' })),
    ...ESSAY_TRIGGERS.map((trigger) => sample(trigger, LifecycleEvents.EssayTransitionRequestedV1.topic, triggerData(trigger, essay_id, batch_id))),
  ];
}

export function essaySubject(): ProjectSubject {
  const data = LifecycleEvents.EssaySlotCreatedV1.data.parse({ batch_id: 'batch-1', essay_id: 'essay-1', slot_index: 0 });
  const topic = LifecycleEvents.EssaySlotCreatedV1.topic;
  return {
    id: 'essay',
    machine: essayLifecycle.logic,
    lifecycle: essayLifecycle,
    seeds: [{ name: 'default', input: { data, meta: metaOf(topic, 'essay:default:create') } }],
    events: essayEvents,
    entityId: () => 'essay-1',
    create: (seed) => envelopeOf(topic, seed.input as SampleEvent),
    toAction: dispatchOf(ESSAY_TOPICS, 'essay'),
  };
}
