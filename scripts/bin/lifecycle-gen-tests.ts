#!/usr/bin/env node
/** The published `lifecycle-gen-tests` command (see scripts/lib/gen-tests-cli.ts for its flags). */
import { runBin } from '../lib/bin.js';
import { processIo } from '../lib/cli.js';

process.exitCode = await runBin('lifecycle-gen-tests', process.argv.slice(2), async () => {
  const { runGenTests } = await import('../lib/gen-tests-cli.js');
  return (argv) => runGenTests(argv, processIo());
});
