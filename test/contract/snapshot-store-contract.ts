/**
 * The reusable contract suite of the store port (adapters/store.ts). Store-agnostic: it only uses the
 * `SnapshotStore` interface, so every implementation (SQLite now, PostgreSQL later) runs through it.
 *
 * `makeStore` must return a fresh, EMPTY, isolated store for every test; `close` must release it and
 * tolerate the store having been closed already. Timestamps are only checked against `committedAt`,
 * so any clock (fixed or real) works.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LifecycleError } from '../../adapters/errors.js';
import type { ErrorCode } from '../../adapters/errors.js';
import type {
  AuditWrite, CommitBatch, EntityWrite, Json, OutboxWrite, SnapshotStore, TimerWrite,
} from '../../adapters/store.js';

/**
 * A fresh store per test. `corrupt`, when the store can hold an unreadable row at all, overwrites
 * one entity's stored snapshot with text that is not JSON (behind the store's back).
 */
export type StoreFactory = () => Promise<{
  store: SnapshotStore;
  close: () => Promise<void>;
  corrupt?: (machine: string, entity_id: string) => Promise<void>;
}>;
interface Ctx { store: SnapshotStore; corrupt?: ((machine: string, entity_id: string) => Promise<void>) | undefined }

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const FAR_FUTURE = '9999-12-31T23:59:59.999Z';
const key = (machine: string, entity_id: string): string => `${machine}\u0000${entity_id}`;

const batch = (parts: Partial<CommitBatch> = {}): CommitBatch => ({
  entities: [], audit: [], outbox: [], inbox: [], timersSet: [], timersCancelled: [], timersFired: [], ...parts,
});
const entity = (entity_id: string, over: Partial<EntityWrite> = {}): EntityWrite => ({
  machine: 'essay', entity_id, parent_id: 'b1', expected_version: 0, machine_version: 1, status: 'pending',
  snapshot: { status: 'active', value: 'pending', context: { entity_id } }, ...over,
});
const audit = (event_id: string, over: Partial<AuditWrite> = {}): AuditWrite => ({
  event_id, event_type: 'essay.submitted', correlation_id: 'corr-1', causation_id: null, machine: 'essay', entity_id: 'e1',
  from_status: null, to_status: 'pending', outcome: 'accepted', reason: null, entity_version: 1,
  envelope: { event_id, data: { n: 1 } }, machine_version: 3, ...over,
});
/** An audit row as written by code before audit rows recorded the machine version. */
const withoutVersion = ({ machine_version: _dropped, ...row }: AuditWrite): AuditWrite => row;
const outbox = (event_id: string, over: Partial<OutboxWrite> = {}): OutboxWrite => ({
  event_id, event_type: 'essay.graded', aggregate_id: 'b1', envelope: { event_id }, internal: false, ...over,
});
const timer = (timer_id: string, due_at: string, over: Partial<TimerWrite> = {}): TimerWrite => ({
  timer_id, machine: 'batch', entity_id: 'b1', due_at, event: { type: 'timeout', timer_id }, ...over,
});

/** Awaits a promise that must reject with a LifecycleError of `code`, and returns the error. */
async function rejection(promise: Promise<unknown>, code: ErrorCode): Promise<LifecycleError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(LifecycleError);
    expect((error as LifecycleError).code).toBe(code);
    return error as LifecycleError;
  }
  return expect.fail(`expected a rejection with ${code}`);
}

/** Everything the port can observe globally, to prove a failed commit changed nothing. */
async function observe(store: SnapshotStore, inboxIds: string[]) {
  return {
    audit: await store.auditSince(0, 1000),
    outboxCount: await store.outboxCount(),
    pending: await store.pendingOutbox(1000),
    inbox: await store.findInbox(inboxIds),
    timers: await store.dueTimers(FAR_FUTURE, 1000),
    nextTimer: await store.nextTimerDue(),
    counts: await store.countByStatus(),
  };
}

