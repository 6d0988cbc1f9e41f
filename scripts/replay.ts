#!/usr/bin/env node
/**
 * lifecycle-replay: dispatches a JSONL file of envelopes into a database, rebuilds an entity from
 * its history, or replays stored histories against changed machines (--what-if). See
 * scripts/lib/replay-cli.ts for the flags.
 *
 *   replay events.jsonl [--db ./data/replay.db] [--group 500] [--summary]
 *   replay --db ./data/lifecycle.db --rebuild batch:<id> [--position 42]
 *   replay --db ./data/lifecycle.db --what-if ./my-machines.ts [--entity batch:<id>] [--since 2026-01-01] [--json]
 */
import { processIo } from './lib/cli.js';
import { replayCli } from './lib/replay-cli.js';

process.exitCode = await replayCli(process.argv.slice(2), processIo());
