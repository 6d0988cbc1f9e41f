/**
 * Context parts in a store (see machines/context-parts.ts): a snapshot is kept as one main row,
 * in which each part is a stub `{ "part_id": id }`, plus one row per part holding its items.
 * Readers always get the whole snapshot back (`joinParts`), so nothing above the store sees the
 * split. `part_id` is reserved inside machine contexts for this.
 */
import { isContextPart } from '../machines/context-parts.js';
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
  readonly parts: SnapshotPart[];
}

function split(value: unknown, parts: SnapshotPart[]): unknown {
  if (Array.isArray(value)) return value.map((item: unknown) => split(item, parts));
  if (typeof value !== 'object' || value === null) return value;
  if (isContextPart(value)) {
    parts.push({ part_id: value.part_id, items: value.items });
    return { part_id: value.part_id };
  }
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = split(item, parts);
  return out;
}

/** Splits a snapshot for storage. A snapshot without parts comes back structurally equal, with none. */
export function splitParts(snapshot: Json): SplitSnapshot {
  const parts: SnapshotPart[] = [];
  const main = split(snapshot, parts) as Json;
  return { main, parts };
}

function isStub(value: Record<string, unknown>): value is { part_id: string } {
  return typeof value.part_id === 'string' && !('items' in value);
}

function join(value: unknown, items: ReadonlyMap<string, Json>, missing: string[]): unknown {
  if (Array.isArray(value)) return value.map((item: unknown) => join(item, items, missing));
  if (!isRecord(value)) return value;
  if (isStub(value)) {
    const found = items.get(value.part_id);
    if (found === undefined) missing.push(value.part_id);
    return { part_id: value.part_id, items: found ?? null };
  }
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = join(item, items, missing);
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
