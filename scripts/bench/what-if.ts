/**
 * What-if replay on a big history: `batches` GUEST batches, each through the two-phase `nlp`
 * pipeline with `essays` essays, stored in a SQLite file, then replayed against the library's own
 * machines (zero divergences expected). Reports entities and steps per second and the heap the
 * replay held above its start (live heap after a collection every 250 entities, when node runs
 * with --expose-gc; otherwise garbage is counted too): it reads one entity's history at a time, so
 * the figure stays flat however big the store.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LifecycleEngine } from '../../adapters/engine/engine.js';
import { defaultMachines } from '../../adapters/engine/registry.js';
import { whatIf } from '../../adapters/engine/what-if/index.js';
import { openSqliteStore } from '../../adapters/sqlite/store.js';
import { benchEnvelopes, type EnvelopeOf } from './envelopes.js';

/** What the what-if bench measured. */
export interface WhatIfMeasure {
  readonly batches: number;
  readonly entities: number;
  readonly steps: number;
  readonly diverged: number;
  readonly seconds: number;
  readonly progressCalls: number;
  /** Highest heap in use during the replay above the heap at its start (MB). */
  readonly peakHeapMb: number;
}

function batchEvents(envelope: EnvelopeOf, batchId: string, essays: number): Record<string, unknown>[] {
  const ids = Array.from({ length: essays }, (_, i) => `${batchId}-e${i}`);
  return [
    envelope('huleedu.batch.essays.registered.v1', { entity_id: batchId, expected_essay_count: essays, essay_ids: ids, course_code: 'ENG5', user_id: 'bench', student_prompt_ref: 'prompt' }),
    ...ids.map((id) =>
      envelope('huleedu.file.essay.content.provisioned.v1', { entity_id: batchId, file_upload_id: `up-${id}`, original_file_name: `${id}.txt`, raw_file_storage_id: `raw-${id}`, text_storage_id: `text-${id}`, file_size_bytes: 100 }),
    ),
    envelope('huleedu.commands.batch.pipeline.v1', { batch_id: batchId, requested_pipeline: 'nlp', user_id: 'bench' }),
    ...ids.map((id) => envelope('huleedu.batch.spellcheck.phase.completed.v1', { entity_id: id, batch_id: batchId, status: 'completed', corrected_text_storage_id: `c-${id}`, processing_duration_ms: 1 })),
    envelope('huleedu.batch.nlp.analysis.completed.v1', { batch_id: batchId, processing_summary: { successful_essay_ids: ids, failed_essay_ids: [] } }),
  ];
}

/** Builds the history and replays it once. */
export async function benchWhatIf(batches: number, essays: number): Promise<WhatIfMeasure> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-what-if-'));
  const store = openSqliteStore({ path: join(dir, 'history.db') });
  try {
    const engine = new LifecycleEngine({ store });
    const { envelope } = benchEnvelopes('what-if');
    for (let b = 0; b < batches; b += 1) await engine.dispatchMany(batchEvents(envelope, `wi-${b}`, essays));
    global.gc?.();
    const heapAtStart = process.memoryUsage().heapUsed;
    let peak = heapAtStart;
    let progressCalls = 0;
    const started = process.hrtime.bigint();
    const report = await whatIf({
      store,
      changed: defaultMachines(),
      onProgress: () => {
        progressCalls += 1;
        if (progressCalls % 250 !== 0) return;
        global.gc?.();
        peak = Math.max(peak, process.memoryUsage().heapUsed);
      },
    });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return { batches, entities: report.entities, steps: report.steps, diverged: report.diverged, seconds, progressCalls, peakHeapMb: (peak - heapAtStart) / 1e6 };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