function entityContracts(ctx: Ctx): void {
  it('insert creates version 1 and load returns every field as written, stamped with committedAt', async () => {
    const write = entity('e1', { parent_id: 'batch-9', machine_version: 3, status: 'queued' });
    const { committedAt } = await ctx.store.commit(batch({ entities: [write] }));
    expect(committedAt).toMatch(ISO);
    expect(await ctx.store.load('essay', 'e1')).toEqual({
      machine: 'essay', entity_id: 'e1', parent_id: 'batch-9', machine_version: 3, version: 1, status: 'queued',
      snapshot: write.snapshot, created_at: committedAt, updated_at: committedAt,
    });
  });

  it('load returns undefined for an unknown entity, and entity ids are scoped by machine', async () => {
    await ctx.store.commit(batch({ entities: [entity('e1')] }));
    expect(await ctx.store.load('essay', 'nope')).toBeUndefined();
    expect(await ctx.store.load('batch', 'e1')).toBeUndefined();
  });

  it('top-level entities keep a null parent_id and snapshots round-trip exactly (nesting, unicode, null, numbers)', async () => {
    const snapshot: Json = { a: [1, -2.5, 0, 1e21, true, false, null, '', 'é ✓ \u0000 "q"'], b: {}, c: [], d: { e: { f: 'deep' } } };
    await ctx.store.commit(batch({ entities: [entity('b1', { machine: 'batch', parent_id: null, snapshot })] }));
    const row = await ctx.store.load('batch', 'b1');
    expect(row?.parent_id).toBeNull();
    expect(row?.snapshot).toEqual(snapshot);
  });

  it('update with the current expected_version increments version, replaces the row and keeps created_at', async () => {
    const first = await ctx.store.commit(batch({ entities: [entity('e1')] }));
    const update = entity('e1', { expected_version: 1, status: 'graded', machine_version: 2, parent_id: 'b2', snapshot: { v: 2 } });
    const second = await ctx.store.commit(batch({ entities: [update] }));
    expect(await ctx.store.load('essay', 'e1')).toEqual({
      machine: 'essay', entity_id: 'e1', parent_id: 'b2', machine_version: 2, version: 2, status: 'graded',
      snapshot: { v: 2 }, created_at: first.committedAt, updated_at: second.committedAt,
    });
  });

  it('several writes to one entity in one batch chain their versions in order', async () => {
    await ctx.store.commit(batch({
      entities: [entity('e1'), entity('e1', { expected_version: 1, status: 'a' }), entity('e1', { expected_version: 2, status: 'b' })],
    }));
    expect(await ctx.store.load('essay', 'e1')).toMatchObject({ version: 3, status: 'b' });
  });

  it('a snapshot with context parts comes back whole from load, loadMany and list, after updates with and without a parts hint', async () => {
    const part = (part_id: string, items: Json): Json => ({ part_id, items });
    const snap = (...parts: Json[]): Json => ({ status: 'active', value: 'pending', context: { slots: { length: parts.length, parts } } });
    const v1 = snap(part('slots/0', ['a', 'b']), part('slots/1', ['c']), part('slots/2', { k: 1 }));
    await ctx.store.commit(batch({ entities: [entity('e1', { snapshot: v1 })] }));
    const v2 = snap(part('slots/0', ['a', 'b']), part('slots/1', ['C']));
    await ctx.store.commit(batch({ entities: [entity('e1', { expected_version: 1, snapshot: v2, parts: { changed: [{ part_id: 'slots/1', items: ['C'] }], removed: ['slots/2'] } })] }));
    expect((await ctx.store.load('essay', 'e1'))?.snapshot).toEqual(v2);
    const v3 = snap(part('slots/0', []));
    await ctx.store.commit(batch({ entities: [entity('e1', { expected_version: 2, snapshot: v3 })] }));
    expect((await ctx.store.load('essay', 'e1'))?.snapshot).toEqual(v3);
    expect((await ctx.store.loadMany([{ machine: 'essay', entity_id: 'e1' }])).get(key('essay', 'e1'))?.snapshot).toEqual(v3);
    expect((await ctx.store.list({ machine: 'essay' })).map((row) => row.snapshot)).toEqual([v3]);
  });

  it('several writes to one entity in one batch, each with a parts hint relative to the one before, keep every part a write changed', async () => {
    const part = (part_id: string, items: Json): Json => ({ part_id, items });
    const snap = (...parts: Json[]): Json => ({ context: { slots: { length: parts.length, parts } } });
    await ctx.store.commit(batch({ entities: [entity('e1', { snapshot: snap(part('p/0', [0]), part('p/1', [1]), part('p/2', [2])) })] }));
    const first = snap(part('p/0', ['changed']), part('p/1', [1]));
    const second = snap(part('p/0', ['changed']), part('p/1', [1]), part('p/3', [3]));
    await ctx.store.commit(batch({
      entities: [
        entity('e1', { expected_version: 1, snapshot: first, parts: { changed: [{ part_id: 'p/0', items: ['changed'] }], removed: ['p/2'] } }),
        entity('e1', { expected_version: 2, snapshot: second, parts: { changed: [{ part_id: 'p/3', items: [3] }], removed: [] } }),
      ],
    }));
    const stored = await ctx.store.load('essay', 'e1');
    expect([stored?.version, stored?.snapshot]).toEqual([3, second]);
  });

}

