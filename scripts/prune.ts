#!/usr/bin/env node
/**
 * prune: applies the retention policy (adapters/engine/retention.ts) to a store: deletes
 * published outbox rows and inbox keys older than their windows, then prints what it deleted.
 *
 *   lifecycle-prune --store ./data/lifecycle.db [--outbox-days 7] [--inbox-days 7]
 *   lifecycle-prune --store postgres://user@host/db [--schema public]
 */
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
    const report = await pruneStore(store, { outboxDays: options.outboxDays, inboxDays: options.inboxDays });
    process.stdout.write(`${JSON.stringify({ deleted: report, outboxDays: options.outboxDays, inboxDays: options.inboxDays })}\n`);
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
