/**
 * The cost of the engine's `invariants` option: the same GUEST workload (registration, content,
 * the nlp pipeline with a result per essay) through an engine on a fresh SQLite file in each
 * mode. A figure to read, never a target.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LifecycleEngine } from '../../adapters/engine/engine.js';
import { deterministicUuid } from '../../adapters/engine/ids.js';
import type { InvariantMode } from '../../adapters/engine/invariants.js';
import { openSqliteStore } from '../../adapters/sqlite/store.js';

let sequence = 0;

function envelope(event_type: string, data: Record<string, unknown>): Record<string, unknown> {
  sequence += 1;
  return {
    event_id: deterministicUuid(`bench-invariants:${sequence}:${Math.random()}`),
    event_type,
    event_timestamp: '2026-01-01T10:00:00.000Z',
    source_service: 'bench',
    schema_version: 1,
    correlation_id: deterministicUuid('bench-invariants'),
    data,
  };
}

/** One GUEST batch of `essays` essays through the nlp pipeline. */
function guestBatch(batchId: string, essays: number): Record<string, unknown>[] {
  const ids = Array.from({ length: essays }, (_, i) => `${batchId}-e${i}`);
  return [
    envelope('huleedu.batch.essays.registered.v1', { entity_id: batchId, expected_essay_count: essays, essay_ids: ids, course_code: 'ENG5', user_id: 'u', student_prompt_ref: 'p' }),
    ...ids.map((id) => envelope('huleedu.file.essay.content.provisioned.v1', { entity_id: batchId, file_upload_id: `u-${id}`, original_file_name: 'f', raw_file_storage_id: `r-${id}`, text_storage_id: `t-${id}`, file_size_bytes: 1 })),
    envelope('huleedu.commands.batch.pipeline.v1', { batch_id: batchId, requested_pipeline: 'nlp', user_id: 'u' }),
    ...ids.map((id) => envelope('huleedu.batch.spellcheck.phase.completed.v1', { entity_id: id, batch_id: batchId, status: 'completed', corrected_text_storage_id: `c-${id}`, processing_duration_ms: 1 })),
    envelope('huleedu.batch.nlp.analysis.completed.v1', { batch_id: batchId, processing_summary: { successful_essay_ids: ids, failed_essay_ids: [] } }),
  ];
}

/** Events per second of the workload in each invariant mode. */
export async function benchInvariants(scale: number): Promise<Array<{ mode: InvariantMode; events: number; perSecond: number }>> {
  const batches = Math.max(5, Math.round(100 * scale));
  const results: Array<{ mode: InvariantMode; events: number; perSecond: number }> = [];
  const dir = mkdtempSync(join(tmpdir(), 'bench-invariants-'));
  try {
    // A warm-up round first (JIT, file cache), not reported.
    for (const mode of ['warm-up', 'off', 'log', 'refuse'] as const) {
      const store = openSqliteStore({ path: join(dir, `${mode}.db`) });
      const engine = new LifecycleEngine({ store, invariants: mode === 'warm-up' ? 'off' : mode });
      const workload = Array.from({ length: batches }, (_, i) => guestBatch(`${mode}-${i}`, 10)).flat();
      const started = performance.now();
      for (const raw of workload) await engine.dispatch(raw);
      const seconds = (performance.now() - started) / 1000;
      if (mode !== 'warm-up') results.push({ mode, events: workload.length, perSecond: workload.length / seconds });
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}