function compareAndSetContracts(ctx: Ctx): void {
  it('a stale expected_version is refused with VERSION_CONFLICT naming machine, entity_id, expected and actual version', async () => {
    await ctx.store.commit(batch({ entities: [entity('e1')] }));
    await ctx.store.commit(batch({ entities: [entity('e1', { expected_version: 1 })] }));
    const error = await rejection(ctx.store.commit(batch({ entities: [entity('e1', { expected_version: 1 })] })), 'VERSION_CONFLICT');
    expect(error.details).toEqual({ machine: 'essay', entity_id: 'e1', expected_version: 1, actual_version: 2 });
    expect((await ctx.store.load('essay', 'e1'))?.version).toBe(2);
  });

  it('inserting (expected_version 0) an entity that exists is a VERSION_CONFLICT and leaves the row untouched', async () => {
    await ctx.store.commit(batch({ entities: [entity('e1', { status: 'original' })] }));
    const error = await rejection(ctx.store.commit(batch({ entities: [entity('e1', { status: 'clobber' })] })), 'VERSION_CONFLICT');
    expect(error.details).toEqual({ machine: 'essay', entity_id: 'e1', expected_version: 0, actual_version: 1 });
    expect(await ctx.store.load('essay', 'e1')).toMatchObject({ version: 1, status: 'original' });
  });

  it('updating an entity that does not exist is a VERSION_CONFLICT with actual_version 0', async () => {
    const error = await rejection(ctx.store.commit(batch({ entities: [entity('ghost', { expected_version: 1 })] })), 'VERSION_CONFLICT');
    expect(error.details).toEqual({ machine: 'essay', entity_id: 'ghost', expected_version: 1, actual_version: 0 });
    expect(await ctx.store.load('essay', 'ghost')).toBeUndefined();
  });
}

/** A store holding e1 (v1), audit a0, outbox o0, inbox i0 and timers t-keep / t-fire. */
async function seed(store: SnapshotStore): Promise<void> {
  await store.commit(batch({
    entities: [entity('e1')], audit: [audit('a0')], outbox: [outbox('o0')], inbox: [{ event_id: 'i0', event_type: 'x', result: { ok: 0 } }],
    timersSet: [timer('t-keep', '2030-01-01T00:00:00.000Z'), timer('t-fire', '2030-01-02T00:00:00.000Z')],
  }));
}
/** A batch touching every table; it must be all-or-nothing. */
const everything = (parts: Partial<CommitBatch>): CommitBatch => batch({
  entities: [entity('e2')], audit: [audit('a1'), audit('a2')], outbox: [outbox('o1')],
  inbox: [{ event_id: 'i1', event_type: 'x', result: { ok: 1 } }], timersSet: [timer('t-new', '2030-01-03T00:00:00.000Z')],
  timersCancelled: ['t-keep'], timersFired: ['t-fire'], ...parts,
});

