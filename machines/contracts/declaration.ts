/**
 * What an event declaration says beyond its schema: who may send it, which batch it is for, and
 * which machine instances it drives. `defineEvent` (envelope.ts) takes these next to the topic
 * and the schema, so one declaration per event type is the single source of truth; routing, the
 * machines' event unions, HTTP authorization, the samples, OpenAPI and docs/events.md are
 * derived from it.
 */

/** Ids of the machines of this library. */
export const MachineId = {
  BATCH: 'batch',
  ESSAY: 'essay',
  TRACKER: 'batch_tracker',
  ASSOCIATIONS: 'associations',
} as const;
export type MachineId = (typeof MachineId)[keyof typeof MachineId];

/**
 * Who may send an event.
 * - `client_command`: a user, for their own batch (or a service relaying a user's command);
 * - `service_result`: a downstream service answering a command (service principals only);
 * - `internal`: emitted by the engine's machines for its own machines; never accepted from outside,
 *   on any input (HTTP, a queue, a host's call);
 * - `outbound`: emitted by the engine's machines for services outside it (commands, notices); it
 *   drives no machine of the engine (its declaration has no targets). Nobody sends it to the engine:
 *   HTTP refuses it; a copy read back from a queue that captures every topic is recorded, and
 *   changes nothing.
 */
export const SenderClass = {
  CLIENT_COMMAND: 'client_command',
  SERVICE_RESULT: 'service_result',
  INTERNAL: 'internal',
  OUTBOUND: 'outbound',
} as const;
export type SenderClass = (typeof SenderClass)[keyof typeof SenderClass];

/** Sender classes the engine takes from outside (the others are emitted by the engine itself). */
export const OUTSIDE_SENDER_CLASSES: ReadonlySet<SenderClass> = new Set([SenderClass.CLIENT_COMMAND, SenderClass.SERVICE_RESULT]);

/** True when an event of this class may come from outside the engine (HTTP, a queue, a host's call). */
export function acceptedFromOutside(sender: SenderClass): boolean {
  return OUTSIDE_SENDER_CLASSES.has(sender);
}

/** The fields of `Data` that hold a string: where an entity id or a batch id is read. */
export type IdField<Data> = { [K in keyof Data & string]-?: Data[K] extends string ? K : never }[keyof Data & string];

/**
 * How a delivery may create a missing entity:
 * - `from_event`: the machine's input is `{ data, meta }` of the event, which is not applied again
 *   (an existing entity takes the event type like any other, e.g. a duplicate registration);
 * - `from_event_only`: the same, but the event type is not one the machine takes: it only creates
 *   (an existing entity refuses it), so it is not part of the machine's event union;
 * - `then_apply`: the machine starts from `{ batch_id: <entity id> }` and then takes the event.
 * Without `create`, an event for a missing entity is refused with ENTITY_NOT_FOUND.
 */
export type CreateMode = 'from_event' | 'from_event_only' | 'then_apply';

/** One machine instance an event drives. */
export interface EventTarget<Data, M extends MachineId = MachineId, T extends string = string, E = unknown> {
  /** The machine that takes the event. */
  readonly machine: M;
  /** The machine event type(s) the delivery may carry (the first one unless `event` picks). */
  readonly types: readonly [T, ...T[]];
  /** The payload field holding the id of the entity (instance) that takes it. */
  readonly entity: IdField<Data>;
  /** The machine event, when it is not `{ type: types[0], data }`. */
  readonly event?: (data: Data) => { readonly type: T; readonly data: E };
  readonly create?: CreateMode;
}

/**
 * The part of a declaration `defineEvent` takes after the schema. An `outbound` event drives no
 * machine of the engine: declaring targets for it does not compile.
 */
export type EventBinding<Data, Targets extends readonly EventTarget<Data, MachineId, string, unknown>[]> =
  | (BindingFields<Data, Targets> & { readonly sender: Exclude<SenderClass, 'outbound'> })
  | (BindingFields<Data, readonly []> & { readonly sender: 'outbound' });

/** What every binding says besides its sender class. */
interface BindingFields<Data, Targets extends readonly EventTarget<Data, MachineId, string, unknown>[]> {
  /**
   * The payload field naming the batch the event is for. Membership: every entity the event
   * (and everything it causes) reaches must belong to this batch; the engine refuses it otherwise.
   */
  readonly batch: IdField<Data>;
  /** The machine instances it drives, in delivery order; empty or absent: outside services only. */
  readonly targets?: Targets;
  /**
   * Services outside the engine consume it too, besides `targets` (default false). The engine
   * stores a message it applies to its own machines once, in the audit log; one with this flag is
   * also written to the outbox, for those services.
   */
  readonly alsoOutside?: true;
}
