/**
 * Which context parts (machines/context-parts.ts) a commit must write: the stored and the new
 * context are walked side by side and every subtree that is the very same object in both is
 * skipped (contexts are immutable, so an untouched collection keeps its identity through every
 * transition), and of a parts array derived from the stored one only the indexes the updates
 * touched are looked at (machines/part-lineage.ts). The cost therefore follows what the event
 * changed, not the size of the batch.
 */
import { changedIndexes, isContextPart } from '../../machines/context-parts.js';
import type { EntityWrite } from '../store.js';

type PartsHint = NonNullable<EntityWrite['parts']>;
type Part = PartsHint['changed'][number];

interface Diff {
  readonly changed: Part[];
  readonly dropped: string[];
}

/** Every part under `value` (a subtree the new context no longer has), as dropped. */
function dropAll(value: unknown, diff: Diff): void {
  if (Array.isArray(value)) {
    for (const item of value) dropAll(item, diff);
  } else if (typeof value === 'object' && value !== null) {
    if (isContextPart(value)) diff.dropped.push(value.part_id);
    else for (const item of Object.values(value)) dropAll(item, diff);
  }
}

function diffArrays(before: readonly unknown[], after: readonly unknown[], diff: Diff): void {
  // A parts array derived from the stored one by the collections' updates: only the indexes they touched can differ.
  const touched = after.length >= before.length ? changedIndexes(before, after) : undefined;
  if (touched !== undefined) {
    for (const k of new Set(touched)) walk(before[k], after[k], diff);
    return;
  }
  for (let k = 0; k < after.length; k += 1) walk(before[k], after[k], diff);
  for (let k = after.length; k < before.length; k += 1) dropAll(before[k], diff);
}

function diffObjects(before: Readonly<Record<string, unknown>>, after: Readonly<Record<string, unknown>>, diff: Diff): void {
  for (const key of Object.keys(after)) walk(Object.hasOwn(before, key) ? before[key] : undefined, after[key], diff);
  for (const key of Object.keys(before)) if (!Object.hasOwn(after, key)) dropAll(before[key], diff);
}

function walk(before: unknown, after: unknown, diff: Diff): void {
  if (before === after) return;
  if (isContextPart(after)) {
    diff.changed.push({ part_id: after.part_id, items: after.items });
    if (isContextPart(before)) {
      if (before.part_id !== after.part_id) diff.dropped.push(before.part_id);
    } else {
      dropAll(before, diff);
    }
    return;
  }
  if (Array.isArray(after)) {
    if (Array.isArray(before)) diffArrays(before, after, diff);
    else {
      dropAll(before, diff);
      diffArrays([], after, diff);
    }
    return;
  }
  if (typeof after === 'object' && after !== null) {
    const previous = typeof before === 'object' && before !== null && !Array.isArray(before) && !isContextPart(before) ? (before as Record<string, unknown>) : {};
    if (previous !== before) dropAll(before, diff);
    diffObjects(previous, after as Record<string, unknown>, diff);
    return;
  }
  dropAll(before, diff);
}

/**
 * The parts hint of an entity write, from the stored and the new context: the parts that are new
 * or another object than before (to write), and the ids the new context no longer has (to delete;
 * an id that moved and is written again is not deleted).
 */
export function partChanges(storedContext: unknown, nextContext: unknown): PartsHint {
  const diff: Diff = { changed: [], dropped: [] };
  walk(storedContext, nextContext, diff);
  if (diff.dropped.length === 0) return { changed: diff.changed, removed: [] };
  const written = new Set(diff.changed.map((part) => part.part_id));
  return { changed: diff.changed, removed: diff.dropped.filter((id) => !written.has(id)) };
}
