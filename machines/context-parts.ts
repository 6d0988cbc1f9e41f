/**
 * Context parts: how a machine keeps a collection that grows with the batch (one fact per essay)
 * without making every event rewrite all of it.
 *
 * A collection is split into parts of PART_SIZE facts each, every part a plain JSON object
 * `{ part_id, items }` with an id unique within the entity. An update copies one part and the
 * list of parts (N / PART_SIZE references, no facts), never the whole collection; the parts it did not touch
 * stay the very same objects. The engine persists each part as its own row keyed by
 * (machine, entity id, part id) and writes only the parts whose object changed since the
 * entity was stored (adapters/engine/parts.ts), so an essay event writes a few kilobytes
 * whatever the batch size. Stores give every reader the whole snapshot back, parts inlined.
 *
 * Everything here is pure and returns new values; ids are arbitrary strings, so records are
 * read with own-property lookups only.
 */

import { derivedParts } from './part-lineage.js';
import type { ContextPart } from './part-shape.js';
import { recordOf, recordWith, recordWithout } from './records.js';

export { changedIndexes, partRunOf, type PartRun } from './part-lineage.js';
export { isContextPart, type ContextPart } from './part-shape.js';

/** An ordered list kept in parts of `part_size` items (the last one may be shorter). */
export interface PartedList<V> {
  readonly part_size: number;
  readonly length: number;
  readonly parts: ReadonlyArray<ContextPart<readonly V[]>>;
}

/** A string-keyed map kept in a fixed number of hashed parts. */
export interface PartedMap<V> {
  readonly size: number;
  readonly parts: ReadonlyArray<ContextPart<Readonly<Record<string, V>>>>;
}

/**
 * Items per part: a constant, so that an update copies and writes a part of at most this many
 * facts whatever the batch size (the stores keep a run of parts in the main row as one small
 * descriptor, so more parts do not make the main row bigger). Collections stored before keep the
 * part size they were made with.
 */
export const PART_SIZE = 32;

// ---------------------------------------------------------------------------------------------
// Lists

/** A list of `items` under `prefix` (part ids `${prefix}/0`, `${prefix}/1`, ...). */
export function partedList<V>(prefix: string, items: readonly V[], partSize: number = PART_SIZE): PartedList<V> {
  const parts: Array<ContextPart<readonly V[]>> = [];
  for (let start = 0; start < items.length; start += partSize) {
    parts.push({ part_id: `${prefix}/${parts.length}`, items: items.slice(start, start + partSize) });
  }
  return { part_size: partSize, length: items.length, parts };
}

/** The item at `index`, or undefined outside the list. */
export function listAt<V>(list: PartedList<V>, index: number): V | undefined {
  if (!Number.isInteger(index) || index < 0 || index >= list.length) return undefined;
  return list.parts[Math.floor(index / list.part_size)]?.items[index % list.part_size];
}

/** The list with the item at `index` (precondition: inside the list) replaced. */
export function listSet<V>(list: PartedList<V>, index: number, value: V): PartedList<V> {
  const k = Math.floor(index / list.part_size);
  const part = list.parts[k];
  if (part === undefined || index < 0 || index >= list.length) throw new RangeError(`list index ${index} is outside 0..${list.length - 1}`);
  return { ...list, parts: derivedParts(list.parts, list.parts.with(k, { part_id: part.part_id, items: part.items.with(index % list.part_size, value) }), k) };
}

/** The list with `value` appended (a new part `${prefix}/<k>` when the last one is full). */
export function listPush<V>(list: PartedList<V>, prefix: string, value: V): PartedList<V> {
  const last = list.parts.at(-1);
  if (last === undefined || last.items.length >= list.part_size) {
    const parts = derivedParts(list.parts, [...list.parts, { part_id: `${prefix}/${list.parts.length}`, items: [value] }], list.parts.length);
    return { ...list, length: list.length + 1, parts };
  }
  const parts = derivedParts(list.parts, list.parts.with(list.parts.length - 1, { part_id: last.part_id, items: [...last.items, value] }), list.parts.length - 1);
  return { ...list, length: list.length + 1, parts };
}

/** Every item, in order. */
export function listItems<V>(list: PartedList<V>): V[] {
  return list.parts.flatMap((part) => part.items);
}

// ---------------------------------------------------------------------------------------------
// Maps

/** FNV-1a over UTF-16 code units: the same part for the same key in every process. */
function hashOf(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i += 1) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** An empty map under `prefix` sized for about `expected` keys. */
export function emptyPartedMap<V>(prefix: string, expected: number): PartedMap<V> {
  const count = Math.max(1, Math.ceil(Math.max(0, expected) / PART_SIZE));
  return { size: 0, parts: Array.from({ length: count }, (_, k) => ({ part_id: `${prefix}/${k}`, items: {} })) };
}

/** A map of `entries` under `prefix` (a repeated key keeps its last value). */
export function partedMap<V>(prefix: string, entries: Iterable<readonly [string, V]>, expected: number): PartedMap<V> {
  const empty = emptyPartedMap<V>(prefix, expected);
  const buckets: Array<Array<readonly [string, V]>> = empty.parts.map(() => []);
  for (const entry of entries) buckets[hashOf(entry[0]) % buckets.length]?.push(entry);
  const parts = empty.parts.map((part, k) => ({ part_id: part.part_id, items: recordOf(buckets[k] ?? []) }));
  return { size: parts.reduce((sum, part) => sum + Object.keys(part.items).length, 0), parts };
}

function partOf<V>(map: PartedMap<V>, key: string): [number, ContextPart<Readonly<Record<string, V>>>] {
  const k = hashOf(key) % map.parts.length;
  return [k, map.parts[k] as ContextPart<Readonly<Record<string, V>>>];
}

/** True when `key` is in the map. */
export function mapHas<V>(map: PartedMap<V>, key: string): boolean {
  if (map.parts.length === 0) return false;
  return Object.hasOwn(partOf(map, key)[1].items, key);
}

/** The value under `key`, or undefined. */
export function mapGet<V>(map: PartedMap<V>, key: string): V | undefined {
  if (map.parts.length === 0) return undefined;
  const { items } = partOf(map, key)[1];
  return Object.hasOwn(items, key) ? items[key] : undefined;
}

/** The map with `key` set to `value` (precondition: the map has parts). */
export function mapSet<V>(map: PartedMap<V>, key: string, value: V): PartedMap<V> {
  const [k, part] = partOf(map, key);
  const size = Object.hasOwn(part.items, key) ? map.size : map.size + 1;
  return { size, parts: derivedParts(map.parts, map.parts.with(k, { part_id: part.part_id, items: recordWith(part.items, key, value) }), k) };
}

/** The map without `key` (unchanged when absent). */
export function mapDelete<V>(map: PartedMap<V>, key: string): PartedMap<V> {
  if (!mapHas(map, key)) return map;
  const [k, part] = partOf(map, key);
  return { size: map.size - 1, parts: derivedParts(map.parts, map.parts.with(k, { part_id: part.part_id, items: recordWithout(part.items, key) }), k) };
}

/** Every key (in part order, then insertion order within a part). */
export function mapKeys<V>(map: PartedMap<V>): string[] {
  return map.parts.flatMap((part) => Object.keys(part.items));
}
