/**
 * The batch view's last run (adapters/http/views.ts): besides the machine's own summary it says
 * how many of the batch's essays never entered the run because they failed an earlier one.
 * The batch is driven through the pure machine: run 1 (nlp) loses e3 in spellcheck, run 2
 * (cj_assessment) starts with e1 and e2 only.
 */
import { describe, expect, it } from 'vitest';
import type { Json } from '../../adapters/store.js';
import { batchDetail } from '../../adapters/http/views.js';
import { at, batchEssays, contextWith, drive, last, ORIGINAL, phaseOutcome, pipelineRequested, PROMPT, BATCH } from '../support/batch-helpers.js';

const [e1, e2] = ORIGINAL;

describe('batch view: last run', () => {
  it('counts the essays excluded before the run (failed an earlier phase) beside ok and failed', () => {
    const ready = at('ready_for_pipeline_execution', contextWith({ essays: batchEssays(), essays_ready: true, student_prompt_ref: PROMPT }));
    const kept = [e1!, e2!];
    const firstRun = drive(ready, [
      pipelineRequested('nlp'),
      phaseOutcome('spellcheck', 'completed_with_failures', kept, { run_id: 1, failed: ['e3'] }),
      phaseOutcome('nlp', 'completed_successfully', kept, { run_id: 1 }),
    ]);
    const afterFirst = last(ready, firstRun);
    const secondRun = drive(afterFirst, [pipelineRequested('cj_assessment'), phaseOutcome('cj_assessment', 'completed_successfully', kept, { run_id: 2 })]);
    const snapshot = last(afterFirst, secondRun);
    const view = { machine: 'batch', entity_id: BATCH, parent_id: null, status: String(snapshot.value), context: snapshot.context as unknown as Json, version: 7, machine_version: 1, created_at: '', updated_at: '' };

    expect(batchDetail(view, { total: 3, by_status: {} }).last_run).toMatchObject({ run_id: 2, successful_essay_count: 2, failed_essay_count: 0, excluded_essay_count: 1 });
    const firstView = { ...view, context: afterFirst.context as unknown as Json };
    expect(batchDetail(firstView, { total: 3, by_status: {} }).last_run).toMatchObject({ run_id: 1, successful_essay_count: 2, failed_essay_count: 1, excluded_essay_count: 0 });
  });

  it('is null before any run', () => {
    const ready = at('ready_for_pipeline_execution', contextWith({ essays: batchEssays() }));
    const view = { machine: 'batch', entity_id: BATCH, parent_id: null, status: 'ready_for_pipeline_execution', context: ready.context as unknown as Json, version: 1, machine_version: 1, created_at: '', updated_at: '' };
    expect(batchDetail(view, { total: 3, by_status: {} }).last_run).toBeNull();
  });
});
