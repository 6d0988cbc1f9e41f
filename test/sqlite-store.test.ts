import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { LifecycleError } from '../adapters/errors.js';
import type { ErrorCode } from '../adapters/errors.js';
import { migrate, migrations } from '../adapters/sqlite/migrations.js';
import { openSqliteStore, SqliteStore } from '../adapters/sqlite/store.js';
import type { CommitBatch, EntityWrite } from '../adapters/store.js';
import { describeSnapshotStore } from './contract/snapshot-store-contract.js';

const FIXED = new Date('2031-05-06T07:08:09.010Z');
const dirs: string[] = [];
function tempPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sqlite-store-'));
  dirs.push(dir);
  return join(dir, 'store.db');
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const batch = (parts: Partial<CommitBatch> = {}): CommitBatch => ({
  entities: [], audit: [], outbox: [], inbox: [], timersSet: [], timersCancelled: [], timersFired: [], ...parts,
});
const entity = (entity_id: string, over: Partial<EntityWrite> = {}): EntityWrite => ({
  machine: 'essay', entity_id, parent_id: 'b1', expected_version: 0, machine_version: 1, status: 'pending', snapshot: { n: 1 }, ...over,
});

function lifecycleError(fn: () => unknown, code: ErrorCode): LifecycleError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(LifecycleError);
    expect((error as LifecycleError).code).toBe(code);
    return error as LifecycleError;
  }
  return expect.fail(`expected ${code}`);
}
async function rejection(promise: Promise<unknown>, code: ErrorCode): Promise<LifecycleError> {
  const error: unknown = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(LifecycleError);
  expect((error as LifecycleError).code).toBe(code);
  return error as LifecycleError;
}

/** Overwrites one entity's snapshot with text that is not JSON. */
const corrupting = (store: SqliteStore) => (machine: string, entity_id: string): Promise<void> => {
  store.db.prepare("UPDATE entities SET snapshot = '{not json' WHERE machine = ? AND entity_id = ?").run(machine, entity_id);
  return Promise.resolve();
};

describeSnapshotStore('sqlite :memory: with a fixed clock', () => {
  const store = openSqliteStore({ path: ':memory:', now: () => FIXED });
  return Promise.resolve({ store, close: () => store.close(), corrupt: corrupting(store) });
});

describeSnapshotStore('sqlite temp file with the real clock and synchronous FULL', () => {
  const store = openSqliteStore({ path: tempPath(), synchronous: 'FULL' });
  return Promise.resolve({ store, close: () => store.close(), corrupt: corrupting(store) });
});

