/** Deterministic event ids: the same cause always derives the same ids, so replays are idempotent. */
import { createHash } from 'node:crypto';

/** Namespace of every id this engine derives (a fixed random UUID). */
const NAMESPACE = Buffer.from('8d3c4a52f1a94c0e9b6e2f5d7a1c3e90', 'hex');

/**
 * A UUID version 5 (SHA-1, RFC 9562) of `name` in the engine's namespace. Same name, same id;
 * different names collide only with SHA-1 probability.
 */
export function deterministicUuid(name: string): string {
  const hash = createHash('sha1').update(NAMESPACE).update(name, 'utf8').digest();
  hash[6] = ((hash[6] ?? 0) & 0x0f) | 0x50;
  hash[8] = ((hash[8] ?? 0) & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** Id of the n-th message emitted by one entity while taking one event. */
export function emittedEventId(causeEventId: string, machine: string, entityId: string, index: number): string {
  return deterministicUuid(`emit:${causeEventId}:${machine}:${entityId}:${index}`);
}

/** Id of the event a timer delivers when it fires (one per arming). */
export function timerEventId(timerId: string, dueAt: string): string {
  return deterministicUuid(`timer:${timerId}:${dueAt}`);
}

/** Id of the durable timer of a delayed event (`sendId`) of one entity; re-arming the same event replaces it. */
export function timerIdOf(machine: string, entityId: string, sendId: string): string {
  return `${machine}:${entityId}:${sendId}`;
}
