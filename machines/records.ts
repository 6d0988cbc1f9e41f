/**
 * Copies of records keyed by ids (essay ids, slot texts, aggregation keys), as the machines'
 * pure updates make them.
 *
 * Such a record is built key by key in a dictionary-mode object: a prototype-less object starts
 * in that mode, and its prototype is set to Object.prototype once it is filled, so readers see a
 * plain object. Built as an ordinary object, every key never seen before (a UUID) would make V8
 * create a hidden class for that key alone: copying a 32-key part took ~20 µs and left that
 * garbage behind, against ~2 µs here (a 32-key part of UUIDs, Node 20). It also makes `__proto__`
 * an own key like any other: a prototype-less object has no `__proto__` setter.
 */

function dictionary<V>(): Record<string, V> {
  return Object.create(null) as Record<string, V>;
}

function finished<V>(record: Record<string, V>): Record<string, V> {
  return Object.setPrototypeOf(record, Object.prototype) as Record<string, V>;
}

/** A copy of `record` with `key` set to `value` (added last when new, in place otherwise). */
export function recordWith<V>(record: Readonly<Record<string, V>>, key: string, value: V): Record<string, V> {
  const copy = dictionary<V>();
  for (const name of Object.keys(record)) copy[name] = record[name] as V;
  copy[key] = value;
  return finished(copy);
}

/** A copy of `record` without `key` (the same keys in the same order otherwise). */
export function recordWithout<V>(record: Readonly<Record<string, V>>, key: string): Record<string, V> {
  const copy = dictionary<V>();
  for (const name of Object.keys(record)) {
    if (name !== key) copy[name] = record[name] as V;
  }
  return finished(copy);
}

/** A record of `entries` in order (a repeated key keeps its first position and its last value). */
export function recordOf<V>(entries: Iterable<readonly [string, V]>): Record<string, V> {
  const record = dictionary<V>();
  for (const [key, value] of entries) record[key] = value;
  return finished(record);
}