describe('SqliteStore configuration', () => {
  it('a file database runs in WAL mode with foreign keys on and the configured busy timeout', async () => {
    const store = openSqliteStore({ path: tempPath(), busyTimeoutMs: 1234 });
    expect(store.kind).toBe('sqlite');
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(store.db.pragma('busy_timeout', { simple: true })).toBe(1234);
    await store.close();
  });

  it('synchronous defaults to NORMAL (PRAGMA reads 1) and FULL is applied when asked (reads 2)', async () => {
    const normal = openSqliteStore({ path: tempPath() });
    const full = openSqliteStore({ path: tempPath(), synchronous: 'FULL' });
    expect(normal.db.pragma('synchronous', { simple: true })).toBe(1);
    expect(full.db.pragma('synchronous', { simple: true })).toBe(2);
    await Promise.all([normal.close(), full.close()]);
  });

  it('every timestamp the store writes comes from the injected clock', async () => {
    const store = openSqliteStore({ path: ':memory:', now: () => FIXED });
    const { committedAt } = await store.commit(batch({ entities: [entity('e1')] }));
    expect(committedAt).toBe(FIXED.toISOString());
    expect(await store.load('essay', 'e1')).toMatchObject({ created_at: FIXED.toISOString(), updated_at: FIXED.toISOString() });
    await store.close();
  });

  it('invalid options are refused with INVALID_CONFIGURATION before anything is opened', () => {
    lifecycleError(() => openSqliteStore({ path: '' }), 'INVALID_CONFIGURATION');
    lifecycleError(() => openSqliteStore({ path: ':memory:', busyTimeoutMs: -1 }), 'INVALID_CONFIGURATION');
    lifecycleError(() => openSqliteStore({ path: ':memory:', synchronous: 'OFF' as 'FULL' }), 'INVALID_CONFIGURATION');
  });

  it('creates the missing folders of a database path', async () => {
    const path = join(tempPath(), 'data', 'nested', 'lifecycle.db');
    const store = openSqliteStore({ path });
    expect(existsSync(path)).toBe(true);
    await store.close();
  });

  it('a folder that cannot be created is a STORE_FAILURE naming it and what to do; nothing is created', () => {
    const blocker = tempPath();
    writeFileSync(blocker, 'a file where a folder should be');
    const error = lifecycleError(() => openSqliteStore({ path: join(blocker, 'data', 'x.db') }), 'STORE_FAILURE');
    expect(error.message).toContain(`cannot create the folder ${join(blocker, 'data')} for the database`);
    expect(error.message).toContain('create it yourself, fix its permissions, or choose another path');
    expect(existsSync(join(blocker, 'data'))).toBe(false);
  });

  it('an unopenable path is a STORE_FAILURE', () => {
    const folder = tempPath();
    mkdirSync(folder);
    lifecycleError(() => openSqliteStore({ path: folder }), 'STORE_FAILURE');
  });
});

