/**
 * Context parts: the pure collections a tracker keeps its per-essay facts in, their split into
 * rows by a store, and the engine's identity diff that writes only changed parts.
 */
import { fc } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { partChanges } from '../adapters/engine/parts.js';
import { openSqliteStore } from '../adapters/sqlite/store.js';
import { joinParts, splitParts } from '../adapters/store-parts.js';
import type { EntityWrite, Json } from '../adapters/store.js';
import { listAt, listItems, listPush, listSet, mapDelete, mapGet, mapHas, mapKeys, mapSet, partedList, partedMap, partRunOf, changedIndexes, PART_SIZE, type PartedList, type PartedMap } from '../machines/context-parts.js';
import { propertyRuns } from './property/runs.js';

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
    expect(map.parts.length).toBe(Math.ceil(400 / PART_SIZE));
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

  it('the run of a parts array is known after every update, also across a push that opens a part, and only a true run is one', () => {
    let list = partedList('l', [1, 2, 3], 2);
    expect(partRunOf(list.parts)).toEqual({ prefix: 'l', count: 2 });
    list = listPush(listSet(list, 0, 9), 'l', 4);
    list = listPush(list, 'l', 5);
    expect([partRunOf(list.parts), list.parts.map((part) => part.part_id)]).toEqual([{ prefix: 'l', count: 3 }, ['l/0', 'l/1', 'l/2']]);
    const map = mapDelete(mapSet(partedMap('m', [['a', 1]], 100), 'b', 2), 'a');
    expect(partRunOf(map.parts)).toEqual({ prefix: 'm', count: 4 });
    // A push under another prefix, ids out of order, or an item that is not a part: no run.
    expect(partRunOf(listPush(partedList('l', [1, 2], 2), 'other', 3).parts)).toBeUndefined();
    expect(partRunOf([{ part_id: 'x/1', items: [] }, { part_id: 'x/0', items: [] }])).toBeUndefined();
    expect(partRunOf([{ part_id: 'x/0', items: [] }, { part_id: 'x/1' }])).toBeUndefined();
    // A run read back from JSON (not derived here) is found by looking at it.
    expect(partRunOf(JSON.parse(JSON.stringify(list.parts)) as unknown[])).toEqual({ prefix: 'l', count: 3 });
  });

  it('the changed indexes of a derived parts array are exactly the updated ones, per branch; unknown without a derivation or past the depth cut', () => {
    const base = partedList('l', Array.from({ length: 20 }, (_, i) => i), 2);
    const a = listSet(listSet(base, 3, -3), 15, -15);
    const b = listSet(base, 7, -7);
    expect([changedIndexes(base.parts, a.parts), changedIndexes(base.parts, b.parts)]).toEqual([[7, 1], [3]]);
    expect(changedIndexes(base.parts, listPush(partedList('l', [1, 2], 2), 'l', 3).parts)).toBeUndefined();
    expect(changedIndexes(a.parts, base.parts)).toBeUndefined();
    expect(changedIndexes(JSON.parse(JSON.stringify(base.parts)) as unknown[], a.parts)).toBeUndefined();
    let far = base;
    for (let k = 0; k < 100; k += 1) far = listSet(far, k % 20, k);
    expect(changedIndexes(base.parts, far.parts)).toBeUndefined();
    // Whatever is known or not, the engine's diff names exactly the parts that are other objects.
    for (const next of [a, b, far]) {
      const changed = partChanges({ l: base }, { l: next }).changed.map((part) => part.part_id).sort();
      expect(changed).toEqual(next.parts.filter((part, k) => part !== base.parts[k]).map((part) => part.part_id).sort());
    }
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

  it('SQLite writes exactly the parts the hint calls changed, deletes removed ones, and loads the whole snapshot', async () => {
    const store = openSqliteStore({ path: ':memory:' });
    const first = partedList('slots', ['a', 'b', 'c', 'd'], 2);
    const write = (version: number, context: object, parts?: EntityWrite['parts']): EntityWrite => ({
      machine: 'batch_tracker', entity_id: 'b', parent_id: null, expected_version: version, machine_version: 2, status: 'awaiting_content', snapshot: snapshot(context),
      ...(parts === undefined ? {} : { parts }),
    });
    const empty = { audit: [], outbox: [], inbox: [], timersSet: [], timersCancelled: [], timersFired: [] };
    await store.commit({ ...empty, entities: [write(0, { slots: first })] });
    // The hint names slots/1 only: the store keeps slots/0's row even though this write's copy differs.
    const second = { ...first, parts: [{ part_id: 'slots/0', items: ['IGNORED', 'b'] }, { part_id: 'slots/1', items: ['c', 'D'] }] };
    await store.commit({ ...empty, entities: [write(1, { slots: second }, { changed: [{ part_id: 'slots/1', items: ['c', 'D'] }], removed: [] })] });
    // The main row keeps the run of parts as one descriptor, not a stub per part.
    expect(JSON.parse((store.db.prepare('SELECT snapshot FROM entities').get() as { snapshot: string }).snapshot).context.slots).toEqual({ part_size: 2, length: 4, parts: { $parts: 'slots', count: 2 } });
    expect(((await store.load('batch_tracker', 'b'))?.snapshot as { context: { slots: unknown } }).context.slots).toEqual(partedList('slots', ['a', 'b', 'c', 'D'], 2));
    // Without a hint every part is written and any other stored part deleted.
    await store.commit({ ...empty, entities: [write(2, { slots: partedList('slots', ['e'], 2) })] });
    expect(store.db.prepare('SELECT part_id FROM entity_parts').all()).toEqual([{ part_id: 'slots/0' }]);
    expect(((await store.load('batch_tracker', 'b'))?.snapshot as { context: unknown }).context).toEqual({ slots: partedList('slots', ['e'], 2) });
    await store.close();
  });

  it('the engine hint names the parts that are other objects than stored and the parts dropped since', () => {
    const stored = { slots: partedList('slots', [1, 2, 3, 4], 2), gone: partedList('gone', [1], 1), same: partedList('same', [1, 2, 3], 1) };
    const next = { slots: listSet(stored.slots, 3, 40), same: stored.same };
    const hint = partChanges(stored, next);
    expect([hint.changed.map((part) => part.part_id), hint.removed]).toEqual([['slots/1'], ['gone/0']]);
    expect(hint.changed[0]!.items).toBe(next.slots.parts[1]!.items);
  });

  it('the engine hint: a new collection is written, an emptied one deleted, a part that moved is written and not deleted', () => {
    const stored = { a: partedList('a', [1, 2], 1), b: partedList('b', [1, 2], 1), moved: { part_id: 'm', items: [1] } };
    const next = { a: { ...stored.a, parts: [] }, c: partedList('c', [5], 1), list: [stored.moved] };
    const hint = partChanges(stored, next);
    expect([hint.changed.map((part) => part.part_id).sort(), [...hint.removed].sort()]).toEqual([['c/0', 'm'], ['a/0', 'a/1', 'b/0', 'b/1']]);
    expect(partChanges(next, next)).toEqual({ changed: [], removed: [] });
  });

  it('a main row written with one stub per part (schema 6) still loads whole', async () => {
    const store = openSqliteStore({ path: ':memory:' });
    const stubs = { status: 'active', value: 'x', historyValue: {}, children: {}, context: { slots: { part_size: 1, length: 2, parts: [{ part_id: 'slots/0' }, { part_id: 'slots/1' }] } } };
    store.db.prepare(`INSERT INTO entities (machine, entity_id, parent_id, version, machine_version, status, snapshot, created_at, updated_at, parts) VALUES ('batch_tracker', 'old', NULL, 1, 2, 'x', ?, '2026-01-01', '2026-01-01', 2)`).run(JSON.stringify(stubs));
    for (const [id, items] of [['slots/0', '["a"]'], ['slots/1', '["b"]']]) store.db.prepare(`INSERT INTO entity_parts VALUES ('batch_tracker', 'old', ?, ?)`).run(id, items);
    expect(((await store.load('batch_tracker', 'old'))?.snapshot as { context: unknown }).context).toEqual({ slots: partedList('slots', ['a', 'b'], 1) });
    await store.close();
  });
});

