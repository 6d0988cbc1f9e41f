/**
 * Batch archives (issue #20): closed batches move into one compressed row each, and every read of
 * them stays what it was; a later event restores the batch first and is answered as if it had
 * never been archived; restore gives back the very rows; a damaged archive is a clear error.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { archiveClosedBatches, restoreBatch } from '../adapters/engine/archive.js';
import { LifecycleEngine } from '../adapters/engine/engine.js';
import { rebuildEntity } from '../adapters/engine/rebuild.js';
import { defaultMachines } from '../adapters/engine/registry.js';
import { pruneStore } from '../adapters/engine/retention.js';
import { createMemoryStore } from '../adapters/memory/index.js';
import { openSqliteStore } from '../adapters/sqlite/store.js';
import {
  batchEvents,
  clockedStore,
  closeRequest,
  dispatchAll,
  eventIdsOf,
  membersOf,
  readsOf,
  rowsOf,
  tableCounts,
} from './support/archive-kit.js';
import { pipelineRequest, spellchecked } from './support/envelopes.js';
import { removeTempDirs, tempDir } from './support/reliability-kit.js';

const T0 = '2026-03-01T12:00:00.000Z';
const DAY_MS = 86_400_000;
const day = (n: number): Date => new Date(Date.parse(T0) + n * DAY_MS);

afterAll(removeTempDirs);

/** How many archived entities have rows in more than one chunk of their archive. */
function entitiesSpanningChunks(store: ReturnType<typeof openSqliteStore>): number {
  const query = 'SELECT COUNT(*) AS n FROM (SELECT entity_key FROM archived_entities GROUP BY entity_key, archive_id HAVING COUNT(*) > 1)';
  return (store.db.prepare(query).get() as { n: number }).n;
}

/** The events of a closed GUEST batch, a closed REGULAR batch and an open batch. */
function threeBatchEvents() {
  return { guest: batchEvents('guest', 'arc-guest', 4), regular: batchEvents('regular', 'arc-regular', 3), open: batchEvents('guest', 'arc-open', 3, { open: true }) };
}

/** A store with those three batches (the closed ones closed at T0). */
async function threeBatches(path = ':memory:', events = threeBatchEvents()) {
  const world = clockedStore(path, T0);
  await dispatchAll(world.engine, [...events.guest, ...events.regular, ...events.open]);
  return { ...world, ...events };
}

