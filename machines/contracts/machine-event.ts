/** The shape of every event a machine receives: a type, the parsed payload and the meta. */
import type { EventMeta } from './envelope.js';

/** One machine event: `data` is the zod-parsed payload of the envelope that caused it. */
export interface MachineEvent<Type extends string, Data> {
  readonly type: Type;
  readonly data: Data;
  readonly meta: EventMeta;
}

/** Builds the union of machine events from a table `{ TYPE: PayloadType }`. */
export type MachineEventsOf<Table extends Record<string, unknown>> = {
  [K in keyof Table & string]: MachineEvent<K, Table[K]>;
}[keyof Table & string];
