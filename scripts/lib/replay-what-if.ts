/**
 * `lifecycle-replay --what-if <module> --db <path>`: re-runs the stored histories against the
 * machines a module exports and prints what diverges (text, or JSON with --json), with a progress
 * bar on a terminal. Exit code 0: no divergence; 1: some entity diverges; 2: it could not run.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { machinesOfModule, whatIf, type EntityDivergence, type StepView, type WhatIfReport } from '../../adapters/engine/index.js';
import type { Selection } from '../../adapters/engine/what-if/select.js';
import { openSqliteStore } from '../../adapters/sqlite/store.js';
import { importModule, UsageError, type CliIo } from './cli.js';

/** What the what-if mode needs from the command line. */
export interface WhatIfArgs {
  readonly module: string;
  readonly db: string;
  readonly selection: Selection;
  readonly json: boolean;
}

/** Exit codes of the what-if mode. */
export const EXIT_SAME = 0;
export const EXIT_DIVERGED = 1;

async function changedMachines(spec: string, cwd: string): Promise<ReturnType<typeof machinesOfModule>> {
  const file = resolve(cwd, spec);
  if (!existsSync(file)) throw new UsageError(`--what-if: no such module: ${file}`);
  let exports: Record<string, unknown>;
  try {
    exports = await importModule(file);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`--what-if: cannot load ${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
  return machinesOfModule(exports, file);
}

function bar(done: number, total: number | undefined, diverged: number): string {
  const width = 30;
  const filled = total === undefined || total === 0 ? 0 : Math.min(width, Math.round((done / total) * width));
  const counter = total === undefined ? `${done}` : `${done}/${total}`;
  return `[${'#'.repeat(filled).padEnd(width, total === undefined ? ' ' : '.')}] ${counter} entities, ${diverged} diverged`;
}

/** Runs the what-if mode; returns the exit code. */
export async function runWhatIf(args: WhatIfArgs, io: CliIo): Promise<number> {
  const db = resolve(io.cwd, args.db);
  if (!existsSync(db)) throw new UsageError(`--db: no database at ${db}; --what-if reads an existing one`);
  const changed = await changedMachines(args.module, io.cwd);
  const store = openSqliteStore({ path: db });
  try {
    let last = 0;
    const report = await whatIf({
      store,
      changed,
      selection: args.selection,
      onProgress: ({ done, total, diverged }) => {
        if (done - last < 50 && done !== total) return;
        last = done;
        io.progress(bar(done, total, diverged));
      },
    });
    io.progress(undefined);
    if (args.json) io.out(JSON.stringify(report, null, 2));
    else for (const line of renderReport(report)) io.out(line);
    return report.diverged > 0 ? EXIT_DIVERGED : EXIT_SAME;
  } finally {
    await store.close();
  }
}

function side(view: StepView): string {
  const emitted = view.emitted.length === 0 ? '' : ` emitting ${view.emitted.join(', ')}`;
  return `${view.outcome.padEnd(8)} -> ${view.status ?? '(none)'}${view.value !== null && typeof view.value !== 'string' ? ` ${JSON.stringify(view.value)}` : ''}${emitted}${view.error === undefined ? '' : ` (${view.error})`}`;
}

function steps(list: ReadonlyArray<{ step: number; event_type: string }>, count: number): string {
  if (count === 0) return 'none';
  const named = list.map((ref) => `${ref.step} (${ref.event_type})`).join(', ');
  return count > list.length ? `${named} and ${count - list.length} more` : named;
}

function renderDivergence(d: EntityDivergence): string[] {
  const first = d.first;
  const lines = [
    `${d.machine} "${d.entity_id}": first differs at step ${first.step} of ${d.steps} (audit position ${first.position}, ${first.event_type}, event ${first.event_id}): ${first.differs.join(', ')}`,
    `  old: ${side(first.old)}`,
    `  new: ${side(first.new)}`,
    `  final state: old ${d.final.old.status ?? '(none)'}, new ${d.final.new.status ?? '(none)'}; ${d.differing_steps} step(s) differ`,
  ];
  if (d.refusals_appeared_count > 0) lines.push(`  refusals appear at step ${steps(d.refusals_appeared, d.refusals_appeared_count)}`);
  if (d.refusals_disappeared_count > 0) lines.push(`  refusals disappear at step ${steps(d.refusals_disappeared, d.refusals_disappeared_count)}`);
  for (const e of d.emitted_differences.slice(0, 5)) lines.push(`  emitted at step ${e.step} (${e.event_type}): old [${e.old.join(', ')}], new [${e.new.join(', ')}]`);
  if (d.emitted_differences_count > 5) lines.push(`  emitted messages differ at ${d.emitted_differences_count - 5} more step(s)`);
  return lines;
}

/** The readable form of a report. */
export function renderReport(report: WhatIfReport): string[] {
  const machines = report.machines.map((m) => `${m.id} v${m.old_version}${m.replaced ? ` -> v${m.new_version} (changed)` : ''}`).join(', ');
  const lines = [`what-if: ${machines}`];
  for (const d of report.divergences) lines.push(...renderDivergence(d));
  if (report.diverged > report.divergences.length) lines.push(`... and ${report.diverged - report.divergences.length} more diverging entities (use --json or --entity)`);
  for (const s of report.skipped) lines.push(`skipped ${s.machine} "${s.entity_id}": ${s.reason}`);
  const per = Object.entries(report.by_machine).map(([id, c]) => `${id} ${c.diverged}/${c.entities}`).join(', ');
  lines.push(`replayed ${report.entities} entities, ${report.steps} steps: ${report.diverged === 0 ? 'no divergence' : `${report.diverged} diverge`} (${per})${report.skipped_count > 0 ? `; ${report.skipped_count} skipped` : ''}`);
  return lines;
}