describe('archiveClosedBatches', () => {
  /** Chunk settings: the default, one entity a chunk, and 2 audit rows a chunk (most entities' rows then span several chunks). */
  const CHUNKINGS = [{ chunkEntities: 1000 }, { chunkEntities: 1 }, { chunkEntities: 1000, chunkAuditRows: 2 }];

  it.each(CHUNKINGS)('moves each closed batch into one archive row (chunks of %o) and every read of its entities, histories, listings and kept answers stays the same', async (chunking) => {
    const { store, guest, regular, open } = await threeBatches();
    const batches = [
      { id: 'arc-guest', events: guest },
      { id: 'arc-regular', events: regular },
      { id: 'arc-open', events: open },
    ].map((b) => ({ ...b, members: membersOf(store, b.id) }));
    expect(batches[1]?.members.map((m) => m.machine)).toContain('associations');
    const before = await Promise.all(batches.map((b) => readsOf(store, b.members, eventIdsOf(b.events))));
    const openRows = rowsOf(store, batches[2]?.members ?? []);
    expect(store.db.prepare('SELECT COUNT(*) AS n FROM audit WHERE envelope_of IS NOT NULL').get()).not.toEqual({ n: 0 });

    const report = await archiveClosedBatches(store, { archiveDays: 0, now: day(0), ...chunking });
    expect(report.archived.map((a) => a.batch_id).sort()).toEqual(['arc-guest', 'arc-regular']);
    if (chunking.chunkAuditRows !== undefined) expect(entitiesSpanningChunks(store)).toBeGreaterThan(0);
    expect(membersOf(store, 'arc-guest')).toEqual([]);
    expect(membersOf(store, 'arc-regular')).toEqual([]);
    expect(tableCounts(store).batch_archives).toBe(2);

    const after = await Promise.all(batches.map((b) => readsOf(store, b.members, eventIdsOf(b.events))));
    expect(after).toEqual(before);
    expect(rowsOf(store, batches[2]?.members ?? [])).toEqual(openRows);
    await store.close();
  });

  it('archives only batches closed at least archiveDays ago, never an open one, and a second call archives nothing', async () => {
    const { clock, store, engine } = clockedStore(':memory:', T0);
    await dispatchAll(engine, batchEvents('guest', 'old', 2));
    clock.now = day(10);
    await dispatchAll(engine, batchEvents('guest', 'young', 2));
    await dispatchAll(engine, batchEvents('guest', 'running', 2, { open: true }));

    expect((await archiveClosedBatches(store, { archiveDays: 15, now: day(12) })).archived).toEqual([]);
    expect((await archiveClosedBatches(store, { archiveDays: 5, now: day(12) })).archived.map((a) => a.batch_id)).toEqual(['old']);
    const counts = tableCounts(store);
    expect((await archiveClosedBatches(store, { archiveDays: 5, now: day(12) })).archived).toEqual([]);
    expect((await archiveClosedBatches(store, { archiveDays: 0, now: day(400) })).archived.map((a) => a.batch_id)).toEqual(['young']);
    expect(tableCounts(store).batch_archives).toBe((counts.batch_archives ?? 0) + 1);
    expect(membersOf(store, 'running').length).toBeGreaterThan(0);
    expect((await store.load('batch', 'running'))?.status).toBe('ready_for_pipeline_execution');
    await store.close();
  });

  it('refuses a negative window, and a store without archives answers UNSUPPORTED_OPERATION', async () => {
    const store = openSqliteStore({ path: ':memory:' });
    await expect(archiveClosedBatches(store, { archiveDays: -1 })).rejects.toMatchObject({ code: 'INVALID_CONFIGURATION', message: expect.stringMatching(/archiveDays/) });
    await expect(archiveClosedBatches(store, { chunkEntities: 0 })).rejects.toMatchObject({ code: 'INVALID_CONFIGURATION', message: expect.stringMatching(/chunkEntities/) });
    await expect(archiveClosedBatches(store, { chunkAuditRows: 1.5 })).rejects.toMatchObject({ code: 'INVALID_CONFIGURATION', message: expect.stringMatching(/chunkAuditRows/) });
    await expect(archiveClosedBatches(createMemoryStore())).rejects.toMatchObject({ code: 'UNSUPPORTED_OPERATION', message: expect.stringMatching(/memory store/) });
    await expect(restoreBatch(createMemoryStore(), 'b')).rejects.toMatchObject({ code: 'UNSUPPORTED_OPERATION' });
    await store.close();
  });
});

describe('restoreBatch', () => {
  it.each([{ chunkEntities: 1000 }, { chunkEntities: 1 }, { chunkEntities: 1000, chunkAuditRows: 2 }])(
    'puts back byte-identical rows at their positions (chunks of %o), and the batch can be archived again',
    async (chunking) => {
    const { store } = await threeBatches();
    const members = membersOf(store, 'arc-regular');
    const rows = rowsOf(store, members);
    const counts = tableCounts(store);
    await archiveClosedBatches(store, { archiveDays: 0, now: day(0), ...chunking });

    const restored = await restoreBatch(store, 'arc-regular');
    expect(restored).toEqual({ batch_id: 'arc-regular', entities: rows.entities?.length, parts: rows.entity_parts?.length, audit_rows: rows.audit?.length });
    expect(rowsOf(store, members)).toEqual(rows);
    await restoreBatch(store, 'arc-guest');
    expect(tableCounts(store)).toEqual(counts);
    await expect(restoreBatch(store, 'arc-guest')).rejects.toMatchObject({ code: 'ENTITY_NOT_FOUND', message: expect.stringMatching(/arc-guest/) });
    expect((await archiveClosedBatches(store, { archiveDays: 0, now: day(0) })).archived).toHaveLength(2);
    await store.close();
    },
  );

  it('a damaged archive is ARCHIVE_CORRUPT on read and on restore, and nothing changes', async () => {
    const { store } = await threeBatches();
    await archiveClosedBatches(store, { archiveDays: 0, now: day(0) });
    store.db.prepare("UPDATE batch_archives SET blob = CAST(substr(blob, 1, 40) || x'00ff' || substr(blob, 43) AS BLOB) WHERE batch_id = 'arc-guest'").run();
    const damaged = store.db.prepare('SELECT * FROM batch_archives ORDER BY archive_id').all();
    const counts = tableCounts(store);

    await expect(store.load('batch', 'arc-guest')).rejects.toMatchObject({ code: 'ARCHIVE_CORRUPT', message: expect.stringMatching(/arc-guest/) });
    await expect(restoreBatch(store, 'arc-guest')).rejects.toMatchObject({ code: 'ARCHIVE_CORRUPT' });
    expect(store.db.prepare('SELECT * FROM batch_archives ORDER BY archive_id').all()).toEqual(damaged);
    expect(tableCounts(store)).toEqual(counts);
    expect((await store.load('batch', 'arc-regular'))?.status).toBe('completed_successfully');
    await store.close();
  });
});

