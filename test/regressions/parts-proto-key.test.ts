/**
 * Review: store-parts.ts `split` now defines a `__proto__` key as an own field (3058fc4), but `join`
 * (the read path of every entity with parts, SQLite and archives) still assigns `out[key] = ...`,
 * so a `__proto__` key of the main row (a record keyed by ids, e.g. the tracker's `critical` or
 * `held_keys`, which may hold any id string) is read back as the prototype setter: the key is lost.
 * The entity cache still holds it, so the engine's view and the store's view diverge after a restart.
 */
import { describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../adapters/sqlite/store.js';
import { joinParts, splitParts } from '../../adapters/store-parts.js';
import type { Json } from '../../adapters/store.js';
import { partedList } from '../../machines/context-parts.js';
import { recordWith } from '../../machines/records.js';

function snapshotWithProtoKey(): Json {
  const critical = recordWith<true>({}, '__proto__', true);
  return { value: 'x', context: { slots: partedList('slots', ['a', 'b', 'c']), critical } } as unknown as Json;
}

describe('regression: a __proto__ key beside context parts', () => {
  it('split then join (as a store reads the row back) keeps a __proto__ key of the main row', () => {
    const snapshot = snapshotWithProtoKey();
    const { main, parts } = splitParts(snapshot);
    const stored = JSON.parse(JSON.stringify(main)) as Json;
    const items = new Map(parts.map((part) => [part.part_id, JSON.parse(JSON.stringify(part.items)) as Json]));
    const joined = joinParts(stored, items, { machine: 'm', entity_id: 'e' }) as { context: { critical: object } };
    expect(Object.keys(joined.context.critical)).toEqual(['__proto__']);
  });

  it('a SQLite entity with parts reads back a __proto__ key of its main row', async () => {
    const store = openSqliteStore({ path: ':memory:' });
    const snapshot = snapshotWithProtoKey();
    await store.commit({
      entities: [{ machine: 'batch_tracker', entity_id: 'b1', parent_id: null, expected_version: 0, machine_version: 1, status: 's', snapshot }],
      audit: [], outbox: [], inbox: [], timersSet: [], timersCancelled: [], timersFired: [],
    });
    const record = await store.load('batch_tracker', 'b1');
    const critical = (record?.snapshot as { context: { critical: object } }).context.critical;
    expect(Object.keys(critical)).toEqual(['__proto__']);
    await store.close();
  });
});