function atomicityContracts(ctx: Ctx): void {
  it('a batch that loses one compare-and-set writes nothing at all: no entity, audit, outbox, inbox or timer change', async () => {
    await seed(ctx.store);
    const before = await observe(ctx.store, ['i0', 'i1']);
    const stale = everything({ entities: [entity('e2'), entity('e1', { expected_version: 7 })] });
    await rejection(ctx.store.commit(stale), 'VERSION_CONFLICT');
    expect(await observe(ctx.store, ['i0', 'i1'])).toEqual(before);
    expect(await ctx.store.load('essay', 'e2')).toBeUndefined();
    expect((await ctx.store.load('essay', 'e1'))?.version).toBe(1);
  });

  it('a duplicate inbox event_id is a VERSION_CONFLICT {event_id, duplicate: true}, writes nothing and keeps the first result', async () => {
    await seed(ctx.store);
    const before = await observe(ctx.store, ['i0', 'i1']);
    const dup = everything({ inbox: [{ event_id: 'i1', event_type: 'x', result: 1 }, { event_id: 'i0', event_type: 'x', result: 'second' }] });
    const error = await rejection(ctx.store.commit(dup), 'VERSION_CONFLICT');
    expect(error.details).toEqual({ event_id: 'i0', duplicate: true });
    expect(await observe(ctx.store, ['i0', 'i1'])).toEqual(before);
    expect((await ctx.store.findInbox(['i0'])).get('i0')).toEqual({ ok: 0 });
  });

  it('an inbox event_id repeated within one batch is a duplicate and nothing is written', async () => {
    const twice = [{ event_id: 'i9', event_type: 'x', result: 1 }, { event_id: 'i9', event_type: 'x', result: 2 }];
    const error = await rejection(ctx.store.commit(batch({ entities: [entity('e9')], inbox: twice })), 'VERSION_CONFLICT');
    expect(error.details).toEqual({ event_id: 'i9', duplicate: true });
    expect((await ctx.store.findInbox(['i9'])).size).toBe(0);
    expect(await ctx.store.load('essay', 'e9')).toBeUndefined();
  });

  it('a redelivered event whose entity write is also stale is reported as a duplicate, not as a stale version', async () => {
    await seed(ctx.store);
    const error = await rejection(ctx.store.commit(everything({ entities: [entity('e1')], inbox: [{ event_id: 'i0', event_type: 'x', result: 1 }] })), 'VERSION_CONFLICT');
    expect(error.details).toEqual({ event_id: 'i0', duplicate: true });
  });

  it('an outbox event_id already stored (or repeated in the batch) is skipped silently and the rest of the batch commits', async () => {
    await ctx.store.commit(batch({ outbox: [outbox('o1', { envelope: { first: true } })] }));
    await ctx.store.commit(batch({
      entities: [entity('e1')], outbox: [outbox('o1', { envelope: { first: false } }), outbox('o2'), outbox('o2', { aggregate_id: 'zz' })],
    }));
    const pending = await ctx.store.pendingOutbox(10);
    expect(pending.map((o) => [o.event_id, o.envelope, o.aggregate_id])).toEqual([['o1', { first: true }, 'b1'], ['o2', { event_id: 'o2' }, 'b1']]);
    expect(await ctx.store.load('essay', 'e1')).toBeDefined();
  });

  it('a store that checks unchanged rows commits a batch whose unchanged rows are current, and refuses one whose row moved on, writing nothing', async () => {
    if (ctx.store.checksUnchanged !== true) return;
    await seed(ctx.store);
    await ctx.store.commit(everything({ unchanged: [{ machine: 'essay', entity_id: 'e1', version: 1 }] }));
    expect((await ctx.store.findInbox(['i1'])).get('i1')).toEqual({ ok: 1 });
    await ctx.store.commit(batch({ entities: [entity('e1', { expected_version: 1 })] }));
    const before = await observe(ctx.store, ['i7']);
    const stale = batch({ audit: [audit('a7')], inbox: [{ event_id: 'i7', event_type: 'x', result: 7 }], unchanged: [{ machine: 'essay', entity_id: 'e1', version: 1 }] });
    const error = await rejection(ctx.store.commit(stale), 'VERSION_CONFLICT');
    expect(error.details).toEqual({ machine: 'essay', entity_id: 'e1', expected_version: 1, actual_version: 2 });
    expect(await observe(ctx.store, ['i7'])).toEqual(before);
    const missing = batch({ inbox: [{ event_id: 'i8', event_type: 'x', result: 8 }], unchanged: [{ machine: 'essay', entity_id: 'ghost', version: 1 }] });
    expect((await rejection(ctx.store.commit(missing), 'VERSION_CONFLICT')).details).toMatchObject({ entity_id: 'ghost', actual_version: 0 });
  });

  it('an empty batch commits and assigns no audit positions', async () => {
    const result = await ctx.store.commit(batch());
    expect(result.auditPositions).toEqual([]);
    expect(result.committedAt).toMatch(ISO);
  });
}

