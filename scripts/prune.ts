#!/usr/bin/env node
/**
 * prune: applies the retention policy (adapters/engine/retention.ts) to a store: deletes
 * published outbox rows and inbox keys older than their windows, then prints what it deleted.
 *
 *   lifecycle-prune --store ./data/lifecycle.db [--outbox-days 7] [--inbox-days 7]
 *   lifecycle-prune --store postgres://user@host/db [--schema public]
 */
import { parseArgs } from 'node:util';
import { pruneStore, DEFAULT_RETENTION } from '../adapters/engine/retention.js';
import { isLifecycleError } from '../adapters/errors.js';
import type { SnapshotStore } from '../adapters/store.js';

const USAGE = `usage: lifecycle-prune --store <sqlite path | postgres://...> [--schema <name>] [--outbox-days <n>] [--inbox-days <n>]
  Deletes outbox rows published more than --outbox-days ago (default ${DEFAULT_RETENTION.outboxDays}) and inbox keys
  (idempotency records) of events first recorded more than --inbox-days ago (default ${DEFAULT_RETENTION.inboxDays}).
  A redelivery after its inbox key is gone is taken as a new event: keep --inbox-days above any redelivery delay.`;

class UsageError extends Error {}

function daysOf(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  if (!/^\d+(\.\d+)?$/.test(raw)) throw new UsageError(`--${name} must be a non-negative number of days, got "${raw}"`);
  return Number(raw);
}

function parse(argv: string[]) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { store: { type: 'string' }, schema: { type: 'string' }, 'outbox-days': { type: 'string' }, 'inbox-days': { type: 'string' }, help: { type: 'boolean' } },
    }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  if (values.help === true) throw new UsageError('');
  if (values.store === undefined || values.store === '') throw new UsageError('--store is required');
  return {
    store: values.store,
    schema: values.schema,
    outboxDays: daysOf('outbox-days', values['outbox-days'], DEFAULT_RETENTION.outboxDays),
    inboxDays: daysOf('inbox-days', values['inbox-days'], DEFAULT_RETENTION.inboxDays),
  };
}

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
    options = parse(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    if (error.message !== '') process.stderr.write(`lifecycle-prune: ${error.message}\n`);
    process.stderr.write(`${USAGE}\n`);
    return error.message === '' ? 0 : 2;
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
