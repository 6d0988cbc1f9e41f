/**
 * The `scale` section of `npm run bench`: the batch-size curve of scale.ts printed as a table,
 * with issue #20's targets beside the figures.
 */
import { ARCHIVE_RSS_TARGET_MIB } from './archive-memory.js';
import { runScaleSize, type ScaleRun } from './scale.js';
import { GROUP, runGroupedSize, type GroupedRun } from './scale-grouped.js';
import { firstSetting, SPREAD_WARNING, spreadOfValues, type Spread } from './figures.js';

/** Essays in the 100,000-essay disk target, and its budget. */
const DISK_TARGET_ESSAYS = 100_000;
const DISK_TARGET_MIB = 60;

function sizesOf(name: string, raw: string | undefined, fallback: readonly number[]): number[] {
  if (raw === undefined || raw.trim() === '') return [...fallback];
  const sizes = raw.split(',').map((part) => Number(part.trim()));
  if (sizes.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`${name} must list positive integers, got "${raw}"`);
  return sizes;
}

function row(run: ScaleRun): string {
  const total = Object.values(run.bytesPerEssay).reduce((sum, n) => sum + n, 0);
  return [
    String(run.essays).padStart(8),
    `${run.perEssayMeanUs.toFixed(0).padStart(9)} µs`,
    `${run.perEssayCpuUs.toFixed(0).padStart(9)} µs`,
    `${run.contentEarlyUs.toFixed(0).padStart(7)} / ${run.contentLateUs.toFixed(0).padStart(7)} µs`,
    `${run.nlpResultMs.toFixed(1).padStart(10)} ms`,
    `${run.nlpResultCpuMs.toFixed(1).padStart(10)} ms`,
    `${run.batchSeconds.toFixed(2).padStart(8)} s`,
    `${run.peakRssMiB.toFixed(0).padStart(6)} MiB`,
    `${total.toFixed(0).padStart(7)} B`,
  ].join('  ');
}

const HEADER = `${'essays'.padStart(8)}  ${'per-essay'.padStart(12)}  ${'(CPU)'.padStart(12)}  ${'content early / late'.padStart(20)}  ${'nlp result'.padStart(13)}  ${'(CPU)'.padStart(13)}  ${'batch'.padStart(10)}  ${'peak RSS'.padStart(10)}  bytes/essay`;

function verdict(met: boolean): string {
  return met ? 'met' : 'NOT met';
}

/** ` (median of n rounds, min-max)` after a figure, with a warning over 15%; nothing for one round. */
function roundsNote(spread: Spread, rounds: number, digits: number): string {
  if (rounds < 2) return '';
  const wide = (spread.max - spread.min) / spread.median > SPREAD_WARNING ? `  WARNING: spread over ${SPREAD_WARNING * 100}%` : '';
  return `  [median of ${rounds} runs, ${spread.min.toFixed(digits)}-${spread.max.toFixed(digits)}${wide}]`;
}

/** The target lines; `repeats` are the largest size's repeat rounds (BENCH_ROUNDS in all with its run in `runs`). */
function targetLines(runs: readonly ScaleRun[], repeats: readonly ScaleRun[] = []): string[] {
  const smallest = runs[0];
  const largest = runs.at(-1);
  if (smallest === undefined || largest === undefined) return [];
  const lines: string[] = [];
  // The largest size's side is the median of its rounds, as for its other targets.
  const largestRuns = [largest, ...repeats];
  const ratio = spreadOfValues(largestRuns.map((run) => run.perEssayMeanUs)).median / smallest.perEssayMeanUs;
  const cpuRatio = spreadOfValues(largestRuns.map((run) => run.perEssayCpuUs)).median / smallest.perEssayCpuUs;
  const label = `per-essay event cost, ${largest.essays} / ${smallest.essays} essays`;
  lines.push(`${`${label} (CPU time)`.padEnd(70)} ${cpuRatio.toFixed(2)}x`);
  lines.push(`${label.padEnd(70)} ${ratio.toFixed(2)}x  (target <= 1.3x at 10000 / 10: ${largest.essays === 10_000 && smallest.essays === 10 ? verdict(ratio <= 1.3) : 'sizes differ from the target'})`);
  const big = runs.find((run) => run.essays === 10_000);
  if (big === undefined) {
    lines.push('(no 10000-essay run: the nlp-result, RSS and end-to-end targets are not judged)');
  } else {
    // Judged on the median of the 10,000-essay rounds (one run is one sample on a shared machine).
    const rounds = largest === big ? largestRuns : [big];
    const of = (figure: (run: ScaleRun) => number): Spread => spreadOfValues(rounds.map(figure));
    const [nlp, rss, batch] = [of((run) => run.nlpResultMs / 1000), of((run) => run.peakRssMiB), of((run) => run.batchSeconds)];
    lines.push(`${'nlp result at 10000 essays'.padEnd(70)} ${nlp.median.toFixed(2)} s  (target < 1 s: ${verdict(nlp.median < 1)})${roundsNote(nlp, rounds.length, 2)}`);
    lines.push(`${'peak RSS at 10000 essays'.padEnd(70)} ${rss.median.toFixed(0)} MiB  (target < 300 MB: ${verdict(rss.median * 1.048576 < 300)})${roundsNote(rss, rounds.length, 0)}`);
    lines.push(`${'10000-essay batch end to end'.padEnd(70)} ${batch.median.toFixed(2)} s  (target < 15 s: ${verdict(batch.median < 15)})${roundsNote(batch, rounds.length, 2)}`);
    if (rounds.length > 1) {
      const perEssay = of((run) => run.perEssayMeanUs);
      lines.push(`${'per-essay event at 10000 essays'.padEnd(70)} ${perEssay.median.toFixed(0)} µs${roundsNote(perEssay, rounds.length, 0)}`);
    }
  }
  return [...lines, ...projectionLines(largest)];
}

