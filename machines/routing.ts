/**
 * Routing: which machine instances an envelope drives, and with which machine event. Pure
 * domain knowledge, so the engine stays generic. An event can drive several entities
 * (StudentAssociationsConfirmedV1 drives the batch and its tracker) or none (an outbound
 * command for an outside service).
 */
import { metaOf, type EventMeta } from './contracts/envelope.js';
import type { LifecycleEnvelope } from './contracts/events.js';

/** Ids of the machines of this library. */
export const MachineId = {
  BATCH: 'batch',
  ESSAY: 'essay',
  TRACKER: 'batch_tracker',
  ASSOCIATIONS: 'associations',
} as const;
export type MachineId = (typeof MachineId)[keyof typeof MachineId];

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

function to(machine: MachineId, entity_id: string, type: string, data: unknown, meta: EventMeta, create?: Delivery['create']): Delivery {
  return create === undefined ? { machine, entity_id, event: { type, data, meta } } : { machine, entity_id, event: { type, data, meta }, create };
}

const PHASE_COMMANDS = {
  'huleedu.els.spellcheck.initiate.command.v1': 'SPELLCHECK_INITIATE',
  'huleedu.batch.nlp.initiate.command.v2': 'NLP_INITIATE',
  'huleedu.batch.cj_assessment.initiate.command.v1': 'CJ_ASSESSMENT_INITIATE',
  'huleedu.batch.ai_feedback.initiate.command.v1': 'AI_FEEDBACK_INITIATE',
} as const;

function routeContent(envelope: LifecycleEnvelope, meta: EventMeta): Delivery[] | undefined {
  const trackerCreate = (batch_id: string) => ({ input: { batch_id }, applyEvent: true });
  switch (envelope.event_type) {
    case 'huleedu.batch.essays.registered.v1': {
      const batch_id = envelope.data.entity_id;
      return [
        to('batch', batch_id, 'BATCH_REGISTERED', envelope.data, meta, { input: { data: envelope.data, meta }, applyEvent: false }),
        to('batch_tracker', batch_id, 'REGISTERED', envelope.data, meta, trackerCreate(batch_id)),
      ];
    }
    case 'huleedu.file.essay.content.provisioned.v1':
      return [to('batch_tracker', envelope.data.entity_id, 'CONTENT_PROVISIONED', envelope.data, meta, trackerCreate(envelope.data.entity_id))];
    case 'huleedu.file.essay.validation.failed.v1':
      return [
        to('batch_tracker', envelope.data.entity_id, 'CONTENT_VALIDATION_FAILED', envelope.data, meta, trackerCreate(envelope.data.entity_id)),
      ];
    case 'huleedu.els.essay.slot.created.v1':
      return [to('essay', envelope.data.essay_id, 'SLOT_CREATED', envelope.data, meta, { input: { data: envelope.data, meta }, applyEvent: false })];
    case 'huleedu.els.essay.slot.assigned.v1':
      return [to('essay', envelope.data.essay_id, 'SLOT_ASSIGNED', envelope.data, meta)];
    case 'huleedu.els.essay.content.failed.v1':
      return [to('essay', envelope.data.essay_id, 'CONTENT_FAILED', envelope.data, meta)];
    case 'huleedu.batch.content.provisioning.completed.v1':
      return [to('batch', envelope.data.batch_id, 'CONTENT_PROVISIONING_COMPLETED', envelope.data, meta)];
    case 'huleedu.els.batch.validation.errors.v1':
      return [to('batch', envelope.data.batch_id, 'VALIDATION_ERRORS', envelope.data, meta)];
    default:
      return undefined;
  }
}

function routeAssociations(envelope: LifecycleEnvelope, meta: EventMeta): Delivery[] | undefined {
  switch (envelope.event_type) {
    case 'huleedu.batch.student.matching.initiate.command.v1':
      return [to('batch_tracker', envelope.data.entity_id, 'STUDENT_MATCHING_INITIATE', envelope.data, meta)];
    case 'huleedu.batch.author.matches.suggested.v1':
      return [
        to('associations', envelope.data.batch_id, 'MATCHES_SUGGESTED', envelope.data, meta, {
          input: { data: envelope.data, meta },
          applyEvent: false,
        }),
      ];
    case 'huleedu.class.student.associations.validated.v1':
      return [to('associations', envelope.data.batch_id, 'ASSOCIATIONS_VALIDATED', envelope.data, meta)];
    case 'huleedu.class.student.associations.confirmed.v1':
      return [
        to('batch', envelope.data.batch_id, 'ASSOCIATIONS_CONFIRMED', envelope.data, meta),
        to('batch_tracker', envelope.data.batch_id, 'ASSOCIATIONS_CONFIRMED', envelope.data, meta),
      ];
    case 'huleedu.els.batch.essays.ready.v1':
      return [to('batch', envelope.data.batch_id, 'ESSAYS_READY', envelope.data, meta)];
    default:
      return undefined;
  }
}

