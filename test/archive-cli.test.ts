/**
 * lifecycle-prune archives closed batches (--archive-days) and restores one (--restore); bad
 * arguments are usage errors that change nothing.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../adapters/sqlite/store.js';
import { batchEvents, clockedStore, dispatchAll, membersOf, rowsOf, tableCounts } from './support/archive-kit.js';
import { PROJECT_ROOT, removeTempDirs, tempDir } from './support/reliability-kit.js';

afterAll(removeTempDirs);

const run = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'scripts', 'prune.ts'), ...args], { encoding: 'utf8', cwd: PROJECT_ROOT });

describe('lifecycle-prune --archive-days / --restore', () => {
  it('archives closed batches, restores one by id, and refuses bad arguments without changing the file', async () => {
    const path = join(tempDir('archive-cli-'), 'db.sqlite');
    // Closed in 2026-03: long before now, so the default window (30 days) archives it; the open batch stays.
    const { store, engine } = clockedStore(path, '2026-03-01T12:00:00.000Z');
    await dispatchAll(engine, [...batchEvents('guest', 'cli-closed', 2), ...batchEvents('guest', 'cli-open', 2, { open: true })]);
    const members = membersOf(store, 'cli-closed');
    const rows = rowsOf(store, members);
    await store.close();

    for (const [args, message] of [
      [['--store', path, '--archive-days', 'later'], '--archive-days must be a non-negative number of days, got "later"'],
      [['--store', path, '--restore', 'cli-closed', '--archive-days', '0'], '--restore does nothing else: drop --archive-days'],
      [['--store', path, '--restore', ''], '--restore needs a batch id'],
    ] as const) {
      const bad = run([...args]);
      expect([bad.status, bad.stderr]).toEqual([2, expect.stringContaining(message)]);
    }
    const missing = run(['--store', path, '--restore', 'cli-open']);
    expect([missing.status, missing.stderr]).toEqual([1, expect.stringContaining('ENTITY_NOT_FOUND: batch "cli-open" has no archive')]);
    const untouched = openSqliteStore({ path });
    expect(rowsOf(untouched, members)).toEqual(rows);
    expect(tableCounts(untouched).batch_archives).toBe(0);
    await untouched.close();

    const archived = run(['--store', path]);
    expect(archived.status, archived.stderr).toBe(0);
    const printed = JSON.parse(archived.stdout) as { archived: Array<{ batch_id: string }>; archiveDays: number };
    expect([printed.archived.map((a) => a.batch_id), printed.archiveDays]).toEqual([['cli-closed'], 30]);

    const restored = run(['--store', path, '--restore', 'cli-closed']);
    expect(restored.status, restored.stderr).toBe(0);
    expect(JSON.parse(restored.stdout)).toMatchObject({ restored: { batch_id: 'cli-closed', entities: members.length } });
    const after = openSqliteStore({ path });
    expect(rowsOf(after, members)).toEqual(rows);
    await after.close();
  }, 60_000);
});
