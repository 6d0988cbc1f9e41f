/**
 * What the machines take, derived from the event declarations: for each machine, its event
 * types with their payloads (types) and the topic that carries each (values). Nothing here is
 * written by hand; a new declaration target adds its machine event type everywhere.
 */
import type { z } from 'zod';
import type { MachineId, SenderClass } from './declaration.js';
import { LifecycleEvents, type EventName } from './events.js';
import type { MachineEventsOf } from './machine-event.js';

type Declaration = (typeof LifecycleEvents)[EventName];

/** One (machine, event type, payload) a target declares. */
interface TableEntry<M, T, E> {
  readonly machine: M;
  readonly type: T;
  readonly data: E;
}

type EntryOfTarget<Target, Out> = Target extends { readonly create: 'from_event_only' }
  ? never
  : Target extends { readonly machine: infer M; readonly types: readonly (infer T)[] }
  ? TableEntry<M, T, Target extends { readonly event: (data: never) => { readonly data: infer E } } ? E : Out>
  : never;

type EntriesOf<D> = D extends { readonly data: infer S extends z.ZodType; readonly targets: readonly (infer Target)[] }
  ? EntryOfTarget<Target, z.output<S>>
  : never;

type AllEntries = EntriesOf<Declaration>;

/** Machine event type -> payload, for one machine: derived from every declaration that targets it. */
export type MachineEventTable<M extends MachineId> = {
  [E in Extract<AllEntries, { readonly machine: M }> as E['type'] & string]: E['data'];
};

/** A machine event type of machine `M`. */
export type MachineEventType<M extends MachineId> = keyof MachineEventTable<M> & string;

/** The payload of machine event `T` of machine `M`. */
export type MachineEventData<M extends MachineId, T extends string> = MachineEventTable<M> extends infer Table ? (T extends keyof Table ? Table[T] : never) : never;

/** Every machine event of machine `M`: `{ type, data, meta }`. */
export type MachineEventOf<M extends MachineId> = MachineEventsOf<MachineEventTable<M>>;

interface TargetView {
  readonly machine: string;
  readonly types: readonly string[];
  readonly create?: string;
}

function targetsOf(declaration: Declaration): readonly TargetView[] {
  return declaration.targets;
}

/** The event types machine `M` takes, in declaration order (each once). */
export function machineEventTypes<M extends MachineId>(machine: M): ReadonlyArray<MachineEventType<M>> {
  const types = new Set<string>();
  for (const declaration of Object.values(LifecycleEvents)) {
    for (const target of targetsOf(declaration)) {
      if (target.machine === machine && target.create !== 'from_event_only') for (const type of target.types) types.add(type);
    }
  }
  return [...types] as Array<MachineEventType<M>>;
}

/** Machine event type -> the topic of the first declaration that carries it to machine `M`. */
export function machineEventTopics<M extends MachineId>(machine: M): Readonly<Record<MachineEventType<M>, string>> {
  const topics: Record<string, string> = {};
  for (const declaration of Object.values(LifecycleEvents)) {
    for (const target of targetsOf(declaration)) {
      if (target.machine !== machine || target.create === 'from_event_only') continue;
      for (const type of target.types) topics[type] ??= declaration.topic;
    }
  }
  return topics as Record<MachineEventType<M>, string>;
}

/** Every topic of one sender class, sorted. */
export function topicsOfSender(sender: SenderClass): string[] {
  return Object.values(LifecycleEvents)
    .filter((declaration) => declaration.sender === sender)
    .map((declaration) => declaration.topic)
    .sort();
}