function routePipeline(envelope: LifecycleEnvelope, meta: EventMeta): Delivery[] | undefined {
  switch (envelope.event_type) {
    case 'huleedu.commands.batch.pipeline.v1':
      return [to('batch', envelope.data.batch_id, 'PIPELINE_REQUESTED', envelope.data, meta)];
    case 'huleedu.batch.prompt.attached.v1':
      return [to('batch', envelope.data.batch_id, 'PROMPT_ATTACHED', envelope.data, meta)];
    case 'huleedu.batch.pipeline.request.withdrawn.v1':
      return [to('batch', envelope.data.batch_id, 'PIPELINE_REQUEST_WITHDRAWN', envelope.data, meta)];
    case 'huleedu.batch.close.requested.v1':
      return [to('batch', envelope.data.batch_id, 'CLOSE_REQUESTED', envelope.data, meta)];
    case 'huleedu.batch.cancel.requested.v1':
      return [to('batch', envelope.data.batch_id, 'CANCEL_REQUESTED', envelope.data, meta)];
    case 'huleedu.els.batch.phase.outcome.v1':
      return [to('batch', envelope.data.batch_id, 'PHASE_OUTCOME', envelope.data, meta)];
    case 'huleedu.els.spellcheck.initiate.command.v1':
    case 'huleedu.batch.nlp.initiate.command.v2':
    case 'huleedu.batch.cj_assessment.initiate.command.v1':
    case 'huleedu.batch.ai_feedback.initiate.command.v1':
      return [to('batch_tracker', envelope.data.entity_id, PHASE_COMMANDS[envelope.event_type], envelope.data, meta)];
    case 'huleedu.batch.phase.cancel.command.v1':
      return [to('batch_tracker', envelope.data.batch_id, 'PHASE_CANCEL', envelope.data, meta)];
    case 'huleedu.batch.closed.v1':
      return [to('batch_tracker', envelope.data.batch_id, 'BATCH_CLOSED', envelope.data, meta)];
    default:
      return undefined;
  }
}

function routeResults(envelope: LifecycleEnvelope, meta: EventMeta): Delivery[] | undefined {
  switch (envelope.event_type) {
    case 'huleedu.batch.spellcheck.phase.completed.v1': {
      const { data } = envelope;
      const trigger = data.status === 'completed' ? 'EVT_SPELLCHECK_SUCCEEDED' : 'EVT_SPELLCHECK_FAILED';
      const essayEvent = {
        essay_id: data.entity_id,
        batch_id: data.batch_id,
        trigger,
        ...(data.corrected_text_storage_id == null ? {} : { text_storage_id: data.corrected_text_storage_id }),
        ...(data.error_code == null ? {} : { reason: data.error_code }),
      };
      return [to('essay', data.entity_id, trigger, essayEvent, meta)];
    }
    case 'huleedu.cj_assessment.completed.v1':
      return [to('batch_tracker', envelope.data.entity_id, 'CJ_ASSESSMENT_COMPLETED', envelope.data, meta)];
    case 'huleedu.cj_assessment.failed.v1':
      return [to('batch_tracker', envelope.data.entity_id, 'CJ_ASSESSMENT_FAILED', envelope.data, meta)];
    case 'huleedu.batch.nlp.analysis.completed.v1':
      return [to('batch_tracker', envelope.data.batch_id, 'NLP_ANALYSIS_COMPLETED', envelope.data, meta)];
    case 'huleedu.ai_feedback.completed.v1':
      return [to('batch_tracker', envelope.data.batch_id, 'AI_FEEDBACK_COMPLETED', envelope.data, meta)];
    case 'huleedu.els.essay.transition.requested.v1':
      return [to('essay', envelope.data.essay_id, envelope.data.trigger, envelope.data, meta)];
    case 'huleedu.els.essay.phase.result.v1':
      return [to('batch_tracker', envelope.data.batch_id, 'ESSAY_PHASE_RESULT', envelope.data, meta)];
    case 'huleedu.els.essay.critical.failure.v1':
      return [to('batch_tracker', envelope.data.batch_id, 'ESSAY_CRITICAL_FAILURE', envelope.data, meta)];
    default:
      return undefined;
  }
}

/**
 * The entities a parsed envelope drives, in delivery order. An empty list means the event
 * is for outside services only (it is recorded, not applied).
 */
export function route(envelope: LifecycleEnvelope): Delivery[] {
  const meta = metaOf(envelope);
  return (
    routeContent(envelope, meta) ??
    routeAssociations(envelope, meta) ??
    routePipeline(envelope, meta) ??
    routeResults(envelope, meta) ??
    []
  );
}

/** The batch a routed event belongs to (the outbox's ordering key). */
export function batchIdOf(envelope: LifecycleEnvelope): string {
  const data = envelope.data as Record<string, unknown>;
  for (const key of ['batch_id', 'parent_id', 'entity_id'] as const) {
    const value = data[key];
    if (typeof value === 'string' && value.length > 0 && !(key === 'entity_id' && 'batch_id' in data)) return value;
  }
  return envelope.correlation_id;
}
