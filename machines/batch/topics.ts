/** The wire topic of each event the batch machine takes, derived from the event declarations. */
import { machineEventTopics } from '../contracts/event-tables.js';

/** Batch machine event type -> the `event_type` (topic) of the envelope routing turns into it. */
export const BATCH_EVENT_TOPICS = machineEventTopics('batch');
