/**
 * Context parts: the pure collections a tracker keeps its per-essay facts in, their split into
 * rows by a store, and the engine's identity diff that writes only changed parts.
 */
import { describe, expect, it } from 'vitest';
import { partChanges } from '../adapters/engine/parts.js';
import { openSqliteStore } from '../adapters/sqlite/store.js';
import { joinParts, splitParts } from '../adapters/store-parts.js';
import type { EntityWrite, Json } from '../adapters/store.js';
import { listAt, listItems, listPush, listSet, mapDelete, mapGet, mapHas, mapKeys, mapSet, partedList, partedMap, partSizeFor } from '../machines/context-parts.js';

describe('parted lists and maps', () => {
  it('a list update copies one part and keeps every other part the same object', () => {
    const list = partedList('l', Array.from({ length: 100 }, (_, i) => i), 10);
    const next = listSet(list, 42, -42);
    expect(listAt(next, 42)).toBe(-42);
    expect(next.parts.filter((part, k) => part !== list.parts[k]).map((part) => part.part_id)).toEqual(['l/4']);
    const pushed = listPush(partedList('p', [1, 2], 2), 'p', 3);
    expect([pushed.length, pushed.parts.map((part) => part.part_id), listItems(pushed)]).toEqual([3, ['p/0', 'p/1'], [1, 2, 3]]);
    expect(listAt(list, 100)).toBeUndefined();
  });

  it('a map set or delete copies one part; ids naming Object.prototype members are plain keys', () => {
    const map = partedMap('m', Array.from({ length: 400 }, (_, i) => [`k${i}`, i] as const), 400);
    expect(map.parts.length).toBe(Math.ceil(400 / partSizeFor(400)));
    const next = mapSet(map, '__proto__', -1);
    expect([mapGet(next, '__proto__'), mapHas(map, '__proto__'), mapHas(next, 'constructor'), next.size]).toEqual([-1, false, false, 401]);
    expect(next.parts.filter((part, k) => part !== map.parts[k]).length).toBe(1);
    const removed = mapDelete(next, 'k7');
    expect([mapHas(removed, 'k7'), removed.size, mapKeys(removed).length]).toEqual([false, 400, 400]);
    expect(mapDelete(removed, 'absent')).toBe(removed);
    // A delete copies the rest of the part: `__proto__` stays an own key, never the prototype.
    const single = mapDelete(mapSet(partedMap<number>('s', [['a', 1]], 1), '__proto__', 2), 'a');
    expect([mapGet(single, '__proto__'), mapKeys(single), Object.getPrototypeOf(single.parts[0]!.items)]).toEqual([2, ['__proto__'], Object.prototype]);
  });
});

describe('parts in a store', () => {
  const snapshot = (context: object): Json => ({ status: 'active', value: 'awaiting_content', historyValue: {}, context, children: {} }) as unknown as Json;

  it('split then join gives the snapshot back; a missing part row is SNAPSHOT_CORRUPT naming it', () => {
    const whole = snapshot({ batch_id: 'b', slots: partedList('slots', ['x', 'y', 'z'], 2) });
    const { main, parts } = splitParts(whole);
    expect(parts.map((part) => part.part_id)).toEqual(['slots/0', 'slots/1']);
    expect(JSON.stringify(main)).not.toContain('"x"');
    expect(joinParts(main, new Map(parts.map((part) => [part.part_id, part.items as Json])), { machine: 't', entity_id: 'b' })).toEqual(whole);
    expect(() => joinParts(main, new Map(), { machine: 't', entity_id: 'b' })).toThrow(/lacks its part\(s\) slots\/0, slots\/1/);
  });

  it('SQLite writes only the parts the hint does not call unchanged, deletes removed ones, and loads the whole snapshot', async () => {
    const store = openSqliteStore({ path: ':memory:' });
    const first = partedList('slots', ['a', 'b', 'c', 'd'], 2);
    const write = (version: number, context: object, parts?: EntityWrite['parts']): EntityWrite => ({
      machine: 'batch_tracker', entity_id: 'b', parent_id: null, expected_version: version, machine_version: 2, status: 'awaiting_content', snapshot: snapshot(context),
      ...(parts === undefined ? {} : { parts }),
    });
    const empty = { audit: [], outbox: [], inbox: [], timersSet: [], timersCancelled: [], timersFired: [] };
    await store.commit({ ...empty, entities: [write(0, { slots: first })] });
    // The hint says slots/0 is unchanged: the store keeps its row even though this write's copy differs.
    const second = { ...first, parts: [{ part_id: 'slots/0', items: ['IGNORED', 'b'] }, { part_id: 'slots/1', items: ['c', 'D'] }] };
    await store.commit({ ...empty, entities: [write(1, { slots: second }, { unchanged: new Set(['slots/0']), removed: [] })] });
    expect(((await store.load('batch_tracker', 'b'))?.snapshot as { context: { slots: unknown } }).context.slots).toEqual(partedList('slots', ['a', 'b', 'c', 'D'], 2));
    // Without a hint every part is written and any other stored part deleted.
    await store.commit({ ...empty, entities: [write(2, { slots: partedList('slots', ['e'], 2) })] });
    expect(store.db.prepare('SELECT part_id FROM entity_parts').all()).toEqual([{ part_id: 'slots/0' }]);
    expect(((await store.load('batch_tracker', 'b'))?.snapshot as { context: unknown }).context).toEqual({ slots: partedList('slots', ['e'], 2) });
    await store.close();
  });

  it('the engine hint names the parts that are the same objects as stored and the parts dropped since', () => {
    const stored = { slots: partedList('slots', [1, 2, 3, 4], 2), gone: partedList('gone', [1], 1) };
    const next = { slots: listSet(stored.slots, 3, 40) };
    const hint = partChanges(stored, next);
    expect([[...hint.unchanged], hint.removed]).toEqual([['slots/0'], ['gone/0']]);
  });
});