const mib = (bytesPerEssay: number): number => (bytesPerEssay * DISK_TARGET_ESSAYS) / 1024 / 1024;

/**
 * The 100,000-essay disk projection from the largest run, per table; and the same once retention
 * (`pruneStore`) has run past its windows: every outbox row published and pruned, every inbox key
 * past the idempotency window (what is left is what is kept for ever: entities, audit, timers).
 */
function projectionLines(run: ScaleRun): string[] {
  const tables = Object.entries(run.bytesPerEssay);
  const total = tables.reduce((sum, [, n]) => sum + n, 0);
  const kept = keptTables(run.bytesPerEssay).reduce((sum, [, n]) => sum + n, 0);
  const target = (value: number): string => `(target <= ${DISK_TARGET_MIB} MiB: ${verdict(value <= DISK_TARGET_MIB)})`;
  return [
    `${`100k essays projected MiB (from ${run.essays} essays)`.padEnd(70)} ${mib(total).toFixed(1)} MiB  ${target(mib(total))}`,
    ...tables.map(([table, n]) => `  ${table.padEnd(20)} ${mib(n).toFixed(1).padStart(8)} MiB`),
    `${'100k essays projected MiB after retention (outbox, inbox pruned)'.padEnd(70)} ${mib(kept).toFixed(1)} MiB  ${target(mib(kept))}`,
    ...archiveLines(run),
  ];
}

/** Kept tables: what retention leaves (outbox and inbox are pruned past their windows). */
const keptTables = (bytes: Readonly<Record<string, number>>): Array<[string, number]> =>
  Object.entries(bytes).filter(([table]) => table !== 'outbox' && table !== 'inbox');

/**
 * After the batch is closed and archived (SQLite): bytes per essay of what is kept (retention
 * past its windows, then the archive), its 100k projection against the target, and the archive time.
 */
function archiveLines(run: ScaleRun): string[] {
  const archived = run.archivedBytesPerEssay;
  if (archived === undefined) return [];
  const kept = keptTables(archived).filter(([, n]) => n > 0);
  const total = kept.reduce((sum, [, n]) => sum + n, 0);
  return [
    `${'bytes per essay kept after retention + archive (batch closed, archived)'.padEnd(70)} ${total.toFixed(0)} B`,
    ...kept.map(([table, n]) => `  ${table.padEnd(20)} ${n.toFixed(0).padStart(8)} B/essay`),
    `${'100k essays projected MiB after retention + archive'.padEnd(70)} ${mib(total).toFixed(1)} MiB  (target <= ${DISK_TARGET_MIB} MiB: ${verdict(mib(total) <= DISK_TARGET_MIB)})`,
    ...archivingLines(run),
  ];
}

/** Archive and restore of the closed batch: time per 1,000 essays and peak RSS above the child's baseline, against the target at 10,000 essays. */
function archivingLines(run: ScaleRun): string[] {
  const { archiving } = run;
  if (archiving === undefined) return [];
  return (['archive', 'restore'] as const).flatMap((op) => {
    const { baselineRssMiB, peakRssMiB, ms } = archiving[op];
    const above = peakRssMiB - baselineRssMiB;
    const target = run.essays === 10_000 ? `  (target < ${ARCHIVE_RSS_TARGET_MIB} MiB above: ${verdict(above < ARCHIVE_RSS_TARGET_MIB)})` : '';
    return [
      `${`${op} time per 1,000 essays`.padEnd(70)} ${((ms * 1000) / run.essays).toFixed(0)} ms`,
      `${`${op} peak RSS, own process (baseline: store open)`.padEnd(70)} ${peakRssMiB.toFixed(0)} MiB, ${above.toFixed(0)} MiB above ${baselineRssMiB.toFixed(0)}${target}`,
    ];
  });
}

function tableLines(run: ScaleRun): string[] {
  return Object.entries(run.bytesPerEssay).map(([table, bytes]) => `  ${table.padEnd(20)} ${bytes.toFixed(0).padStart(8)} B/essay`);
}

