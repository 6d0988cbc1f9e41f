/**
 * The command line of lifecycle-prune (scripts/prune.ts): its usage, its flags and their parsing.
 * Kept apart from the command, which runs on import, so the usage and the flags can be checked
 * against each other (test/cli/help.test.ts).
 */
import { parseArgs } from 'node:util';
import { DEFAULT_RETENTION } from '../../adapters/engine/retention.js';

/** Usage of lifecycle-prune (every flag with its default). */
export const PRUNE_USAGE = `usage: lifecycle-prune --store <sqlite path | postgres://...> [--schema <name>] [--outbox-days <n>] [--inbox-days <n>]

  --store        the store to prune: a SQLite file (or sqlite:<path>) or postgres://... (required)
  --schema       PostgreSQL schema (default public)
  --outbox-days  deletes outbox rows published more than this many days ago (default ${DEFAULT_RETENTION.outboxDays})
  --inbox-days   deletes inbox keys (idempotency records) of events first recorded more than this many days
                 ago (default ${DEFAULT_RETENTION.inboxDays}). A redelivery after its inbox key is gone is taken as
                 a new event: keep it above any redelivery delay
  --help, -h     this text

Prints what it deleted as JSON.`;

/** The flags of lifecycle-prune (each is in PRUNE_USAGE with its default). */
export const PRUNE_FLAGS = {
  store: { type: 'string' },
  schema: { type: 'string' },
  'outbox-days': { type: 'string' },
  'inbox-days': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** A bad command line: the command prints the message and the usage and exits 2. */
export class PruneUsageError extends Error {}

/** What lifecycle-prune was asked to do. */
export type PruneArgs =
  | { readonly help: true }
  | { readonly help: false; readonly store: string; readonly schema: string | undefined; readonly outboxDays: number; readonly inboxDays: number };

function daysOf(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  if (!/^\d+(\.\d+)?$/.test(raw)) throw new PruneUsageError(`--${name} must be a non-negative number of days, got "${raw}"`);
  return Number(raw);
}

/** Parses `argv`; throws PruneUsageError naming what is wrong. */
export function parsePruneArgs(argv: readonly string[]): PruneArgs {
  let values;
  try {
    ({ values } = parseArgs({ args: [...argv], options: PRUNE_FLAGS, strict: true, allowPositionals: false }));
  } catch (error) {
    throw new PruneUsageError(error instanceof Error ? error.message : String(error));
  }
  if (values.help === true) return { help: true };
  if (values.store === undefined || values.store === '') throw new PruneUsageError('--store is required');
  return {
    help: false,
    store: values.store,
    schema: values.schema,
    outboxDays: daysOf('outbox-days', values['outbox-days'], DEFAULT_RETENTION.outboxDays),
    inboxDays: daysOf('inbox-days', values['inbox-days'], DEFAULT_RETENTION.inboxDays),
  };
}
