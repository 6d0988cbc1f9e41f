#!/usr/bin/env node
/**
 * `npm run export` in this repository: lifecycle-export (Stately JSON, Stately sources (bare createMachine and a provide-ready setup() module), Mermaid
 * and SVG of the library's machines or of yours), plus `--docs`, which regenerates the README
 * diagrams in docs/diagrams. `--docs` exists only here, not in the published bin
 * (scripts/bin/lifecycle-export.ts), because it writes into the package's own folder.
 *
 *   export [--out ./exported] [--machine ./path/to/machine.ts[#exportName]]
 *   export --docs
 */
import { EXIT_USAGE, processIo } from './lib/cli.js';
import { runExport, writeDocsDiagrams } from './lib/export-cli.js';

const io = processIo();
const argv = process.argv.slice(2);
if (argv.includes('--docs')) {
  if (argv.length > 1) {
    io.err('export: --docs writes docs/diagrams only; it takes no other flag');
    process.exitCode = EXIT_USAGE;
  } else {
    for (const path of await writeDocsDiagrams(io.cwd)) io.out(`wrote ${path}`);
  }
} else {
  process.exitCode = await runExport(argv, io);
}