describe('SqliteStore migrations', () => {
  const versions = (db: Database.Database): number[] =>
    db.prepare<[], { version: number }>('SELECT version FROM schema_migrations ORDER BY version').all().map((r) => r.version);

  it('the migration list is strictly ascending and exposed on the class', () => {
    expect(SqliteStore.migrations).toBe(migrations);
    migrations.forEach((m, i) => { if (i > 0) expect(m.version).toBeGreaterThan(migrations[i - 1]!.version); });
  });

  it('a fresh database records every migration; reopening applies nothing and keeps the data', async () => {
    const path = tempPath();
    const first = openSqliteStore({ path });
    expect(versions(first.db)).toEqual(migrations.map((m) => m.version));
    await first.commit(batch({ entities: [entity('e1')] }));
    await first.close();
    const second = openSqliteStore({ path });
    expect(versions(second.db)).toEqual(migrations.map((m) => m.version));
    expect(migrate(second.db)).toEqual({ applied: [], version: migrations.at(-1)!.version });
    expect((await second.load('essay', 'e1'))?.version).toBe(1);
    await second.close();
  });

  it('a database whose schema version is newer than the code is refused with STORE_FAILURE and left untouched', () => {
    const path = tempPath();
    openSqliteStore({ path }).db.close();
    const raw = new Database(path);
    raw.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'from_the_future', 'x')").run();
    raw.close();
    const error = lifecycleError(() => openSqliteStore({ path }), 'STORE_FAILURE');
    expect(error.message).toMatch(/schema version 999 is newer than this code supports/);
    const check = new Database(path);
    expect(versions(check)).toEqual([...migrations.map((m) => m.version), 999]);
    check.close();
  });

  it('each migration runs in its own transaction: a failing one is rolled back and earlier ones stay applied', () => {
    const db = new Database(':memory:');
    const list = [
      { version: 1, name: 'one', sql: 'CREATE TABLE one (x INTEGER)' },
      { version: 2, name: 'two', sql: 'CREATE TABLE two (x INTEGER); INSERT INTO missing_table VALUES (1)' },
    ];
    const error = lifecycleError(() => migrate(db, list), 'STORE_FAILURE');
    expect(error.message).toMatch(/migration 2 \(two\) failed/);
    expect(versions(db)).toEqual([1]);
    const tables = db.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('one', 'two')").all();
    expect(tables.map((t) => t.name)).toEqual(['one']);
    db.close();
  });

  it('migration 3 (lean inbox) keeps the outcomes recorded before it: findInbox answers them, new ones live on the audit row', async () => {
    const path = tempPath();
    const old = new Database(path);
    migrate(old, migrations.filter((m) => m.version < 3));
    old.prepare("INSERT INTO inbox (event_id, event_type, result, received_at) VALUES ('ev-old', 't', '{\"outcome\":\"accepted\",\"to\":\"x\"}', 'then')").run();
    old.close();
    const store = openSqliteStore({ path });
    expect(versions(store.db)).toEqual(migrations.map((m) => m.version));
    expect(await store.findInbox(['ev-old', 'ev-missing'])).toEqual(new Map([['ev-old', { outcome: 'accepted', to: 'x' }]]));
    const audit = { event_id: 'ev-new', event_type: 't', correlation_id: 'c', causation_id: null, machine: 'essay', entity_id: 'e1', from_status: null, to_status: 'pending', outcome: 'accepted' as const, reason: null, entity_version: 1, envelope: {} };
    await store.commit(batch({ entities: [entity('e1')], audit: [audit, { ...audit, entity_id: 'e2' }], inbox: [{ event_id: 'ev-new', event_type: 't', result: { n: 1 } }, { event_id: 'ev-unaudited', event_type: 't', result: { n: 2 } }] }));
    const [first] = store.db.prepare<[], { position: number }>('SELECT position FROM audit ORDER BY position').all();
    expect(store.db.prepare('SELECT event_id, result, audit_position FROM inbox ORDER BY event_id').all()).toEqual([
      { event_id: 'ev-new', result: null, audit_position: first!.position },
      { event_id: 'ev-old', result: '{"outcome":"accepted","to":"x"}', audit_position: null },
      { event_id: 'ev-unaudited', result: '{"n":2}', audit_position: null },
    ]);
    expect(store.db.prepare('SELECT entity_id, result FROM audit ORDER BY position').all()).toEqual([{ entity_id: 'e1', result: '{"n":1}' }, { entity_id: 'e2', result: null }]);
    expect(store.db.prepare("SELECT name FROM sqlite_master WHERE name = 'audit_event_id'").all()).toEqual([]);
    expect(await store.findInbox(['ev-new', 'ev-unaudited'])).toEqual(new Map<string, unknown>([['ev-new', { n: 1 }], ['ev-unaudited', { n: 2 }]]));
    expect((await store.history('essay', 'e1'))[0]).not.toHaveProperty('result');
    await store.close();
  });

  it('an inbox row whose outcome is nowhere is a STORE_FAILURE naming the event', async () => {
    const store = openSqliteStore({ path: ':memory:' });
    store.db.prepare("INSERT INTO inbox (event_id, result, audit_position) VALUES ('ev-lost', NULL, 999)").run();
    const error = await rejection(store.findInbox(['ev-lost']), 'STORE_FAILURE');
    expect(error.message).toMatch(/inbox row ev-lost has no recorded outcome/);
    await store.close();
  });

  it('a migration list that is not strictly ascending is refused', () => {
    const db = new Database(':memory:');
    const list = [{ version: 2, name: 'b', sql: '' }, { version: 1, name: 'a', sql: '' }];
    lifecycleError(() => migrate(db, list), 'STORE_FAILURE');
    db.close();
  });
});

