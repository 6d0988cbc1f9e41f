/** The wire topic of each event the batch machine takes (what routing.ts maps onto it). */
import { LifecycleEvents } from '../contracts/events.js';
import type { BATCH_EVENT_TYPES } from './machine.js';

/** Batch machine event type -> the `event_type` (topic) of the envelope routing turns into it. */
export const BATCH_EVENT_TOPICS = {
  BATCH_REGISTERED: LifecycleEvents.BatchEssaysRegistered.topic,
  CONTENT_PROVISIONING_COMPLETED: LifecycleEvents.BatchContentProvisioningCompletedV1.topic,
  ASSOCIATIONS_CONFIRMED: LifecycleEvents.StudentAssociationsConfirmedV1.topic,
  ESSAYS_READY: LifecycleEvents.BatchEssaysReady.topic,
  VALIDATION_ERRORS: LifecycleEvents.BatchValidationErrorsV1.topic,
  PIPELINE_REQUESTED: LifecycleEvents.ClientBatchPipelineRequestV1.topic,
  PROMPT_ATTACHED: LifecycleEvents.BatchPromptAttachedV1.topic,
  PIPELINE_REQUEST_WITHDRAWN: LifecycleEvents.BatchPipelineRequestWithdrawnV1.topic,
  PHASE_OUTCOME: LifecycleEvents.ELSBatchPhaseOutcomeV1.topic,
  CLOSE_REQUESTED: LifecycleEvents.BatchCloseRequestedV1.topic,
  CANCEL_REQUESTED: LifecycleEvents.BatchCancelRequestedV1.topic,
} as const satisfies Record<(typeof BATCH_EVENT_TYPES)[number], string>;
