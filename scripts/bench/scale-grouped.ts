/**
 * The batch-size curve's grouped variant (issue #20): the same GUEST batch through an `nlp`
 * pipeline, each phase's events handed to `dispatchMany` in groups of `GROUP` (100), as the
 * embedded and NATS queue workers take them from their queues (one transaction per group; every
 * answer still its own), in a child process of its own. The registration, the request and the nlp
 * result stay single events. It says what a batch costs when its events arrive through a queue,
 * beside scale.ts's one-commit-per-event figure (what a caller awaiting each event pays).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LifecycleEngine } from '../../adapters/engine/engine.js';
import { openSqliteStore } from '../../adapters/sqlite/store.js';
import { benchEnvelopes } from './envelopes.js';
import { runBenchChild } from './child.js';
import { batchEvents, WARM_UP_ESSAYS } from './scale.js';

/** Events per `dispatchMany` call: the queue workers' default batch size. */
export const GROUP = 100;

/** What one grouped run measured. */
export interface GroupedRun {
  readonly essays: number;
  /** Registration to nlp result, wall time (s). */
  readonly batchSeconds: number;
  /** The same in CPU time of the process (s). */
  readonly batchCpuSeconds: number;
  readonly peakRssMiB: number;
}

const SELF = fileURLToPath(import.meta.url);

async function dispatchGroups(engine: LifecycleEngine, raws: readonly unknown[]): Promise<void> {
  for (let start = 0; start < raws.length; start += GROUP) {
    const answers = await engine.dispatchMany(raws.slice(start, start + GROUP));
    const bad = answers.find((answer) => answer.outcome !== 'accepted');
    if (bad !== undefined) throw new Error(`grouped scale bench: an event was ${bad.outcome}`);
  }
}

/** One grouped batch of `essays` on a fresh store; its wall and CPU seconds. */
async function groupedBatch(essays: number, label: string): Promise<{ batchSeconds: number; batchCpuSeconds: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'lifecycle-scale-grouped-'));
  const store = openSqliteStore({ path: join(dir, 'scale.db') });
  try {
    const engine = new LifecycleEngine({ store });
    const { envelope, run } = benchEnvelopes(label);
    const events = batchEvents(envelope, `${label}-${run}`, essays);
    const cpuBefore = process.cpuUsage();
    const started = process.hrtime.bigint();
    await dispatchGroups(engine, [events.registration]);
    await dispatchGroups(engine, events.contents);
    await dispatchGroups(engine, [events.request]);
    await dispatchGroups(engine, events.spellchecks);
    await dispatchGroups(engine, [events.nlpResult]);
    const batchSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    const cpu = process.cpuUsage(cpuBefore);
    return { batchSeconds, batchCpuSeconds: (cpu.user + cpu.system) / 1e6 };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function childGrouped(essays: number): Promise<GroupedRun> {
  await groupedBatch(WARM_UP_ESSAYS, 'scale-grouped-warm-up');
  const timings = await groupedBatch(essays, `scale-grouped-${essays}`);
  return { essays, ...timings, peakRssMiB: process.resourceUsage().maxRSS / 1024 };
}

/** Runs one size, grouped, in a child process (a clean heap and its own peak RSS). */
export function runGroupedSize(essays: number): GroupedRun {
  return runBenchChild<GroupedRun>(SELF, [String(essays)], `grouped scale bench child (${essays} essays)`);
}

if (process.argv[1] === SELF && process.argv[2] === 'child') {
  childGrouped(Number(process.argv[3]))
    .then((run) => process.stdout.write(`${JSON.stringify(run)}\n`))
    .catch((error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    });
}
