/**
 * Review: SqliteStore.history reads the live audit rows, then the archive, in separate statements
 * outside one read transaction. A batch archived by another connection in between (lifecycle-prune
 * in another process) is read twice: live, then from the archive, so the page holds every row twice
 * (rebuildEntity, which replays `history`, then replays each event twice). The interleaving is
 * forced by archiving from the other connection at that point.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { archiveClosedBatches } from '../../adapters/engine/archive.js';
import { openSqliteStore } from '../../adapters/sqlite/store.js';
import { batchEvents, clockedStore, dispatchAll } from '../support/archive-kit.js';
import { removeTempDirs, tempDir } from '../support/reliability-kit.js';

afterAll(removeTempDirs);
const T0 = '2026-03-01T12:00:00.000Z';

describe('regression: history racing an archive', () => {
  it('history answers each audit row once when another connection archives the batch between the live and the archive read', async () => {
    const path = join(tempDir('review-history-race-'), 'store.db');
    const { store, engine } = clockedStore(path, T0);
    await dispatchAll(engine, batchEvents('guest', 'race-h', 2));
    const before = await store.history('batch', 'race-h');
    expect(before.length).toBeGreaterThan(1);
    const other = openSqliteStore({ path });
    const archives = (store as unknown as { archives: { archiveOf: (machine: string, entityId: string) => unknown } }).archives;
    const archiveOf = archives.archiveOf.bind(archives);
    let archived = false;
    archives.archiveOf = (machine, entityId) => {
      if (!archived) {
        archived = true;
        // SQLite stores run synchronously: the other connection's archive commits right here.
        void archiveClosedBatches(other, { archiveDays: 0, now: new Date(T0) });
      }
      return archiveOf(machine, entityId);
    };
    const after = await store.history('batch', 'race-h');
    expect(archived).toBe(true);
    expect(after.map((row) => row.position)).toEqual(before.map((row) => row.position));
    await other.close();
    await store.close();
  });
});
