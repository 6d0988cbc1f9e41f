/**
 * Batch snapshot migration 1 -> 2 (retry-phase): failed essays get the phases they missed,
 * derived from the run in flight or the last finished run.
 */
import { describe, expect, it } from 'vitest';
import { batchMissedPhasesMigration } from '../machines/batch/index.js';
import type { Json } from '../machines/lifecycle-machine.js';

const essay = (essay_id: string, failed_phase: string | null, extra: Record<string, unknown> = {}) => ({ essay_id, text_storage_id: `t-${essay_id}`, failed_phase, ...extra });
const snapshot = (context: Record<string, unknown>): Json => ({ status: 'active', value: 'ready_for_pipeline_execution', context: { run: null, last_run: null, ...context } });
const essaysOf = (migrated: Json) => (migrated as { context: { essays: unknown[] } }).context.essays;

describe('batch snapshot migration 1 -> 2', () => {
  it('a failed essay misses the phases after its failed one in the last finished run; others are unchanged', () => {
    const v1 = snapshot({
      essays: [essay('e1', null), essay('e2', 'spellcheck'), essay('e3', 'nlp')],
      last_run: { phase_status: { spellcheck: 'completed_with_partial_success', nlp: 'completed_with_partial_success', ai_feedback: 'completed_successfully' } },
    });
    expect(essaysOf(batchMissedPhasesMigration(v1))).toEqual([
      essay('e1', null),
      essay('e2', 'spellcheck', { missed_phases: ['nlp', 'ai_feedback'] }),
      essay('e3', 'nlp', { missed_phases: ['ai_feedback'] }),
    ]);
  });

  it('uses the run in flight when the essay failed in it, and gives none for a phase no run the snapshot holds ran', () => {
    const v1 = snapshot({
      essays: [essay('e1', 'spellcheck'), essay('e2', 'cj_assessment')],
      run: { phases: ['spellcheck', 'cj_assessment'] },
      last_run: { phase_status: { nlp: 'completed_successfully' } },
    });
    expect(essaysOf(batchMissedPhasesMigration(v1))).toEqual([essay('e1', 'spellcheck', { missed_phases: ['cj_assessment'] }), essay('e2', 'cj_assessment')]);
    const older = snapshot({ essays: [essay('e1', 'spellcheck')], last_run: { phase_status: { cj_assessment: 'completed_successfully' } } });
    expect(essaysOf(batchMissedPhasesMigration(older))).toEqual([essay('e1', 'spellcheck')]);
  });

  it('keeps what a version-2 snapshot already says', () => {
    const v2 = snapshot({ essays: [essay('e1', 'spellcheck', { missed_phases: ['cj_assessment'] })], last_run: { phase_status: { spellcheck: 'failed', nlp: 'skipped_due_to_dependency_failure' } } });
    expect(batchMissedPhasesMigration(v2)).toEqual(v2);
  });
});