function readContracts(ctx: Ctx): void {
  it('loadMany returns the existing rows keyed machine\\u0000entity_id and omits missing ones', async () => {
    await ctx.store.commit(batch({ entities: [entity('e1'), entity('e2'), entity('x', { machine: 'batch', parent_id: null })] }));
    const found = await ctx.store.loadMany([
      { machine: 'essay', entity_id: 'e1' }, { machine: 'essay', entity_id: 'x' }, { machine: 'batch', entity_id: 'x' }, { machine: 'essay', entity_id: 'e3' },
    ]);
    expect([...found.keys()].sort()).toEqual([key('batch', 'x'), key('essay', 'e1')]);
    expect(found.get(key('essay', 'e1'))).toEqual(await ctx.store.load('essay', 'e1'));
    expect((await ctx.store.loadMany([])).size).toBe(0);
  });

  it('findInbox returns the stored result of committed event ids only', async () => {
    await ctx.store.commit(batch({ inbox: [{ event_id: 'i1', event_type: 'x', result: { answer: [1, 'two'] } }, { event_id: 'i2', event_type: 'y', result: null }] }));
    const found = await ctx.store.findInbox(['i1', 'i2', 'i3']);
    expect([...found.entries()]).toEqual([['i1', { answer: [1, 'two'] }], ['i2', null]]);
    expect((await ctx.store.findInbox([])).size).toBe(0);
  });
}

function auditContracts(ctx: Ctx): void {
  it('auditPositions are strictly increasing, follow batch.audit order across commits, and match the stored rows', async () => {
    const first = await ctx.store.commit(batch({ audit: [audit('a1'), audit('a2'), audit('a3', { entity_id: 'e2' })] }));
    const second = await ctx.store.commit(batch({ audit: [audit('a4'), audit('a5')] }));
    const positions = [...first.auditPositions, ...second.auditPositions];
    positions.forEach((p, i) => { if (i > 0) expect(p).toBeGreaterThan(positions[i - 1]!); });
    const feed = await ctx.store.auditSince(0, 100);
    expect(feed.map((a) => [a.position, a.event_id])).toEqual(positions.map((p, i) => [p, `a${i + 1}`]));
    expect(feed.map((a) => a.recorded_at)).toEqual([...Array<string>(3).fill(first.committedAt), second.committedAt, second.committedAt]);
  });

  it('history returns one entity\'s entries with every field, ascending, after afterPosition and capped by limit', async () => {
    const refused = audit('a2', { outcome: 'refused', reason: 'cannot grade a pending essay', entity_version: null, to_status: null, causation_id: 'a1' });
    const { auditPositions: [p1, p2, , p4] } = await ctx.store.commit(batch({ audit: [audit('a1'), refused, audit('x', { entity_id: 'e2' }), audit('a3', { machine: 'batch' })] }));
    const { committedAt, auditPositions: [p5] } = await ctx.store.commit(batch({ audit: [audit('a4')] }));
    const all = await ctx.store.history('essay', 'e1');
    expect(all.map((a) => a.event_id)).toEqual(['a1', 'a2', 'a4']);
    expect(all[1]).toEqual({ ...refused, position: p2, recorded_at: all[0]!.recorded_at });
    expect(all[2]).toEqual({ ...audit('a4'), position: p5, recorded_at: committedAt });
    expect((await ctx.store.history('essay', 'e1', { afterPosition: p1! })).map((a) => a.event_id)).toEqual(['a2', 'a4']);
    expect((await ctx.store.history('essay', 'e1', { limit: 2 })).map((a) => a.event_id)).toEqual(['a1', 'a2']);
    expect((await ctx.store.history('batch', 'e1')).map((a) => a.position)).toEqual([p4]);
    expect(await ctx.store.history('essay', 'none')).toEqual([]);
  });

  it('each audit row keeps the machine version that produced it; a row written without one reads back null', async () => {
    const { auditPositions: [p1, p2] } = await ctx.store.commit(batch({ audit: [audit('v7', { machine_version: 7 }), withoutVersion(audit('v-none'))] }));
    const rows = await ctx.store.history('essay', 'e1');
    expect(rows.map((row) => [row.position, row.machine_version])).toEqual([[p1, 7], [p2, null]]);
    expect((await ctx.store.auditSince(0, 10)).map((row) => row.machine_version)).toEqual([7, null]);
  });

  it('auditSince is the global feed in ascending position after the given position, capped by limit', async () => {
    const { auditPositions } = await ctx.store.commit(batch({ audit: ['a1', 'a2', 'a3', 'a4'].map((id, i) => audit(id, { entity_id: `e${i}` })) }));
    expect((await ctx.store.auditSince(auditPositions[0]!, 2)).map((a) => a.event_id)).toEqual(['a2', 'a3']);
    expect((await ctx.store.auditSince(auditPositions[3]!, 10))).toEqual([]);
    expect((await ctx.store.auditSince(0, 10)).length).toBe(4);
  });
}

