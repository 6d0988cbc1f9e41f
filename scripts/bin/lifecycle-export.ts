#!/usr/bin/env node
/** The published `lifecycle-export` command (see scripts/lib/export-cli.ts for its flags). */
import { runBin } from '../lib/bin.js';
import { processIo } from '../lib/cli.js';

process.exitCode = await runBin('lifecycle-export', process.argv.slice(2), async () => {
  const { runExport } = await import('../lib/export-cli.js');
  return (argv) => runExport(argv, processIo());
});
