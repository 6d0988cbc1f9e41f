/**
 * What-if replay: stored histories re-run against changed machines. The library's own machines
 * (machines/index.ts as a module) reproduce every history with zero divergences; a batch machine
 * with one guard flipped (test/fixtures/what-if/flipped-guard.ts) diverges on exactly the batches
 * that were closed, at the step that closed them; the CLI selects, prints and exits accordingly.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { machinesOfModule, whatIf } from '../../adapters/engine/index.js';
import type { SqliteStore } from '../../adapters/sqlite/store.js';
import { BATCH_MACHINE_VERSION, batchLifecycleOf, batchMachine } from '../../machines/batch/index.js';
import * as libraryMachines from '../../machines/index.js';
import { replayCli } from '../../scripts/lib/replay-cli.js';
import * as flippedModule from '../fixtures/what-if/flipped-guard.js';
import { engineOn, guestBatch, openFileStore, regularBatchUntilSuggestions, removeTempDirs, tempDir, writeJsonl, type Raw } from '../support/reliability-kit.js';
import { envelope, pipelineRequest } from '../support/envelopes.js';

const PROJECT = join(import.meta.dirname, '..', '..');
const FLIPPED = join(PROJECT, 'test', 'fixtures', 'what-if', 'flipped-guard.ts');
const LIBRARY = join(PROJECT, 'machines', 'index.ts');

const close = (batchId: string): Raw => envelope('huleedu.batch.close.requested.v1', { batch_id: batchId, user_id: 'teacher-1' });

/** Batches run and closed (the flipped guard decides how they end), one that stops half way, one REGULAR batch waiting for validation. */
function workload(): Raw[] {
  const ended = [...guestBatch('what-if', 'wi-ok', 3), close('wi-ok'), ...guestBatch('what-if', 'wi-failing', 3, ['wi-failing-essay-1']), close('wi-failing')];
  const halfWay = guestBatch('what-if', 'wi-half', 3).slice(0, -1);
  return [...ended, ...halfWay, pipelineRequest('wi-half', 'nlp'), ...regularBatchUntilSuggestions('what-if', 'wi-regular', 2)];
}

function cliIo(): { lines: string[]; errors: string[]; io: Parameters<typeof replayCli>[1] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, io: { out: (l) => lines.push(l), err: (l) => errors.push(l), progress: () => undefined, cwd: PROJECT } };
}

let store: SqliteStore;
let path: string;

beforeAll(async () => {
  path = join(tempDir('what-if-'), 'history.db');
  store = openFileStore(path);
  const engine = engineOn(store);
  for (const raw of workload()) await engine.dispatch(raw);
});
afterAll(async () => {
  await store.close();
  removeTempDirs();
});

/** The 1-based step of the entity's history that closed it, and the status it recorded. */
async function endingStep(entityId: string): Promise<{ step: number; status: string }> {
  const rows = await store.history('batch', entityId, { limit: 1000 });
  const index = rows.findIndex((row) => row.outcome === 'accepted' && row.to_status?.startsWith('completed_') === true);
  return { step: index + 1, status: rows[index]!.to_status! };
}