function printCurve(title: string, runs: readonly ScaleRun[], repeats: readonly ScaleRun[] = []): void {
  console.log(title);
  console.log(HEADER);
  for (const run of runs) console.log(row(run));
  for (const run of repeats) console.log(`${row(run)}  (repeat round, not archived)`);
  const largest = runs.at(-1);
  if (largest !== undefined) {
    console.log(`bytes per essay by table at ${largest.essays} essays (indexes with their table):`);
    for (const line of tableLines(largest)) console.log(line);
  }
  for (const line of targetLines(runs, repeats)) console.log(line);
}

/** V8 old space of the capped rerun of the largest size (MiB). */
const HEAP_CAP_MIB = 200;

/**
 * The largest size again with V8's old space capped: V8 grows its heap lazily during a long
 * synchronous fan-out, so the default run's peak RSS says how far it let garbage pile up; the capped
 * run completing says the batch's live memory fits, and its peak RSS is what a deployment that sets
 * `--max-old-space-size` sees (at the CPU cost printed beside it).
 */
function printHeapCapped(runs: readonly ScaleRun[]): void {
  const largest = runs.at(-1);
  if (largest === undefined) return;
  const capped = runScaleSize('sqlite', largest.essays, undefined, { heapCapMiB: HEAP_CAP_MIB });
  const label = `peak RSS at ${largest.essays} essays, V8 old space capped at ${HEAP_CAP_MIB} MiB`;
  const target = largest.essays === 10_000 ? `  (target < 300 MB: ${verdict(capped.peakRssMiB * 1.048576 < 300)})` : '';
  console.log(`${label.padEnd(70)} ${capped.peakRssMiB.toFixed(0)} MiB${target}`);
  console.log(`${'  the same run: per-essay event CPU, nlp result, batch end to end'.padEnd(70)} ${capped.perEssayCpuUs.toFixed(0)} µs, ${(capped.nlpResultMs / 1000).toFixed(2)} s, ${capped.batchSeconds.toFixed(2)} s`);
}

/** The grouped variant's lines: each size's batch end to end with its events in groups (scale-grouped.ts). */
function printGrouped(runs: readonly GroupedRun[]): void {
  console.log(`## SQLite, the same batches with each phase's events in groups of ${GROUP} (dispatchMany, as the queue workers take them)`);
  console.log(`${'essays'.padStart(8)}  ${'batch'.padStart(10)}  ${'(CPU)'.padStart(10)}  ${'peak RSS'.padStart(10)}`);
  for (const run of runs) {
    console.log(`${String(run.essays).padStart(8)}  ${run.batchSeconds.toFixed(2).padStart(8)} s  ${run.batchCpuSeconds.toFixed(2).padStart(8)} s  ${run.peakRssMiB.toFixed(0).padStart(6)} MiB`);
  }
  const big = runs.find((run) => run.essays === 10_000);
  if (big !== undefined) console.log(`${`10000-essay batch end to end, groups of ${GROUP}`.padEnd(70)} ${big.batchSeconds.toFixed(2)} s  (target < 15 s: ${verdict(big.batchSeconds < 15)})`);
}

/**
 * The scale section: the SQLite curve (one commit per event, then grouped), then the PostgreSQL one
 * when a URL is configured. The largest SQLite size runs `rounds` times in all (BENCH_ROUNDS): its
 * targets are judged on the median, with the spread beside it.
 */
export function scaleSection(rounds: number): Promise<void> {
  const sizes = sizesOf('BENCH_SCALE_SIZES', process.env.BENCH_SCALE_SIZES, [10, 100, 1_000, 10_000]);
  console.log(`# scale (one GUEST batch through an nlp pipeline per size; each size in its own process; the largest ${rounds} times)`);
  const runs = sizes.map((n) => runScaleSize('sqlite', n));
  const largest = sizes.at(-1);
  const repeats = largest === undefined ? [] : Array.from({ length: Math.max(0, rounds - 1) }, () => runScaleSize('sqlite', largest, undefined, { archive: false }));
  printCurve('## SQLite, one commit per event (each dispatch awaited)', runs, repeats);
  printHeapCapped(runs);
  console.log('');
  printGrouped(sizes.map((n) => runGroupedSize(n)));
  const url = firstSetting('BENCH_POSTGRES_URL', 'TEST_POSTGRES_URL');
  if (url === undefined) {
    console.log('(PostgreSQL curve skipped: set BENCH_POSTGRES_URL or TEST_POSTGRES_URL)');
    return Promise.resolve();
  }
  const pgSizes = sizesOf('BENCH_SCALE_PG_SIZES', process.env.BENCH_SCALE_PG_SIZES, [10, 100, 1_000]);
  console.log('');
  printCurve('## PostgreSQL', pgSizes.map((n) => runScaleSize('postgres', n, url)));
  return Promise.resolve();
}
