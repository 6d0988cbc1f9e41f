import { describe, expect, it } from 'vitest';
import {
  allowAllPipelines,
  DEFAULT_PIPELINES,
  estimatePipelineCost,
  hasPromptFor,
  KNOWN_PHASES,
  PHASES_NEEDING_PROMPT,
  PRUNING_STATUSES,
  resolvePipeline,
  type PipelineDefinitions,
} from '../machines/batch/index.js';
import {
  BatchClientStatus,
  BatchStatus,
  PIPELINE_PHASES,
  PipelineExecutionStatus,
  toClientStatus,
  type PipelinePhase,
} from '../machines/contracts/statuses.js';

type History = Partial<Record<PipelinePhase, PipelineExecutionStatus>>;

const ok = (phases: readonly PipelinePhase[], skipped: readonly PipelinePhase[] = []) => ({ ok: true, phases, skipped });

describe('resolvePipeline: named pipelines (reference.md 4.3)', () => {
  it.each([
    ['nlp', ['spellcheck', 'nlp']],
    ['cj_assessment', ['spellcheck', 'cj_assessment']],
    ['ai_feedback', ['spellcheck', 'nlp', 'ai_feedback']],
    ['comprehensive', ['spellcheck', 'cj_assessment', 'nlp', 'ai_feedback']],
  ] as const)('%s resolves to %j on a fresh batch', (name, phases) => {
    expect(resolvePipeline({ requested_pipeline: name }, {})).toEqual(ok(phases));
  });

  it('knows exactly the four pipelines of the reference', () => {
    expect(Object.keys(DEFAULT_PIPELINES).sort()).toEqual(['ai_feedback', 'cj_assessment', 'comprehensive', 'nlp']);
    expect([...KNOWN_PHASES]).toEqual([...PIPELINE_PHASES]);
  });

  it.each(['grammar', 'spellcheck', 'student_matching', 'toString', 'constructor'])(
    'an unknown pipeline "%s" is refused with a reason naming the known ones',
    (name) => {
      const result = resolvePipeline({ requested_pipeline: name }, {});
      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect(result.reason).toContain(`unknown pipeline "${name}"`);
      for (const known of Object.keys(DEFAULT_PIPELINES)) expect(result.reason).toContain(known);
    },
  );

  it('uses the host-provided pipeline definitions when given', () => {
    const custom: PipelineDefinitions = { quick: ['spellcheck'], feedback: ['spellcheck', 'ai_feedback'] };
    expect(resolvePipeline({ requested_pipeline: 'feedback' }, {}, custom)).toEqual(ok(['spellcheck', 'ai_feedback']));
    const refused = resolvePipeline({ requested_pipeline: 'nlp' }, {}, custom);
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.reason).toContain('known: quick, feedback');
  });
});

describe('resolvePipeline: pruning by phase history', () => {
  it.each(['completed_successfully', 'completed_with_partial_success'] as const)(
    'a phase whose history is %s is pruned and reported as skipped',
    (status) => {
      expect(resolvePipeline({ requested_pipeline: 'nlp' }, { spellcheck: status })).toEqual(ok(['nlp'], ['spellcheck']));
      expect(resolvePipeline({ requested_pipeline: 'cj_assessment' }, { spellcheck: status, nlp: status })).toEqual(
        ok(['cj_assessment'], ['spellcheck']),
      );
    },
  );

  it('failed does not prune: the phase runs again', () => {
    expect(resolvePipeline({ requested_pipeline: 'nlp' }, { spellcheck: 'failed' })).toEqual(ok(['spellcheck', 'nlp']));
    expect(resolvePipeline({ requested_pipeline: 'nlp' }, { spellcheck: 'completed_successfully', nlp: 'failed' })).toEqual(
      ok(['nlp'], ['spellcheck']),
    );
  });

  it.each(Object.values(PipelineExecutionStatus))('history status %s prunes iff it is a completion', (status) => {
    const prunes = status === 'completed_successfully' || status === 'completed_with_partial_success';
    expect(PRUNING_STATUSES.has(status)).toBe(prunes);
    const result = resolvePipeline({ requested_pipeline: 'ai_feedback' }, { spellcheck: 'completed_successfully', nlp: status });
    expect(result).toEqual(prunes ? ok(['ai_feedback'], ['spellcheck', 'nlp']) : ok(['nlp', 'ai_feedback'], ['spellcheck']));
  });

  it('pruning keeps the requested order (comprehensive after nlp ran)', () => {
    const history: History = { spellcheck: 'completed_successfully', nlp: 'completed_with_partial_success' };
    expect(resolvePipeline({ requested_pipeline: 'comprehensive' }, history)).toEqual(
      ok(['cj_assessment', 'ai_feedback'], ['spellcheck', 'nlp']),
    );
  });

  it('everything already completed: refused with "nothing to run" (never an empty plan)', () => {
    const result = resolvePipeline({ requested_pipeline: 'nlp' }, { spellcheck: 'completed_successfully', nlp: 'completed_successfully' });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(/^nothing to run/);
  });
});