function listContracts(ctx: Ctx): void {
  it('list filters by machine, status and parent_id, orders by created_at then entity_id, and pages with limit/offset', async () => {
    const rows = [entity('e1', { status: 'done' }), entity('e2', { status: 'pending' }), entity('e3', { status: 'done', parent_id: 'b2' })];
    for (const row of rows) await ctx.store.commit(batch({ entities: [row] }));
    await ctx.store.commit(batch({ entities: [entity('e4', { status: 'done' }), entity('b1', { machine: 'batch', parent_id: null, status: 'done' })] }));
    const ids = async (q: Parameters<SnapshotStore['list']>[0]) => (await ctx.store.list(q)).map((r) => r.entity_id);
    expect(await ids({ machine: 'essay' })).toEqual(['e1', 'e2', 'e3', 'e4']);
    expect(await ids({ machine: 'essay', status: 'done' })).toEqual(['e1', 'e3', 'e4']);
    expect(await ids({ machine: 'essay', parent_id: 'b1' })).toEqual(['e1', 'e2', 'e4']);
    expect(await ids({ machine: 'essay', parent_id: 'b1', status: 'done' })).toEqual(['e1', 'e4']);
    expect(await ids({ machine: 'essay', limit: 2, offset: 1 })).toEqual(['e2', 'e3']);
    expect(await ids({ machine: 'essay', offset: 10 })).toEqual([]);
    expect(await ids({ machine: 'batch' })).toEqual(['b1']);
    expect((await ctx.store.list({ machine: 'essay', status: 'done', limit: 1 }))[0]).toEqual(await ctx.store.load('essay', 'e1'));
  });

  it('list returns 100 rows by default and at most 1000 however large the limit', async () => {
    const many = Array.from({ length: 1001 }, (_, i) => entity(`e${String(i).padStart(4, '0')}`));
    await ctx.store.commit(batch({ entities: many }));
    expect((await ctx.store.list({ machine: 'essay' })).length).toBe(100);
    expect((await ctx.store.list({ machine: 'essay', limit: 5000 })).length).toBe(1000);
  });

  it('countByStatus counts rows per machine and status, ordered, optionally for one machine', async () => {
    await ctx.store.commit(batch({
      entities: [entity('e1', { status: 'done' }), entity('e2'), entity('e3', { status: 'done' }), entity('b1', { machine: 'batch', status: 'open' })],
    }));
    expect(await ctx.store.countByStatus()).toEqual([
      { machine: 'batch', status: 'open', count: 1 }, { machine: 'essay', status: 'done', count: 2 }, { machine: 'essay', status: 'pending', count: 1 },
    ]);
    expect(await ctx.store.countByStatus('batch')).toEqual([{ machine: 'batch', status: 'open', count: 1 }]);
    expect(await ctx.store.countByStatus('nothing')).toEqual([]);
  });
}