describe('what-if replay', () => {
  it("the library's own machines (machines/index.ts as the changed module) reproduce every stored history: zero divergences", async () => {
    const report = await whatIf({ store, changed: machinesOfModule(libraryMachines, 'machines/index.ts') });
    expect(report.entities).toBeGreaterThan(10);
    expect(report.steps).toBeGreaterThan(report.entities);
    expect(report.skipped_count).toBe(0);
    expect(report.diverged).toBe(0);
    expect(report.divergences).toEqual([]);
    expect(Object.keys(report.by_machine)).toEqual(['batch', 'essay', 'batch_tracker', 'associations']);
  });

  it('a batch machine with one guard flipped diverges on exactly the batches that were closed, at the step that closed them', async () => {
    const report = await whatIf({ store, changed: machinesOfModule(flippedModule, FLIPPED) });
    expect(report.machines.filter((m) => m.replaced).map((m) => m.id)).toEqual(['batch']);
    expect(report.divergences.map((d) => `${d.machine}:${d.entity_id}`).sort()).toEqual(['batch:wi-failing', 'batch:wi-ok']);
    for (const d of report.divergences) {
      const ending = await endingStep(d.entity_id);
      const other = ending.status === 'completed_successfully' ? 'completed_with_failures' : 'completed_successfully';
      expect(d.first).toMatchObject({ step: ending.step, differs: ['state'], recorded: { to: ending.status, machine_version: BATCH_MACHINE_VERSION } });
      expect(d.first.old).toMatchObject({ outcome: 'accepted', status: ending.status });
      expect(d.first.new).toMatchObject({ outcome: 'accepted', status: other });
      expect(d.final).toEqual({ old: { status: ending.status, value: ending.status }, new: { status: other, value: other } });
      expect(d.refusals_appeared_count + d.refusals_disappeared_count + d.emitted_differences_count).toBe(0);
      expect(d.differing_steps).toBe(1);
    }
    expect(report.by_machine.batch).toEqual({ entities: 4, diverged: 2 });
    expect(report.by_machine.essay?.diverged).toBe(0);
  });

  it('refusals that appear are listed: a batch machine that never starts a pipeline refuses every recorded pipeline request', async () => {
    const never = batchMachine.provide({ guards: { pipelineRunnable: () => false } });
    const report = await whatIf({ store, changed: { batch: batchLifecycleOf(never) } });
    const ran = ['wi-failing', 'wi-half', 'wi-ok'];
    expect(report.divergences.map((d) => d.entity_id).sort()).toEqual(ran);
    for (const d of report.divergences) {
      const rows = await store.history('batch', d.entity_id, { limit: 1000 });
      const request = rows.findIndex((row) => row.event_type === 'huleedu.commands.batch.pipeline.v1') + 1;
      expect(d.first).toMatchObject({ step: request, differs: ['outcome', 'state', 'emitted'], old: { outcome: 'accepted', status: 'processing_pipelines' }, new: { outcome: 'refused', status: 'ready_for_pipeline_execution', emitted: [] } });
      expect(d.refusals_appeared[0]).toMatchObject({ step: request, event_type: 'huleedu.commands.batch.pipeline.v1' });
    }
    // wi-half's second request was refused while its pipeline ran; the new machine, never running one, still refuses it.
    expect(report.divergences.find((d) => d.entity_id === 'wi-half')!.refusals_disappeared_count).toBe(0);
  });

  it('a selection replays one batch with its children, or the entities touched since a time', async () => {
    const changed = machinesOfModule(flippedModule, FLIPPED);
    const half = await whatIf({ store, changed, selection: { entities: [{ machine: 'batch', entity_id: 'wi-half' }] } });
    expect(half).toMatchObject({ diverged: 0, by_machine: { batch: { entities: 1 }, essay: { entities: 3 }, batch_tracker: { entities: 1 } } });
    const ok = await whatIf({ store, changed, selection: { entities: [{ machine: 'batch', entity_id: 'wi-ok' }] } });
    expect(ok.divergences.map((d) => d.entity_id)).toEqual(['wi-ok']);
    const later = await whatIf({ store, changed, selection: { since: '2999-01-01T00:00:00.000Z' } });
    expect(later.entities).toBe(0);
  });

  it('lifecycle-replay --what-if: text by default, JSON with --json, exit 1 on divergence and 0 without', async () => {
    const flipped = cliIo();
    expect(await replayCli(['--db', path, '--what-if', FLIPPED], flipped.io)).toBe(1);
    expect(flipped.lines[0]).toMatch(new RegExp(`^what-if: batch v${BATCH_MACHINE_VERSION} -> v${BATCH_MACHINE_VERSION} \\(changed\\), essay v1, `));
    expect(flipped.lines).toContainEqual(expect.stringMatching(/^batch "wi-ok": first differs at step \d+ of \d+ \(audit position \d+, huleedu\.batch\.close\.requested\.v1, event .*\): state$/));
    expect(flipped.lines.at(-1)).toMatch(/^replayed \d+ entities, \d+ steps: 2 diverge \(batch 2\/4, /);
    const json = cliIo();
    expect(await replayCli(['--db', path, '--what-if', FLIPPED, '--json', '--entity', 'batch:wi-failing'], json.io)).toBe(1);
    expect((JSON.parse(json.lines.join('\n')) as { diverged: number }).diverged).toBe(1);
    const same = cliIo();
    expect(await replayCli(['--db', path, '--what-if', LIBRARY], same.io)).toBe(0);
    expect(same.lines.at(-1)).toMatch(/: no divergence \(/);
  });

  it('lifecycle-replay refuses what it cannot do with exit 2: a missing database (never created), a module without machines, a bad --since', async () => {
    const missing = join(tempDir('what-if-missing-'), 'nothing.db');
    for (const args of [['--db', missing, '--what-if', FLIPPED], ['--db', missing, '--rebuild', 'batch:x']]) {
      const run = cliIo();
      expect(await replayCli(args, run.io)).toBe(2);
      expect(run.errors[0]).toContain(`no database at ${missing}`);
      expect(existsSync(missing)).toBe(false);
    }
    const noMachines = cliIo();
    expect(await replayCli(['--db', path, '--what-if', join(PROJECT, 'test', 'support', 'envelopes.ts')], noMachines.io)).toBe(2);
    expect(noMachines.errors[0]).toMatch(/exports no machine/);
    const badSince = cliIo();
    expect(await replayCli(['--db', path, '--what-if', FLIPPED, '--since', 'yesterday-ish'], badSince.io)).toBe(2);
    expect(badSince.errors[0]).toMatch(/--since must be a time/);
  });

  it('lifecycle-replay <file>: exit 1 when lines are invalid; --summary prints counts only', async () => {
    const file = join(tempDir('what-if-jsonl-'), 'events.jsonl');
    writeJsonl(file, [...guestBatch('jsonl', 'jl-1', 2), close('jl-1'), { not: 'an envelope' }]);
    const full = cliIo();
    expect(await replayCli([file], full.io)).toBe(1);
    expect(full.errors[0]).toMatch(/^replay: 1 invalid and 0 deferred line\(s\); first: line \d+ INVALID_ENVELOPE$/);
    const summary = cliIo();
    expect(await replayCli([file, '--summary'], summary.io)).toBe(1);
    const counts = JSON.parse(summary.lines.join('\n')) as Record<string, unknown>;
    expect(Object.keys(counts)).toEqual(['accepted', 'refused', 'duplicate', 'invalid_count', 'deferred_count', 'entities']);
    expect(counts).toMatchObject({ invalid_count: 1, deferred_count: 0, entities: { batch: { completed_successfully: 1 } } });
    const clean = join(tempDir('what-if-jsonl-'), 'clean.jsonl');
    writeJsonl(clean, guestBatch('jsonl', 'jl-2', 2));
    expect(await replayCli([clean, '--summary'], cliIo().io)).toBe(0);
  });
});
