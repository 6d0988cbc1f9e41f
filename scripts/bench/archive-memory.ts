/**
 * Archiving and restoring one closed batch, measured (issue #20): each in a fresh child process on
 * the file the scale bench made, so its peak RSS is its own; `baselineRssMiB` is the child's RSS with
 * the store open, before the operation. Archive and restore work chunk by chunk, so their peak above
 * the baseline should not grow with the batch.
 */
import { fileURLToPath } from 'node:url';
import { archiveClosedBatches, restoreBatch } from '../../adapters/engine/archive.js';
import { openSqliteStore } from '../../adapters/sqlite/store.js';
import { runBenchChild } from './child.js';

/** What one archive or restore measured. */
export interface ArchiveOpRun {
  /** The child's peak RSS with the store open, before the operation (MiB). */
  readonly baselineRssMiB: number;
  /** The child's peak RSS once the operation is done (MiB). */
  readonly peakRssMiB: number;
  /** Wall time of the operation (ms). */
  readonly ms: number;
}

/** Archive and restore peak RSS above their baseline at 10,000 essays must stay below this (MiB). */
export const ARCHIVE_RSS_TARGET_MIB = 150;

const SELF = fileURLToPath(import.meta.url);
const maxRssMiB = (): number => process.resourceUsage().maxRSS / 1024;

/** Archives every closed batch of the file at `path` (archive window 0) in a child process; throws unless exactly one was. */
export function measureArchive(path: string): ArchiveOpRun {
  return runBenchChild<ArchiveOpRun>(SELF, ['archive', path], 'archive bench child');
}

/** Restores `batchId` of the file at `path` in a child process. */
export function measureRestore(path: string, batchId: string): ArchiveOpRun {
  return runBenchChild<ArchiveOpRun>(SELF, ['restore', path, batchId], 'restore bench child');
}

async function childMain([op, path, batchId]: readonly (string | undefined)[]): Promise<ArchiveOpRun> {
  if (path === undefined) throw new Error('archive bench child: no file given');
  const store = openSqliteStore({ path });
  try {
    const baselineRssMiB = maxRssMiB();
    const started = process.hrtime.bigint();
    if (op === 'archive') {
      const report = await archiveClosedBatches(store, { archiveDays: 0 });
      if (report.archived.length !== 1) throw new Error(`archive bench: one closed batch was expected, ${report.archived.length} were archived`);
    } else {
      await restoreBatch(store, batchId ?? '');
    }
    return { baselineRssMiB, peakRssMiB: maxRssMiB(), ms: Number(process.hrtime.bigint() - started) / 1e6 };
  } finally {
    await store.close();
  }
}

if (process.argv[1] === SELF && process.argv[2] === 'child') {
  childMain(process.argv.slice(3))
    .then((run) => process.stdout.write(`${JSON.stringify(run)}\n`))
    .catch((error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    });
}