describe('SqliteStore entity updates', () => {
  it('an update whose stored status and parent are unchanged leaves the indexed columns alone; a changed one rewrites them', async () => {
    const store = openSqliteStore({ path: ':memory:' });
    await store.commit(batch({ entities: [entity('e1')] }));
    // A trigger on "UPDATE OF status, parent_id" fires exactly when the statement sets those columns.
    store.db.exec(`CREATE TABLE indexed_writes (version INTEGER);
      CREATE TRIGGER count_indexed AFTER UPDATE OF status, parent_id ON entities BEGIN INSERT INTO indexed_writes VALUES (new.version); END;`);
    const indexedWrites = (): number[] => store.db.prepare<[], { version: number }>('SELECT version FROM indexed_writes').all().map((r) => r.version);
    await store.commit(batch({ entities: [entity('e1', { expected_version: 1, snapshot: { n: 2 }, stored: { status: 'pending', parent_id: 'b1' } })] }));
    expect(await store.load('essay', 'e1')).toMatchObject({ version: 2, status: 'pending', parent_id: 'b1', snapshot: { n: 2 } });
    expect(indexedWrites()).toEqual([]);
    await store.commit(batch({ entities: [entity('e1', { expected_version: 2, status: 'done', parent_id: 'b2', stored: { status: 'pending', parent_id: 'b1' } })] }));
    expect(await store.load('essay', 'e1')).toMatchObject({ version: 3, status: 'done', parent_id: 'b2' });
    expect(await store.list({ machine: 'essay', status: 'done', parent_id: 'b2' })).toHaveLength(1);
    await store.commit(batch({ entities: [entity('e1', { expected_version: 3, status: 'done', parent_id: 'b2' })] }));
    expect(indexedWrites()).toEqual([3, 4]);
    const stale = entity('e1', { expected_version: 2, status: 'done', parent_id: 'b2', stored: { status: 'done', parent_id: 'b2' } });
    await rejection(store.commit(batch({ entities: [stale] })), 'VERSION_CONFLICT');
    expect(await store.load('essay', 'e1')).toMatchObject({ version: 4 });
    await store.close();
  });
});

describe('SqliteStore on a shared file', () => {
  it('two connections see each other\'s commits and a stale compare-and-set loses with VERSION_CONFLICT', async () => {
    const path = tempPath();
    const a = openSqliteStore({ path });
    const b = openSqliteStore({ path });
    await a.commit(batch({ entities: [entity('e1')] }));
    expect((await b.load('essay', 'e1'))?.version).toBe(1);
    await a.commit(batch({ entities: [entity('e1', { expected_version: 1, status: 'from-a' })] }));
    const error = await rejection(b.commit(batch({ entities: [entity('e1', { expected_version: 1, status: 'from-b' })] })), 'VERSION_CONFLICT');
    expect(error.details).toEqual({ machine: 'essay', entity_id: 'e1', expected_version: 1, actual_version: 2 });
    await b.commit(batch({ entities: [entity('e1', { expected_version: 2, status: 'from-b' })] }));
    expect(await a.load('essay', 'e1')).toMatchObject({ version: 3, status: 'from-b' });
    await Promise.all([a.close(), b.close()]);
  });

  it('a commit blocked by another connection\'s write lock fails with STORE_FAILURE (SQLITE_BUSY) once the busy timeout is spent', async () => {
    const path = tempPath();
    const store = openSqliteStore({ path, busyTimeoutMs: 0 });
    const other = new Database(path);
    other.exec('BEGIN IMMEDIATE');
    const error = await rejection(store.commit(batch({ entities: [entity('e1')] })), 'STORE_FAILURE');
    expect(error.details).toMatchObject({ operation: 'commit', sqlite_code: 'SQLITE_BUSY' });
    other.exec('ROLLBACK');
    other.close();
    await store.commit(batch({ entities: [entity('e1')] }));
    await store.close();
  });
});

describe('SqliteStore failure translation', () => {
  it('a driver error inside commit becomes STORE_FAILURE with the SqliteError as cause, and the batch is rolled back', async () => {
    const store = openSqliteStore({ path: ':memory:' });
    store.db.exec('DROP TABLE outbox');
    const failing = batch({ entities: [entity('e1')], outbox: [{ event_id: 'o1', event_type: 't', aggregate_id: 'b1', envelope: {}, internal: false }] });
    const error = await rejection(store.commit(failing), 'STORE_FAILURE');
    expect(error.cause).toBeInstanceOf(Database.SqliteError);
    expect(await store.load('essay', 'e1')).toBeUndefined();
    await store.close();
  });
});
