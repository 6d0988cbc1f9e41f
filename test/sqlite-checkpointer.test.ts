import { copyFileSync, existsSync, mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { isLifecycleError } from '../adapters/errors.js';
import { START_AFTER_COMMITS } from '../adapters/sqlite/checkpointer.js';
import { openSqliteStore, type SqliteStore } from '../adapters/sqlite/store.js';
import type { CommitBatch } from '../adapters/store.js';

const dirs: string[] = [];
function tempPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sqlite-checkpointer-'));
  dirs.push(dir);
  return join(dir, 'store.db');
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Commits one new essay entity per call. */
async function commitEntities(store: SqliteStore, from: number, count: number): Promise<void> {
  for (let k = from; k < from + count; k += 1) {
    const batch: CommitBatch = {
      entities: [{ machine: 'essay', entity_id: `e-${k}`, parent_id: 'b1', expected_version: 0, machine_version: 1, status: 'pending', snapshot: { k } }],
      audit: [], outbox: [], inbox: [], timersSet: [], timersCancelled: [], timersFired: [],
    };
    await store.commit(batch);
  }
}

/** Entities in a copy of the database file alone (no WAL): what a checkpoint has copied there. */
function entitiesInMainFile(path: string): number {
  const copy = `${path}.copy-${Date.now()}`;
  copyFileSync(path, copy);
  try {
    const db = new Database(copy, { readonly: true });
    try {
      return (db.prepare('SELECT count(*) AS n FROM entities').get() as { n: number }).n;
    } finally {
      db.close();
    }
  } catch {
    return -1;
  } finally {
    unlinkSync(copy);
  }
}

async function waitFor(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('background WAL checkpoints (adapters/sqlite/checkpointer.ts)', () => {
  it(`starts its thread only after ${START_AFTER_COMMITS} commits, then raises the writer's own checkpoint to a safety net`, async () => {
    const store = openSqliteStore({ path: tempPath() });
    try {
      await commitEntities(store, 0, START_AFTER_COMMITS - 1);
      expect([store.checkpointer?.running, store.db.pragma('wal_autocheckpoint', { simple: true })]).toEqual([false, 1000]);
      await commitEntities(store, START_AFTER_COMMITS, 1);
      expect([store.checkpointer?.running, store.db.pragma('wal_autocheckpoint', { simple: true })]).toEqual([true, 10_000]);
    } finally {
      await store.close();
    }
  });

  it('copies committed rows into the database file without the writer checkpointing: a copy of the file alone holds them', async () => {
    const path = tempPath();
    const store = openSqliteStore({ path });
    try {
      store.checkpointer?.start();
      await commitEntities(store, 0, 50);
      await waitFor(() => entitiesInMainFile(path) === 50, 'the 50 entities in the database file');
    } finally {
      await store.close();
    }
  });

  it('close stops the thread and, as the last connection, merges and removes the WAL', async () => {
    const path = tempPath();
    const store = openSqliteStore({ path });
    store.checkpointer?.start();
    await commitEntities(store, 0, 10);
    await store.close();
    expect([store.checkpointer?.running, existsSync(`${path}-wal`), entitiesInMainFile(path)]).toEqual([false, false, 10]);
  });

  it('inline mode and in-memory stores have no checkpointer', async () => {
    const inline = openSqliteStore({ path: tempPath(), checkpoint: 'inline' });
    const memory = openSqliteStore({ path: ':memory:' });
    await commitEntities(inline, 0, START_AFTER_COMMITS);
    expect([inline.checkpointer, memory.checkpointer, inline.db.pragma('wal_autocheckpoint', { simple: true })]).toEqual([undefined, undefined, 1000]);
    await inline.close();
    await memory.close();
  });

  it('a checkpointer that cannot work reports once and the writer checkpoints inline again; commits go on', async () => {
    const path = tempPath();
    const errors: Error[] = [];
    const store = openSqliteStore({ path, onCheckpointError: (error) => errors.push(error) });
    try {
      await commitEntities(store, 0, 1);
      // The thread opens the file by name: with the name gone it fails at once (this connection keeps its open file).
      unlinkSync(path);
      store.checkpointer?.start();
      await waitFor(() => errors.length > 0, 'the failure report');
      await commitEntities(store, 1, 5);
      expect(errors.map((error) => error.message)).toEqual([expect.stringMatching(/background WAL checkpointer stopped .*checkpoints run inline again/)]);
      expect([store.checkpointer?.running, store.db.pragma('wal_autocheckpoint', { simple: true })]).toEqual([false, 1000]);
      expect((store.db.prepare('SELECT count(*) AS n FROM entities').get() as { n: number }).n).toBe(6);
    } finally {
      await store.close();
    }
  });

  it('refuses an unknown checkpoint mode with INVALID_CONFIGURATION naming it', () => {
    let caught: unknown;
    try {
      openSqliteStore({ path: tempPath(), checkpoint: 'sometimes' as never });
    } catch (error) {
      caught = error;
    }
    expect(isLifecycleError(caught, 'INVALID_CONFIGURATION') && caught.message.includes('sometimes')).toBe(true);
  });
});
