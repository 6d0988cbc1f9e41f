#!/usr/bin/env node
/**
 * prune: applies the retention policy (adapters/engine/retention.ts) to a store: deletes
 * published outbox rows and inbox keys older than their windows, archives batches closed longer
 * than the archive window (adapters/engine/archive.ts), then prints what it did. Or, with
 * --restore, puts one archived batch back.
 *
 *   lifecycle-prune --store ./data/lifecycle.db [--outbox-days 7] [--inbox-days 7] [--archive-days 30]
 *   lifecycle-prune --store ./data/lifecycle.db --restore <batch id>
 *   lifecycle-prune --store postgres://user@host/db [--schema public]
 */
import { archiveClosedBatches, restoreBatch } from '../adapters/engine/archive.js';
import { pruneStore } from '../adapters/engine/retention.js';
import { isLifecycleError } from '../adapters/errors.js';
import type { SnapshotStore } from '../adapters/store.js';
import { parsePruneArgs, PRUNE_USAGE, PruneUsageError } from './lib/prune-args.js';

async function openStore(url: string, schema: string | undefined): Promise<SnapshotStore> {
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const { openPostgresStore } = await import('../adapters/postgres/store.js');
    return openPostgresStore({ connectionString: url, ...(schema === undefined ? {} : { schema }) });
  }
  const { openSqliteStore } = await import('../adapters/sqlite/store.js');
  return openSqliteStore({ path: url.startsWith('sqlite:') ? url.slice('sqlite:'.length) : url });
}

async function main(argv: string[]): Promise<number> {
  let options;
  try {
    options = parsePruneArgs(argv);
  } catch (error) {
    if (!(error instanceof PruneUsageError)) throw error;
    process.stderr.write(`lifecycle-prune: ${error.message}\n${PRUNE_USAGE}\n`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(`${PRUNE_USAGE}\n`);
    return 0;
  }
  const store = await openStore(options.store, options.schema);
  try {
    if (options.restore !== undefined) {
      process.stdout.write(`${JSON.stringify({ restored: await restoreBatch(store, options.restore) })}\n`);
      return 0;
    }
    const { outboxDays, inboxDays, archiveDays } = options;
    const deleted = await pruneStore(store, { outboxDays, inboxDays });
    // Archiving is SQLite's: elsewhere it is skipped unless asked for (then UNSUPPORTED_OPERATION).
    const archive = store.archiveBatches !== undefined || options.archiveAsked;
    const archived = archive ? (await archiveClosedBatches(store, { archiveDays })).archived : 'unsupported by this store';
    process.stdout.write(`${JSON.stringify({ deleted, archived, outboxDays, inboxDays, archiveDays })}\n`);
    return 0;
  } catch (error) {
    if (!isLifecycleError(error)) throw error;
    process.stderr.write(`lifecycle-prune: ${error.code}: ${error.message}\n`);
    return 1;
  } finally {
    await store.close();
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error: unknown) {
  console.error(error);
  process.exitCode = 1;
}
