/**
 * Small helpers shared by tests that drive machines with xstate's pure functions
 * (`initialTransition`, `transition`).
 */
import type { ExecutableActionObject } from 'xstate';
import type { EventMeta } from '../../machines/contracts/envelope.js';

/** The `params.event` of every `xstate.emit` action in `actions`, in order. */
export function emitted<E = unknown>(actions: readonly ExecutableActionObject[]): E[] {
  return actions
    .filter((action) => action.type === 'xstate.emit')
    .map((action) => (action.params as { event: E }).event);
}

/** An EventMeta with fixed, valid defaults (uuids, ISO timestamp); override any field. */
export function meta(overrides: Partial<EventMeta> = {}): EventMeta {
  return {
    event_id: '00000000-0000-4000-8000-000000000001',
    event_type: 'test.event.v1',
    correlation_id: '11111111-1111-4111-8111-111111111111',
    timestamp: '2026-01-01T00:00:00.000Z',
    source_service: 'test',
    ...overrides,
  };
}

/** The snapshot after a JSON round trip of what `getPersistedSnapshot` returns. */
export function jsonRoundTrip<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
