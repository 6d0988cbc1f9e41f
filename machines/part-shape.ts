/** The shape of one stored piece of a parted collection (context-parts.ts), shared by the collections and what is known of them (part-lineage.ts). */

/** One stored piece of a collection. `part_id` is unique within its entity. */
export interface ContextPart<T> {
  readonly part_id: string;
  readonly items: T;
}

/** True when `value` has the shape of a context part (used by the engine and the stores). */
export function isContextPart(value: unknown): value is ContextPart<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { part_id?: unknown }).part_id === 'string' && 'items' in value;
}