describe('resolvePipeline: explicit phase lists ("mix and match")', () => {
  it('an explicit list runs in the given order', () => {
    expect(resolvePipeline({ requested_pipeline: 'custom', phases: ['spellcheck', 'ai_feedback', 'nlp'] }, {})).toEqual(
      ok(['spellcheck', 'ai_feedback', 'nlp']),
    );
  });

  it('an explicit list wins over the pipeline name', () => {
    expect(resolvePipeline({ requested_pipeline: 'comprehensive', phases: ['spellcheck'] }, {})).toEqual(ok(['spellcheck']));
    // even an unknown name is fine when the phases are given
    expect(resolvePipeline({ requested_pipeline: 'anything', phases: ['spellcheck', 'cj_assessment'] }, {})).toEqual(
      ok(['spellcheck', 'cj_assessment']),
    );
  });

  it('an explicit list is pruned like a named one', () => {
    expect(
      resolvePipeline({ requested_pipeline: 'custom', phases: ['spellcheck', 'ai_feedback', 'nlp'] }, { spellcheck: 'completed_successfully' }),
    ).toEqual(ok(['ai_feedback', 'nlp'], ['spellcheck']));
  });

  it.each([
    [['spellcheck', 'nlp', 'spellcheck']],
    [['nlp', 'nlp']],
  ] as const)('duplicate phases %j are refused', (phases) => {
    const result = resolvePipeline({ requested_pipeline: 'custom', phases }, {});
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toContain('names a phase twice');
  });

  it('a list not starting with spellcheck is refused while spellcheck never completed', () => {
    for (const history of [{}, { spellcheck: 'failed' }, { spellcheck: 'dispatch_initiated' }] as History[]) {
      const result = resolvePipeline({ requested_pipeline: 'custom', phases: ['nlp', 'spellcheck'] }, history);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.reason).toContain('spellcheck must run first');
    }
    const named = resolvePipeline({ requested_pipeline: 'cj_only', phases: ['cj_assessment'] }, {});
    expect(named.ok).toBe(false);
  });

  it('once spellcheck completed (even partially) a list may start anywhere', () => {
    expect(resolvePipeline({ requested_pipeline: 'cj', phases: ['cj_assessment'] }, { spellcheck: 'completed_with_partial_success' })).toEqual(
      ok(['cj_assessment']),
    );
  });
});

describe('estimatePipelineCost (reference.md 4.2 step 8)', () => {
  it.each([0, 1, 2, 3, 4, 10, 100])('CJ over %i essays costs n(n-1)/2 comparisons', (n) => {
    expect(estimatePipelineCost(['spellcheck', 'cj_assessment'], n)).toEqual({ cj_comparison: (n * (n - 1)) / 2, ai_feedback_generation: 0 });
  });

  it('AI feedback costs one generation per essay; spellcheck and nlp are free', () => {
    expect(estimatePipelineCost(['spellcheck', 'nlp', 'ai_feedback'], 7)).toEqual({ cj_comparison: 0, ai_feedback_generation: 7 });
    expect(estimatePipelineCost(['spellcheck', 'nlp'], 7)).toEqual({ cj_comparison: 0, ai_feedback_generation: 0 });
    expect(estimatePipelineCost([], 7)).toEqual({ cj_comparison: 0, ai_feedback_generation: 0 });
  });

  it('comprehensive costs both', () => {
    expect(estimatePipelineCost(DEFAULT_PIPELINES.comprehensive ?? [], 5)).toEqual({ cj_comparison: 10, ai_feedback_generation: 5 });
  });
});

describe('prompt requirement and default admission', () => {
  it('nlp, cj_assessment and ai_feedback need a prompt; spellcheck does not', () => {
    expect([...PHASES_NEEDING_PROMPT].sort()).toEqual(['ai_feedback', 'cj_assessment', 'nlp']);
    const plan = { requested_pipeline: 'x', skipped: [], user_id: 'u', student_prompt_ref: null, assignment_id: null };
    expect(hasPromptFor({ ...plan, phases: ['spellcheck'] })).toBe(true);
    expect(hasPromptFor({ ...plan, phases: ['spellcheck', 'nlp'] })).toBe(false);
    expect(hasPromptFor({ ...plan, phases: ['cj_assessment'], student_prompt_ref: 'p' })).toBe(true);
    expect(hasPromptFor({ ...plan, phases: ['ai_feedback'], assignment_id: 'a' })).toBe(true);
  });

  it('the default admission policy admits everything', () => {
    expect(
      allowAllPipelines({
        batch_id: 'b',
        user_id: 'u',
        org_id: null,
        requested_pipeline: 'comprehensive',
        phases: ['spellcheck'],
        essay_count: 1_000,
        cost: { cj_comparison: 499_500, ai_feedback_generation: 1_000 },
      }),
    ).toEqual({ allowed: true });
  });
});

describe('toClientStatus (reference.md 1.3)', () => {
  const EXPECTED: Record<BatchStatus, BatchClientStatus> = {
    awaiting_content_validation: 'pending_content',
    // Our one deviation: a parked request has its content and waits for the user's prompt.
    awaiting_pipeline_configuration: 'ready',
    content_ingestion_failed: 'failed',
    ready_for_pipeline_execution: 'ready',
    processing_pipelines: 'processing',
    awaiting_student_validation: 'processing',
    student_validation_completed: 'processing',
    validation_timeout_processed: 'processing',
    completed_successfully: 'completed_successfully',
    completed_with_failures: 'completed_with_failures',
    failed_critically: 'failed',
    cancelled: 'cancelled',
  };

  it('the table covers every BatchStatus', () => {
    expect(Object.keys(EXPECTED).sort()).toEqual([...Object.values(BatchStatus)].sort());
  });

  it.each(Object.values(BatchStatus))('%s maps per the gateway table', (status) => {
    const client = toClientStatus(status);
    expect(client).toBe(EXPECTED[status]);
    expect(Object.values(BatchClientStatus)).toContain(client);
  });

  it.each([null, undefined, '', 'guest_class_ready', 'READY_FOR_PIPELINE_EXECUTION', 'toString', '__proto__'])(
    'unknown status %j maps to pending_content (gateway and BFF, not RAS)',
    (status) => {
      expect(toClientStatus(status)).toBe('pending_content');
    },
  );
});