describe('the engine diff of parted collections (property)', () => {
  type Context = { readonly list: PartedList<number>; readonly map: PartedMap<number> };
  const op = fc.oneof(
    fc.record({ kind: fc.constant('set' as const), index: fc.nat(), value: fc.integer() }),
    fc.record({ kind: fc.constant('push' as const), value: fc.integer() }),
    fc.record({ kind: fc.constant('put' as const), key: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', '__proto__'), value: fc.integer() }),
    fc.record({ kind: fc.constant('delete' as const), key: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', '__proto__') }),
  );
  type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

  function apply(context: Context, step: Op): Context {
    if (step.kind === 'set') return context.list.length === 0 ? context : { ...context, list: listSet(context.list, step.index % context.list.length, step.value) };
    if (step.kind === 'push') return { ...context, list: listPush(context.list, 'l', step.value) };
    if (step.kind === 'put') return { ...context, map: mapSet(context.map, step.key, step.value) };
    return { ...context, map: mapDelete(context.map, step.key) };
  }

  /** The parts that are other objects than under the same id before, and the ids gone: what any diff must name. */
  function expected(before: Context, after: Context): { changed: string[]; removed: string[] } {
    const byId = (context: Context) => new Map<string, object>([...context.list.parts, ...context.map.parts].map((part) => [part.part_id, part]));
    const [was, is] = [byId(before), byId(after)];
    return { changed: [...is].filter(([id, part]) => was.get(id) !== part).map(([id]) => id).sort(), removed: [...was.keys()].filter((id) => !is.has(id)).sort() };
  }

  it('names exactly the parts that changed between any two versions, along a branch, across branches or unrelated', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(), op), { minLength: 1, maxLength: 120 }), fc.array(fc.tuple(fc.nat(), fc.nat()), { minLength: 1, maxLength: 20 }), (steps, pairs) => {
        const versions: Context[] = [{ list: partedList('l', [1, 2, 3], 2), map: partedMap('m', [['a', 1]], 8) }];
        // Each step updates a random earlier version: versions branch, as retried or discarded transitions do.
        for (const [from, step] of steps) versions.push(apply(versions[from % versions.length] as Context, step));
        versions.push(JSON.parse(JSON.stringify(versions.at(-1))) as Context);
        for (const [i, j] of pairs) {
          const [before, after] = [versions[i % versions.length] as Context, versions[j % versions.length] as Context];
          const hint = partChanges(before, after);
          expect({ changed: hint.changed.map((part) => part.part_id).sort(), removed: [...hint.removed].sort() }).toEqual(expected(before, after));
        }
      }),
      { numRuns: propertyRuns(300) },
    );
  });
});