function timerContracts(ctx: Ctx): void {
  const d = (day: number): string => `2030-01-${String(day).padStart(2, '0')}T00:00:00.000Z`;

  it('dueTimers returns unfired timers due at or before now (inclusive), ascending due_at then timer_id, capped by limit', async () => {
    const { committedAt } = await ctx.store.commit(batch({ timersSet: [timer('t3', d(3)), timer('t1', d(1)), timer('t2b', d(2)), timer('t2a', d(2), { entity_id: 'b2' })] }));
    expect(await ctx.store.dueTimers(d(1), 10)).toEqual([{ ...timer('t1', d(1)), created_at: committedAt, fired_at: null }]);
    expect((await ctx.store.dueTimers(d(2), 10)).map((t) => t.timer_id)).toEqual(['t1', 't2a', 't2b']);
    expect((await ctx.store.dueTimers(d(9), 2)).map((t) => t.timer_id)).toEqual(['t1', 't2a']);
    expect(await ctx.store.dueTimers('2029-12-31T23:59:59.999Z', 10)).toEqual([]);
    expect(await ctx.store.nextTimerDue()).toBe(d(1));
  });

  it('nextTimerDue is undefined when no unfired timer exists, and a fired timer is neither due nor next', async () => {
    expect(await ctx.store.nextTimerDue()).toBeUndefined();
    await ctx.store.commit(batch({ timersSet: [timer('t1', d(1)), timer('t2', d(2))] }));
    await ctx.store.commit(batch({ timersFired: ['t1'] }));
    expect((await ctx.store.dueTimers(d(9), 10)).map((t) => t.timer_id)).toEqual(['t2']);
    expect(await ctx.store.nextTimerDue()).toBe(d(2));
    await ctx.store.commit(batch({ timersFired: ['t2'] }));
    expect(await ctx.store.nextTimerDue()).toBeUndefined();
  });

  it('firing a timer that is not waiting (fired already, or unknown) is a VERSION_CONFLICT naming it, and the batch writes nothing', async () => {
    await ctx.store.commit(batch({ timersSet: [timer('t1', d(1)), timer('t2', d(2))] }));
    await ctx.store.commit(batch({ timersFired: ['t1'] }));
    for (const fired of [['t2', 't1'], ['missing'], ['t2', 't2']]) {
      const failure = await ctx.store.commit(batch({ timersFired: fired, inbox: [{ event_id: `i-${fired.join('-')}`, event_type: 'x', result: { ok: 1 } }] })).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toMatchObject({ code: 'VERSION_CONFLICT', details: { timer_id: fired.at(-1) } });
      expect(await ctx.store.findInbox([`i-${fired.join('-')}`])).toEqual(new Map());
    }
    expect((await ctx.store.dueTimers(d(9), 10)).map((t) => t.timer_id)).toEqual(['t2']);
  });

  it('a batch firing a timer applies the firing first: the re-arming or cancel of its own cascade comes after it', async () => {
    await ctx.store.commit(batch({ timersSet: [timer('t1', d(1)), timer('t2', d(1))] }));
    await ctx.store.commit(batch({ timersFired: ['t1', 't2'], timersSet: [timer('t1', d(5))], timersCancelled: ['t2'] }));
    expect((await ctx.store.dueTimers(d(9), 10)).map((t) => [t.timer_id, t.due_at, t.fired_at])).toEqual([['t1', d(5), null]]);
  });

  it('re-arming a timer replaces due_at and event, clears fired_at and keeps created_at', async () => {
    const { committedAt } = await ctx.store.commit(batch({ timersSet: [timer('t1', d(1))] }));
    await ctx.store.commit(batch({ timersFired: ['t1'] }));
    await ctx.store.commit(batch({ timersSet: [timer('t1', d(5), { event: { type: 'again' } })] }));
    expect(await ctx.store.dueTimers(d(4), 10)).toEqual([]);
    expect(await ctx.store.dueTimers(d(5), 10)).toEqual([{ ...timer('t1', d(5), { event: { type: 'again' } }), created_at: committedAt, fired_at: null }]);
  });

  it('cancelling deletes a timer and cancelling an unknown id is ignored', async () => {
    await ctx.store.commit(batch({ timersSet: [timer('t1', d(1)), timer('t2', d(2))] }));
    await ctx.store.commit(batch({ timersCancelled: ['t1', 'missing'] }));
    expect((await ctx.store.dueTimers(d(9), 10)).map((t) => t.timer_id)).toEqual(['t2']);
    expect(await ctx.store.nextTimerDue()).toBe(d(2));
  });
}

