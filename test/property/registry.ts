/**
 * The ONE place the property tests read the event registry (machines/contracts/events.ts). When
 * the registry becomes "event declarations" with sender classes, only this function changes.
 */
import { TOPICS } from '../../machines/contracts/events.js';

/** Every event type the engine knows, sorted. */
export function registeredTopics(): readonly string[] {
  return TOPICS;
}