describe('events to an archived batch', () => {
  it('restore the batch in the same commit and get the very answers a never-archived twin gives', async () => {
    const events = threeBatchEvents();
    const archived = await threeBatches(':memory:', events);
    const twin = await threeBatches(':memory:', events);
    await archiveClosedBatches(archived.store, { archiveDays: 0, now: day(0) });
    archived.clock.now = day(1);
    twin.clock.now = day(1);
    const late = [
      archived.guest[0] as Record<string, unknown>, // a redelivery: duplicate, with the first answer
      closeRequest('arc-guest'), // refused: the batch is closed
      spellchecked('arc-regular', 'arc-regular-essay-1', true), // a late essay result
      pipelineRequest('arc-regular', 'nlp'),
    ];
    const fresh = new LifecycleEngine({ store: archived.store, clock: () => archived.clock.now, invariants: 'refuse' });
    for (const [index, raw] of late.entries()) {
      const engine = index % 2 === 0 ? archived.engine : fresh;
      expect(JSON.stringify(await engine.dispatch(raw))).toBe(JSON.stringify(await twin.engine.dispatch(raw)));
    }
    expect(tableCounts(archived.store).batch_archives).toBe(0);
    for (const batchId of ['arc-guest', 'arc-regular']) {
      const members = membersOf(twin.store, batchId);
      expect(rowsOf(archived.store, members)).toEqual(rowsOf(twin.store, members));
    }
    await Promise.all([archived.store.close(), twin.store.close()]);
  });

  it('the global feed (auditSince) covers live rows only until the batch is restored', async () => {
    const { store } = await threeBatches();
    const all = await store.auditSince(0, 1000);
    await archiveClosedBatches(store, { archiveDays: 0, now: day(0) });
    const live = await store.auditSince(0, 1000);
    expect(live.every((row) => row.entity_id.startsWith('arc-open'))).toBe(true);
    expect(live).toEqual(all.filter((row) => row.entity_id.startsWith('arc-open')));
    await restoreBatch(store, 'arc-guest');
    await restoreBatch(store, 'arc-regular');
    expect(await store.auditSince(0, 1000)).toEqual(all);
    await store.close();
  });

  it('rebuildEntity of an archived entity (it reads history) gives what it gave before archiving', async () => {
    const { store } = await threeBatches();
    const members = membersOf(store, 'arc-regular');
    const rebuild = () => Promise.all(members.map((m) => rebuildEntity(store, defaultMachines(), m.machine, m.entity_id)));
    const before = JSON.stringify(await rebuild());
    await archiveClosedBatches(store, { archiveDays: 0, now: day(0) });
    expect(JSON.stringify(await rebuild())).toBe(before);
    await store.close();
  });

  it('retention still prunes the idempotency keys of archived events once their window is past', async () => {
    const { store, guest } = await threeBatches(join(tempDir('archive-prune-'), 'db.sqlite'));
    await archiveClosedBatches(store, { archiveDays: 0, now: day(0) });
    expect((await store.findInbox(eventIdsOf(guest))).size).toBe(guest.length);
    const report = await pruneStore(store, { inboxDays: 7, outboxDays: 7 }, day(8));
    expect(report.inbox).toBeGreaterThanOrEqual(guest.length);
    expect((await store.findInbox(eventIdsOf(guest))).size).toBe(0);
    await store.close();
  });
});
