#!/usr/bin/env node
/**
 * lifecycle-gen-tests: vitest files replaying paths that take every transition (through
 * the durable engine for the library's machines, through the pure machine for yours),
 * and a coverage report per machine.
 *
 *   gen-tests [--out ./test/generated] [--report ./coverage/paths] [--only <id>]...
 *   gen-tests --machine ./path/to/machine.ts[#exportName] [--out <dir>] [--assert context,output,emitted]
 *             [--to-state <state>]... [--strategy shortest|simple]
 *   gen-tests --machine ./path/to/machine.ts[#exportName] --real-system ./path/to/model.ts[#exportName]
 */
import { processIo } from './lib/cli.js';
import { runGenTests } from './lib/gen-tests-cli.js';

process.exitCode = await runGenTests(process.argv.slice(2), processIo());
