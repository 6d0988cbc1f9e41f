#!/usr/bin/env node
/**
 * The published `lifecycle-replay` command: scripts/replay.ts (which runs on import and sets
 * the exit code), loaded so that a missing better-sqlite3 is named instead of failing with a trace.
 */
import { runBin } from '../lib/bin.js';

process.exitCode = await runBin('lifecycle-replay', process.argv.slice(2), async () => {
  await import('../replay.js');
  return () => Promise.resolve(Number(process.exitCode ?? 0));
});
