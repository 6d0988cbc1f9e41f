#!/usr/bin/env node
/**
 * The published `lifecycle-prune` command: scripts/prune.ts (which runs on import and sets the
 * exit code), loaded so that a missing store driver is named instead of failing with a trace.
 */
import { runBin } from '../lib/bin.js';

process.exitCode = await runBin('lifecycle-prune', process.argv.slice(2), async () => {
  await import('../prune.js');
  return () => Promise.resolve(Number(process.exitCode ?? 0));
});
