#!/usr/bin/env node
/**
 * lifecycle-export: Stately JSON, Stately sources (bare createMachine and a provide-ready setup()
 * module), Mermaid and SVG of the library's machines
 * or of yours; `--docs` regenerates the README diagrams.
 *
 *   export [--out ./exported] [--machine ./path/to/machine.ts[#exportName]]
 *   export --docs
 */
import { processIo } from './lib/cli.js';
import { runExport } from './lib/export-cli.js';

process.exitCode = await runExport(process.argv.slice(2), processIo());
