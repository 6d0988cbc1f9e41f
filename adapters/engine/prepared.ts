/**
 * A prepared event: an envelope the engine has parsed, checked for its sender class and routed,
 * frozen (deeply) and registered here. Only `LifecycleEngine.prepare` makes one, so a transport
 * can authorize what the engine will apply (its batch, its sender class, its deliveries) and
 * hand it over without a second parse or route; nobody can forge one or change it afterwards.
 */
import type { SenderClass } from '../../machines/contracts/declaration.js';
import type { LifecycleEnvelope } from '../../machines/contracts/events.js';
import type { Delivery } from '../../machines/routing.js';

/** An envelope parsed, sender-checked and routed by an engine; deeply frozen. */
export interface PreparedEvent {
  /** The parsed envelope (defaults applied). */
  readonly envelope: LifecycleEnvelope;
  /** Who may send it (its declaration's sender class). */
  readonly sender: SenderClass;
  /** The batch it is for: every entity it reaches must belong to it. */
  readonly batch_id: string;
  /** The entities it drives, as the preparing engine's routing decided. */
  readonly deliveries: readonly Delivery[];
}

/** Prepared event -> the routing that prepared it (an engine's `route`). */
const issued = new WeakMap<object, object>();

function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  for (const key of Reflect.ownKeys(value)) deepFreeze((value as Record<PropertyKey, unknown>)[key]);
  return Object.freeze(value);
}

/** Freezes `event` and registers it as prepared by `router`. */
export function issuePrepared(event: PreparedEvent, router: object): PreparedEvent {
  const frozen = deepFreeze({ ...event, deliveries: [...event.deliveries] });
  issued.set(frozen, router);
  return frozen;
}

/** True when `value` was made by an engine's `prepare` (by any engine). */
export function isPreparedEvent(value: unknown): value is PreparedEvent {
  return typeof value === 'object' && value !== null && issued.has(value);
}

/** True when `value` was prepared with this very routing (its deliveries can be used as they are). */
export function preparedWith(value: PreparedEvent, router: object): boolean {
  return issued.get(value) === router;
}
