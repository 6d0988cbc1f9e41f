#!/usr/bin/env node
/**
 * The published `lifecycle-worker` command: scripts/worker.ts (which runs on import and sets
 * the exit code), loaded so that a missing driver is named instead of failing with a trace.
 */
import { runBin } from '../lib/bin.js';

process.exitCode = await runBin('lifecycle-worker', process.argv.slice(2), async () => {
  await import('../worker.js');
  return () => Promise.resolve(Number(process.exitCode ?? 0));
});
