/**
 * Sample events for path generation on the library's four machines, and how each machine
 * event is produced through the engine (the inverse of machines/routing.ts).
 *
 * Every payload is parsed by its zod schema (`LifecycleEvents.<Name>.data.parse`), so the
 * machine sees exactly what the engine would hand it. Sample events depend on the snapshot
 * (a phase outcome names the run in flight), and their event ids derive from the vertex key
 * and the event, so the events of one path never share an id (the engine's idempotency
 * would answer `duplicate` otherwise).
 */
import { associationsSubject } from './associations.js';
import { batchSubject } from './batch.js';
import { trackerSubject } from './batch-tracker.js';
import type { ProjectSubject } from './common.js';
import { essaySubject } from './essay.js';

export { SAMPLE_TIMEOUT_AT } from './associations.js';
export { SAMPLE_BATCH_OPTIONS, USER_WITHOUT_CREDITS } from './batch.js';
export { envelopeOf, SAMPLE_CORRELATION_ID, SAMPLE_SOURCE, SAMPLE_TIMESTAMP, type EngineAction, type ProjectSubject } from './common.js';

/**
 * The library's four machines as path subjects, in registry order: batch (GUEST and
 * REGULAR seeds, sample admission policy), essay, batch_tracker, associations.
 */
export function projectSubjects(): ProjectSubject[] {
  return [batchSubject(), essaySubject(), trackerSubject(), associationsSubject()];
}
