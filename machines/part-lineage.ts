/**
 * What is known of how a parts array (a parted collection's `parts`, see context-parts.ts) was
 * made, so that the engine and the stores cost what an event changed, not the size of the batch:
 *
 * - its run: whether its ids are `<prefix>/0` .. `<prefix>/<count - 1>` (the stores keep a run in
 *   the main row as one descriptor and check it on every write of a changed collection);
 * - its lineage: which earlier parts array it was derived from and at which index, so the engine's
 *   diff of a stored and a new context (adapters/engine/parts.ts) looks at the changed indexes only.
 *
 * Each update below hands both on to the array it derives: O(1) per update instead of O(parts) per
 * write and per diff (at 10,000 essays a collection has 313 parts; checking a run cost about 14 µs).
 * An array nobody derived here (read back from JSON) is checked once, by looking at it.
 *
 * A lineage refers to the record of its parent, never to the parent array, so no old array or part
 * is kept alive; chains are cut after MAX_DEPTH updates (a diff across more looks at every index).
 * WeakMaps: nothing is kept alive by what is known.
 */
import { isContextPart } from './part-shape.js';

/** A parts array whose ids are `<prefix>/0` .. `<prefix>/<count - 1>` in order (every list and map here). */
export interface PartRun {
  readonly prefix: string;
  readonly count: number;
}

interface Lineage {
  /** The record of the array this one was derived from, or null (not derived here, or the chain was cut). */
  readonly parent: Lineage | null;
  /** The index the update replaced or appended (-1 without a parent). */
  readonly index: number;
  readonly depth: number;
  /** The run, null when the array is not one, undefined until known. */
  run: PartRun | null | undefined;
}

/** Updates a diff follows back before it looks at every index instead. */
const MAX_DEPTH = 64;

const lineages = new WeakMap<readonly unknown[], Lineage>();

function lineageOf(array: readonly unknown[]): Lineage {
  let lineage = lineages.get(array);
  if (lineage === undefined) {
    lineage = { parent: null, index: -1, depth: 0, run: undefined };
    lineages.set(array, lineage);
  }
  return lineage;
}

function scanRun(array: readonly unknown[]): PartRun | null {
  const first: unknown = array[0];
  if (!isContextPart(first) || !first.part_id.endsWith('/0')) return null;
  const prefix = first.part_id.slice(0, -2);
  for (let k = 1; k < array.length; k += 1) {
    const item: unknown = array[k];
    if (!isContextPart(item) || item.part_id !== `${prefix}/${k}`) return null;
  }
  return { prefix, count: array.length };
}

/** The run of a parts array, or undefined when its ids are not one (looked at once per array object). */
export function partRunOf(array: readonly unknown[]): PartRun | undefined {
  const lineage = lineageOf(array);
  lineage.run ??= scanRun(array);
  return lineage.run ?? undefined;
}

/** The run of `next`, made from `from` (whose run is `run`) by replacing or appending the part at `index`. */
function runAfter(run: PartRun | null | undefined, from: readonly unknown[], next: readonly unknown[], index: number): PartRun | null | undefined {
  if (run === undefined || index < from.length) return run;
  const appended: unknown = next[index];
  if (run === null || index !== run.count || next.length !== run.count + 1) return undefined;
  return isContextPart(appended) && appended.part_id === `${run.prefix}/${index}` ? { prefix: run.prefix, count: run.count + 1 } : null;
}

/**
 * Records that `next` is `from` with the part at `index` replaced (index < from.length) or
 * appended (index === from.length), every other element the very same; returns `next`.
 */
export function derivedParts<T extends readonly unknown[]>(from: readonly unknown[], next: T, index: number): T {
  const parent = lineageOf(from);
  const cut = parent.depth >= MAX_DEPTH;
  lineages.set(next, { parent: cut ? null : parent, index: cut ? -1 : index, depth: cut ? 0 : parent.depth + 1, run: runAfter(parent.run, from, next, index) });
  return next;
}

/**
 * The indexes at which `after` may hold other elements than `before`, when `after` was derived
 * from `before` by the updates above (at most MAX_DEPTH of them); undefined when that is not known,
 * and the caller must look at every index.
 */
export function changedIndexes(before: readonly unknown[], after: readonly unknown[]): number[] | undefined {
  const target = lineages.get(before);
  if (target === undefined) return undefined;
  const indexes: number[] = [];
  for (let lineage = lineages.get(after); lineage !== undefined && lineage !== null; lineage = lineage.parent) {
    if (lineage === target) return indexes;
    if (lineage.parent === null) return undefined;
    indexes.push(lineage.index);
  }
  return undefined;
}
