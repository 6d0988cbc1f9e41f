/**
 * Sample events for path generation on the library's four machines, and how each machine
 * event is produced through the engine. This module is the entry point; the samples live in
 * ./samples/ (one file per machine, common.ts for what they share; see samples/index.ts).
 */
export {
  envelopeOf,
  projectSubjects,
  SAMPLE_BATCH_OPTIONS,
  SAMPLE_CORRELATION_ID,
  SAMPLE_SOURCE,
  SAMPLE_TIMEOUT_AT,
  SAMPLE_TIMESTAMP,
  USER_WITHOUT_CREDITS,
  type EngineAction,
  type ProjectSubject,
} from './samples/index.js';
