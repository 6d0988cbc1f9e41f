/**
 * The command line of lifecycle-prune (scripts/prune.ts): its usage, its flags and their parsing.
 * Kept apart from the command, which runs on import, so the usage and the flags can be checked
 * against each other (test/cli/help.test.ts).
 */
import { parseArgs } from 'node:util';
import { DEFAULT_ARCHIVE_DAYS } from '../../adapters/engine/archive.js';
import { DEFAULT_RETENTION } from '../../adapters/engine/retention.js';

/** Usage of lifecycle-prune (every flag with its default). */
export const PRUNE_USAGE = `usage: lifecycle-prune --store <sqlite path | postgres://...> [--schema <name>] [--outbox-days <n>] [--inbox-days <n>] [--archive-days <n>]
       lifecycle-prune --store <sqlite path> --restore <batch id>

  --store         the store to prune: a SQLite file (or sqlite:<path>) or postgres://... (required)
  --schema        PostgreSQL schema (default public)
  --outbox-days   deletes outbox rows published more than this many days ago (default ${DEFAULT_RETENTION.outboxDays})
  --inbox-days    deletes inbox keys (idempotency records) of events first recorded more than this many days
                  ago (default ${DEFAULT_RETENTION.inboxDays}). A redelivery after its inbox key is gone is taken as
                  a new event: keep it above any redelivery delay
  --archive-days  archives every batch closed more than this many days ago (default ${DEFAULT_ARCHIVE_DAYS}; 0: every closed
                  batch now): its entities, parts and audit rows move into one compressed row and read the same.
                  SQLite only: on PostgreSQL archiving is skipped unless this flag is given (then it fails)
  --restore       puts the archived batch with this id back into the live tables, and does nothing else
                  (default none: prune and archive)
  --help, -h      this text

Prints what it deleted, archived or restored as JSON.`;

/** The flags of lifecycle-prune (each is in PRUNE_USAGE with its default). */
export const PRUNE_FLAGS = {
  store: { type: 'string' },
  schema: { type: 'string' },
  'outbox-days': { type: 'string' },
  'inbox-days': { type: 'string' },
  'archive-days': { type: 'string' },
  restore: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** A bad command line: the command prints the message and the usage and exits 2. */
export class PruneUsageError extends Error {}

/** What lifecycle-prune was asked to do. */
export type PruneArgs =
  | { readonly help: true }
  | { readonly help: false; readonly store: string; readonly schema: string | undefined; readonly restore: string }
  | {
      readonly help: false;
      readonly store: string;
      readonly schema: string | undefined;
      readonly restore?: undefined;
      readonly outboxDays: number;
      readonly inboxDays: number;
      readonly archiveDays: number;
      /** True when --archive-days was given (a store without archives then fails instead of skipping). */
      readonly archiveAsked: boolean;
    };

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
  if (values.restore !== undefined) {
    if (values.restore === '') throw new PruneUsageError('--restore needs a batch id');
    const mixed = (['outbox-days', 'inbox-days', 'archive-days'] as const).filter((flag) => values[flag] !== undefined);
    if (mixed.length > 0) throw new PruneUsageError(`--restore does nothing else: drop ${mixed.map((flag) => `--${flag}`).join(', ')}`);
    return { help: false, store: values.store, schema: values.schema, restore: values.restore };
  }
  return {
    help: false,
    store: values.store,
    schema: values.schema,
    outboxDays: daysOf('outbox-days', values['outbox-days'], DEFAULT_RETENTION.outboxDays),
    inboxDays: daysOf('inbox-days', values['inbox-days'], DEFAULT_RETENTION.inboxDays),
    archiveDays: daysOf('archive-days', values['archive-days'], DEFAULT_ARCHIVE_DAYS),
    archiveAsked: values['archive-days'] !== undefined,
  };
}