function outboxContracts(ctx: Ctx): void {
  it('pendingOutbox returns unpublished rows in ascending id with every field, attempts 0 and no error', async () => {
    const { committedAt } = await ctx.store.commit(batch({ outbox: [outbox('o1', { internal: true }), outbox('o2', { aggregate_id: 'b2' }), outbox('o3')] }));
    const pending = await ctx.store.pendingOutbox(2);
    expect(pending).toEqual([
      { ...outbox('o1', { internal: true }), id: pending[0]!.id, created_at: committedAt, published_at: null, attempts: 0, last_error: null },
      { ...outbox('o2', { aggregate_id: 'b2' }), id: pending[1]!.id, created_at: committedAt, published_at: null, attempts: 0, last_error: null },
    ]);
    expect(pending[1]!.id).toBeGreaterThan(pending[0]!.id);
  });

  it('markPublished removes rows from pending, is idempotent, ignores unknown ids, and outboxCount splits by published', async () => {
    await ctx.store.commit(batch({ outbox: [outbox('o1'), outbox('o2'), outbox('o3')] }));
    const [o1, o2, o3] = await ctx.store.pendingOutbox(10);
    await ctx.store.markPublished([o1!.id, o3!.id, 999_999], '2030-01-01T00:00:00.000Z');
    await ctx.store.markPublished([o1!.id], '2030-01-02T00:00:00.000Z');
    await ctx.store.markPublished([], '2030-01-02T00:00:00.000Z');
    expect((await ctx.store.pendingOutbox(10)).map((o) => o.id)).toEqual([o2!.id]);
    expect(await ctx.store.outboxCount()).toBe(3);
    expect(await ctx.store.outboxCount({ published: true })).toBe(2);
    expect(await ctx.store.outboxCount({ published: false })).toBe(1);
  });

  it('markPublishFailed increments attempts and records last_error while the row stays pending', async () => {
    await ctx.store.commit(batch({ outbox: [outbox('o1'), outbox('o2')] }));
    const [o1] = await ctx.store.pendingOutbox(10);
    await ctx.store.markPublishFailed(o1!.id, 'broker down');
    await ctx.store.markPublishFailed(o1!.id, 'broker still down');
    await ctx.store.markPublishFailed(999_999, 'unknown id is ignored');
    const pending = await ctx.store.pendingOutbox(10);
    expect(pending.map((o) => [o.event_id, o.attempts, o.last_error])).toEqual([['o1', 2, 'broker still down'], ['o2', 0, null]]);
  });
}

function unreadableContracts(ctx: Ctx): void {
  it('a corrupt snapshot row makes load, loadMany and list throw SNAPSHOT_CORRUPT naming machine and entity; other rows stay readable', async ({ skip }) => {
    if (ctx.corrupt === undefined) return skip('this store cannot hold an unreadable row');
    await ctx.store.commit(batch({ entities: [entity('good'), entity('bad')] }));
    await ctx.corrupt('essay', 'bad');
    for (const read of [
      () => ctx.store.load('essay', 'bad'),
      () => ctx.store.loadMany([{ machine: 'essay', entity_id: 'good' }, { machine: 'essay', entity_id: 'bad' }]),
      () => ctx.store.list({ machine: 'essay' }),
    ]) {
      const error = await rejection(read(), 'SNAPSHOT_CORRUPT');
      expect(error.message).toContain("essay 'bad'");
      expect(error.details).toEqual({ machine: 'essay', entity_id: 'bad' });
    }
    expect((await ctx.store.load('essay', 'good'))?.snapshot).toEqual(entity('good').snapshot);
  });
}

/** Registers the contract suite of the store port for one implementation. */
export function describeSnapshotStore(name: string, makeStore: StoreFactory): void {
  describe(`SnapshotStore contract: ${name}`, () => {
    const ctx = {} as Ctx;
    let close: () => Promise<void> = () => Promise.resolve();
    beforeEach(async () => {
      const made = await makeStore();
      ctx.store = made.store;
      ctx.corrupt = made.corrupt;
      close = made.close;
    });
    afterEach(async () => {
      await close();
    });

    describe('entities', () => entityContracts(ctx));
    describe('compare-and-set', () => compareAndSetContracts(ctx));
    describe('commit atomicity and idempotency', () => atomicityContracts(ctx));
    describe('batched reads', () => readContracts(ctx));
    describe('audit log', () => auditContracts(ctx));
    describe('listing and counts', () => listContracts(ctx));
    describe('timers', () => timerContracts(ctx));
    describe('outbox', () => outboxContracts(ctx));
    describe('unreadable rows', () => unreadableContracts(ctx));

    it('close is idempotent and every later call rejects with STORE_FAILURE', async () => {
      await ctx.store.close();
      await ctx.store.close();
      await rejection(ctx.store.load('essay', 'e1'), 'STORE_FAILURE');
      await rejection(ctx.store.commit(batch({ entities: [entity('e1')] })), 'STORE_FAILURE');
    });
  });
}
