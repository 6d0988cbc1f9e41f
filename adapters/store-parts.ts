/**
 * Context parts in a store (see machines/context-parts.ts): a snapshot is kept as one main row,
 * in which each run of parts (a parted collection's `parts` array) is `{ "$parts": prefix,
 * "count": n }` and any other part a stub `{ "part_id": id }`, plus one row per part holding its
 * items. Rows written before part runs (stubs only) read the same.
 * Readers always get the whole snapshot back (`joinParts`), so nothing above the store sees the
 * split. `part_id` is reserved inside machine contexts for this.
 */
import { isContextPart, partRunOf } from '../machines/context-parts.js';
import { LifecycleError } from './errors.js';
import { isRecord } from './store-support.js';
import type { EntityRecord, Json } from './store.js';

/** One part of a snapshot: its id and items (the very object of the snapshot, not a copy). */
export interface SnapshotPart {
  readonly part_id: string;
  readonly items: unknown;
}

/** A snapshot split into its main JSON (parts replaced by stubs) and its parts, in document order. */
export interface SplitSnapshot {
  readonly main: Json;
  /** The parts, in document order (empty when the split was asked not to collect them). */
  readonly parts: SnapshotPart[];
  /** How many parts the snapshot has. */
  readonly partCount: number;
}

/**
 * How the main row keeps a run of parts (the `parts` array of a parted list or map, ids
 * `<prefix>/0` .. `<prefix>/<count - 1>`): one small object instead of one stub per part, so the
 * main row's size does not grow with the collection. `$parts` is reserved inside contexts.
 */
interface StoredPartRun {
  readonly $parts: string;
  readonly count: number;
}

function isPartRun(value: Record<string, unknown>): value is Record<string, unknown> & StoredPartRun {
  return typeof value.$parts === 'string' && Number.isInteger(value.count) && (value.count as number) >= 0 && Object.keys(value).length === 2;
}

interface SplitState {
  readonly collect: boolean;
  readonly parts: SnapshotPart[];
  count: number;
}

/** `value` with its parts replaced by stubs; the very same object when its subtree holds none (no copy). */
function split(value: unknown, state: SplitState): unknown {
  if (Array.isArray(value)) {
    const run = partRunOf(value);
    if (run === undefined) return splitItems(value, state);
    state.count += value.length;
    if (state.collect) for (const part of value as Array<{ part_id: string; items: unknown }>) state.parts.push({ part_id: part.part_id, items: part.items });
    return { $parts: run.prefix, count: run.count } satisfies StoredPartRun;
  }
  if (typeof value !== 'object' || value === null) return value;
  if (isContextPart(value)) {
    state.count += 1;
    if (state.collect) state.parts.push({ part_id: value.part_id, items: value.items });
    return { part_id: value.part_id };
  }
  return splitFields(value as Record<string, unknown>, state);
}

function splitItems(array: readonly unknown[], state: SplitState): readonly unknown[] {
  let out: unknown[] | undefined;
  for (let k = 0; k < array.length; k += 1) {
    const item: unknown = array[k];
    const stored = split(item, state);
    if (stored !== item && out === undefined) out = array.slice(0, k);
    out?.push(stored);
  }
  return out ?? array;
}

function splitFields(record: Record<string, unknown>, state: SplitState): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  const keys = Object.keys(record);
  for (let k = 0; k < keys.length; k += 1) {
    const key = keys[k] as string;
    const item = record[key];
    const stored = split(item, state);
    if (stored !== item && out === undefined) {
      out = {};
      for (let j = 0; j < k; j += 1) defineField(out, keys[j] as string, record[keys[j] as string]);
    }
    if (out !== undefined) defineField(out, key, stored);
  }
  return out ?? record;
}

/** Sets an own enumerable field (`__proto__` too, which an assignment would treat as the prototype). */
function defineField(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

/**
 * Splits a snapshot for storage: the main row's size depends on the number of collections, not
 * on their parts. A snapshot without parts comes back structurally equal, with none. With
 * `collect: false` the parts are only counted (a writer that knows which parts changed).
 */
export function splitParts(snapshot: Json, options: { readonly collect?: boolean } = {}): SplitSnapshot {
  const state: SplitState = { collect: options.collect ?? true, parts: [], count: 0 };
  const main = split(snapshot, state) as Json;
  return { main, parts: state.parts, partCount: state.count };
}

function isStub(value: Record<string, unknown>): value is { part_id: string } {
  return typeof value.part_id === 'string' && !('items' in value);
}

function joinedPart(partId: string, items: ReadonlyMap<string, Json>, missing: string[]): { part_id: string; items: Json } {
  const found = items.get(partId);
  if (found === undefined) missing.push(partId);
  return { part_id: partId, items: found ?? null };
}

function join(value: unknown, items: ReadonlyMap<string, Json>, missing: string[]): unknown {
  if (Array.isArray(value)) return value.map((item: unknown) => join(item, items, missing));
  if (!isRecord(value)) return value;
  if (isStub(value)) return joinedPart(value.part_id, items, missing);
  if (isPartRun(value)) return Array.from({ length: value.count }, (_, k) => joinedPart(`${value.$parts}/${k}`, items, missing));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) defineField(out, key, join(item, items, missing));
  return out;
}

/**
 * The whole snapshot of a main row and its part rows. A stub without its row is SNAPSHOT_CORRUPT
 * naming the entity and the part.
 */
export function joinParts(main: Json, items: ReadonlyMap<string, Json>, where: { machine: string; entity_id: string }): Json {
  const missing: string[] = [];
  const whole = join(main, items, missing) as Json;
  if (missing.length > 0) {
    throw new LifecycleError('SNAPSHOT_CORRUPT', `stored snapshot of ${where.machine} '${where.entity_id}' lacks its part(s) ${missing.slice(0, 5).join(', ')}`, {
      details: { ...where, missing_parts: missing.slice(0, 20) },
    });
  }
  return whole;
}

/** Every part object under `value` by part id (identity kept: the engine compares them with ===). */
export function collectParts(value: unknown, into: Map<string, object> = new Map()): Map<string, object> {
  if (Array.isArray(value)) {
    for (const item of value) collectParts(item, into);
  } else if (typeof value === 'object' && value !== null) {
    if (isContextPart(value)) into.set(value.part_id, value);
    else for (const item of Object.values(value)) collectParts(item, into);
  }
  return into;
}

/**
 * A record read from a main row without part rows: marked `parts_inline` when its snapshot still
 * holds parts (written before the store split them), so the engine's next write rewrites them all.
 * `text` is the row's snapshot JSON (a cheap test before the walk).
 */
export function markInlineParts(record: EntityRecord, text: string): EntityRecord {
  return text.includes('"part_id"') && collectParts(record.snapshot).size > 0 ? { ...record, parts_inline: true } : record;
}
