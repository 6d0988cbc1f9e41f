/**
 * Review: SqliteStore.load reads the live row and, when there is none, the archive in separate
 * statements, outside one read transaction (loadMany has one). A batch restored by another
 * connection between those two statements (a late event's commit in another process, or
 * `lifecycle-prune --restore`) makes `load` answer undefined for an entity that exists all along:
 * the engine then answers ENTITY_NOT_FOUND (HTTP 404, a queue dead letter) or records a refusal.
 * The interleaving is forced by running the other connection's restore at that point.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { archiveClosedBatches, restoreBatch } from '../../adapters/engine/archive.js';
import { openSqliteStore } from '../../adapters/sqlite/store.js';
import { batchEvents, clockedStore, dispatchAll } from '../support/archive-kit.js';
import { removeTempDirs, tempDir } from '../support/reliability-kit.js';

afterAll(removeTempDirs);
const T0 = '2026-03-01T12:00:00.000Z';

describe('regression: load of an archived entity racing a restore', () => {
  it('load still finds an entity whose batch another connection restores between its live and archive reads', async () => {
    const path = join(tempDir('review-archive-race-'), 'store.db');
    const { store, engine } = clockedStore(path, T0);
    await dispatchAll(engine, batchEvents('guest', 'race-b', 2));
    expect((await archiveClosedBatches(store, { archiveDays: 0, now: new Date(T0) })).archived.length).toBe(1);
    const other = openSqliteStore({ path });
    // The other connection restores the batch right after this one found no live row.
    const reads = (store as unknown as { archived: { entity: (m: string, e: string) => unknown } }).archived;
    const archivedEntity = reads.entity.bind(reads);
    let restored = false;
    reads.entity = (machine, entityId) => {
      if (!restored) {
        restored = true;
        // SQLite stores run synchronously: the other connection's restore commits right here.
        void restoreBatch(other, 'race-b');
      }
      return archivedEntity(machine, entityId);
    };
    const record = await store.load('batch', 'race-b');
    expect(restored).toBe(true);
    expect(record?.entity_id).toBe('race-b');
    await other.close();
    await store.close();
  });

  it('findInbox still answers an archived event whose batch another connection restores between the inbox and the archive read', async () => {
    const path = join(tempDir('review-archive-race-'), 'store.db');
    const { store, engine } = clockedStore(path, T0);
    const events = batchEvents('guest', 'race-c', 2);
    await dispatchAll(engine, events);
    const eventId = String(events[0]?.event_id);
    const before = (await store.findInbox([eventId])).get(eventId);
    expect(before).toBeDefined();
    expect((await archiveClosedBatches(store, { archiveDays: 0, now: new Date(T0) })).archived.length).toBe(1);
    const other = openSqliteStore({ path });
    const archives = (store as unknown as { archives: { auditAt: (position: number) => unknown } }).archives;
    const auditAt = archives.auditAt.bind(archives);
    let restored = false;
    archives.auditAt = (position) => {
      if (!restored) {
        restored = true;
        void restoreBatch(other, 'race-c');
      }
      return auditAt(position);
    };
    const after = await store.findInbox([eventId]).then((found) => found.get(eventId), (error: unknown) => error);
    expect(restored).toBe(true);
    expect(after).toEqual(before);
    await other.close();
    await store.close();
  });
});
