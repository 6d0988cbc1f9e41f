/**
 * End-to-end scenarios of the four machines driven through the durable engine over the
 * in-memory store, with an injected clock (no database, no sleeps). Every external event gets
 * its own correlation_id and the clock's time as event_timestamp, so correlation propagation
 * and durations are checked for real.
 */
import { describe, expect, it } from 'vitest';
import type { AnyStateMachine, StateValue } from 'xstate';
import { LifecycleEngine } from '../adapters/engine/engine.js';
import { deterministicUuid } from '../adapters/engine/ids.js';
import { defaultMachines } from '../adapters/engine/registry.js';
import type { DispatchResult } from '../adapters/engine/results.js';
import { createMemoryStore, type MemoryStore } from '../adapters/memory/store.js';
import type { EntityRecord } from '../adapters/store.js';
import { emittedMessages, type EmittedRow } from './support/emitted.js';
import { statusOfValue } from '../machines/lifecycle-machine.js';
import * as E from './support/envelopes.js';

const START = new Date('2026-03-02T08:00:00.000Z');
const DAY_MS = 24 * 60 * 60 * 1000;
const MACHINES = defaultMachines();

type Data = Record<string, unknown>;
/** The envelope fields these tests read. */
interface Wire {
  readonly event_id: string;
  readonly event_type: string;
  readonly correlation_id: string;
  readonly event_timestamp: string;
  readonly data: Data;
}

const wireOf = (row: EmittedRow): Wire => row.envelope as unknown as Wire;

/** Statuses of one batch: its batch, tracker and associations entities and every essay. */
interface Statuses {
  batch: string | undefined;
  tracker: string | undefined;
  associations: string | undefined;
  essays: Record<string, string>;
}

/** `ids` mapped to `status`, except those named in `except`. */
function essaysIn(ids: readonly string[], status: string, except: Record<string, string> = {}): Record<string, string> {
  return Object.fromEntries(ids.map((id) => [id, except[id] ?? status]));
}

/** Message types of a dispatch answer that go to outside services (not taken by our machines). */
function externalTypes(result: DispatchResult): string[] {
  return result.emitted.filter((e) => !e.internal).map((e) => e.event_type);
}

/** One engine over one memory store, with a clock the test moves and a record of every cause. */
class Scenario {
  private clock = START.getTime();
  readonly now = (): Date => new Date(this.clock);
  readonly store: MemoryStore = createMemoryStore({ now: this.now });
  // acceptInternalEvents: one scenario plays the tracker and sends BatchEssaysReady (internal) ahead of it.
  readonly engine = new LifecycleEngine({ store: this.store, clock: this.now, acceptInternalEvents: true, invariants: 'refuse' });
  /** Emitted event_id -> correlation_id of the external event (or timer) whose dispatch emitted it. */
  private readonly causes = new Map<string, string>();
  private correlations = 0;

  advance(ms: number): void {
    this.clock += ms;
  }

  /** Remembers which correlation every message of this answer's causal chain must carry. */
  private record(result: DispatchResult, correlation: string): DispatchResult {
    for (const emitted of result.emitted) {
      if (!this.causes.has(emitted.event_id)) this.causes.set(emitted.event_id, correlation);
    }
    return result;
  }

  /** `raw` with a fresh correlation_id and the clock's time as event_timestamp. */
  stamp(raw: Data): Wire {
    this.correlations += 1;
    return { ...raw, correlation_id: deterministicUuid(`e2e-correlation:${this.correlations}`), event_timestamp: this.now().toISOString() } as Wire;
  }

  /** Dispatches an envelope exactly as given and records what it caused. */
  async dispatch(envelope: Wire): Promise<DispatchResult> {
    return this.record(await this.engine.dispatch(envelope), envelope.correlation_id);
  }

  /** Stamps and dispatches. */
  async send(raw: Data): Promise<DispatchResult> {
    return this.dispatch(this.stamp(raw));
  }

  /** Fires due timers; their messages are caused by the event that armed them (`correlation`). */
  async fireDueTimers(correlation: string): Promise<DispatchResult[]> {
    const answers = await this.engine.fireDueTimers();
    for (const answer of answers) this.record(answer, correlation);
    return answers;
  }

  async statusOf(machine: string, id: string): Promise<string | undefined> {
    return (await this.store.load(machine, id))?.status;
  }

  async statuses(batchId: string): Promise<Statuses> {
    const essays = await this.store.list({ machine: 'essay', parent_id: batchId, limit: 1000 });
    return {
      batch: await this.statusOf('batch', batchId),
      tracker: await this.statusOf('batch_tracker', batchId),
      associations: await this.statusOf('associations', batchId),
      essays: Object.fromEntries(essays.map((essay) => [essay.entity_id, essay.status])),
    };
  }

  /** The data of every message of `type` emitted (outbox, or audit log for those the engine applied itself), in emission order. */
  async outboxOfType(type: string): Promise<Data[]> {
    return (await emittedMessages(this.store)).filter((row) => row.event_type === type).map((row) => wireOf(row).data);
  }

  async outboxRows(): Promise<EmittedRow[]> {
    return emittedMessages(this.store);
  }

  /** Every entity of every machine (sorted by machine, then created_at, entity_id). */
  async entities(): Promise<EntityRecord[]> {
    const all: EntityRecord[] = [];
    for (const machine of Object.keys(MACHINES).sort()) all.push(...(await this.store.list({ machine, limit: 1000 })));
    return all;
  }

  /**
   * Every outbox message carries the correlation_id of the external event (or timer) whose
   * dispatch emitted it, except where `overrides` names another; every emitted message is in
   * the outbox exactly once.
   */
  async expectCorrelationsPropagated(overrides: ReadonlyMap<string, string> = new Map()): Promise<void> {
    const rows = await this.outboxRows();
    expect(rows).toHaveLength(this.causes.size);
    const actual = rows.map((row) => [row.event_type, row.event_id, wireOf(row).correlation_id]);
    const expected = rows.map((row) => [row.event_type, row.event_id, overrides.get(row.event_id) ?? this.causes.get(row.event_id)]);
    expect(actual).toEqual(expected);
    expect(new Set(rows.map((row) => wireOf(row).correlation_id)).size).toBeGreaterThan(1);
  }

  /**
   * Every stored snapshot survives a JSON round trip: restored with its machine's
   * `resolveState({ value, context })`, it has the stored status and the same context.
   */
  async expectSnapshotsRoundTrip(): Promise<number> {
    const records = await this.entities();
    for (const record of records) {
      const persisted = JSON.parse(JSON.stringify(record.snapshot)) as { value: StateValue; context: Record<string, unknown> };
      const logic: AnyStateMachine = MACHINES[record.machine]!.logic;
      const restored = logic.resolveState({ value: persisted.value, context: persisted.context });
      expect(statusOfValue(restored.value as StateValue), `${record.machine} ${record.entity_id}`).toBe(record.status);
      expect(restored.context).toEqual(persisted.context);
    }
    return records.length;
  }

  /** The batch's status path from its audit history (accepted entries only). */
  async batchPath(batchId: string): Promise<Array<string | null>> {
    const history = await this.store.history('batch', batchId, { limit: 1000 });
    return history.filter((row) => row.outcome === 'accepted').map((row) => row.to_status);
  }
}

const close = (batchId: string): Data => E.envelope('huleedu.batch.close.requested.v1', { batch_id: batchId, user_id: 'teacher-1' });

/** A hand-built BatchAuthorMatchesSuggestedV1: one suggestion per essay with the given score. */
function suggestions(batchId: string, classId: string, courseCode: string, scores: ReadonlyArray<[essay: string, student: string, score: number]>): Data {
  return E.envelope('huleedu.batch.author.matches.suggested.v1', {
    batch_id: batchId,
    class_id: classId,
    course_code: courseCode,
    match_results: scores.map(([essay_id, student_id, confidence_score]) => ({
      essay_id,
      text_storage_id: `text-${essay_id}`,
      suggestions: [{ student_id, student_name: `Student ${student_id}`, confidence_score, match_reasons: ['name in header'] }],
    })),
  });
}

/** StudentAssociationsValidatedV1 by a person. */
function validated(batchId: string, decisions: ReadonlyArray<[essay: string, student: string, confirmed: boolean]>): Data {
  return E.envelope('huleedu.class.student.associations.validated.v1', {
    batch_id: batchId,
    user_id: 'teacher-1',
    associations: decisions.map(([essay_id, student_id, confirmed]) => ({ essay_id, student_id, confirmed })),
  });
}

/** Registers a REGULAR batch and provisions one text per essay (`text-<essay>`). */
async function regularBatchAwaitingValidation(s: Scenario, batchId: string, classId: string, courseCode: string, essays: readonly string[]) {
  await s.send(E.registration(batchId, essays, { class_id: classId, course_code: courseCode, student_prompt_ref: `prompt-${batchId}` }));
  const results: DispatchResult[] = [];
  for (const essay of essays) results.push(await s.send(E.content(batchId, `text-${essay}`)));
  return results;
}

describe('e2e (a): GUEST batch, content before registration, two pipelines, one spellcheck failure', () => {
  it('runs registration -> content -> nlp -> cj_assessment -> close with real counts, pruning, correlation and JSON round trips', async () => {
    const s = new Scenario();
    const B = 'guest-1';
    const ESSAYS = ['g1', 'g2', 'g3', 'g4'];
    let roundTrips = 0;
    const step = async (expected: Statuses): Promise<void> => {
      expect(await s.statuses(B)).toEqual(expected);
      roundTrips += await s.expectSnapshotsRoundTrip();
    };
    const none = { associations: undefined };

    // 1. Content arrives before the registration: the tracker is created and holds it.
    const early = s.stamp(E.content(B, 'text-early'));
    const held = await s.dispatch(early);
    expect(held).toMatchObject({ outcome: 'accepted', entity: { machine: 'batch_tracker', entity_id: B }, from: null, to: 'awaiting_registration', emitted: [] });
    await step({ batch: undefined, tracker: 'awaiting_registration', ...none, essays: {} });

    // 2. Registration (no class_id: GUEST): four slots, the held content fills the first.
    const registered = await s.send(E.registration(B, ESSAYS, { course_code: 'ENG7', student_prompt_ref: 'prompt-guest' }));
    expect(registered).toMatchObject({ outcome: 'accepted', entity: { machine: 'batch', entity_id: B }, from: null, to: 'awaiting_content_validation' });
    expect(registered.deliveries.map((d) => [d.machine, d.from, d.to])).toEqual([
      ['batch', null, 'awaiting_content_validation'],
      ['batch_tracker', 'awaiting_registration', 'awaiting_content'],
    ]);
    expect(registered.emitted.map((e) => e.event_type)).toEqual([
      ...Array<string>(4).fill('huleedu.els.essay.slot.created.v1'),
      'huleedu.els.essay.slot.assigned.v1',
    ]);
    expect(await s.outboxOfType('huleedu.els.essay.slot.assigned.v1')).toEqual([
      expect.objectContaining({ batch_id: B, essay_id: 'g1', text_storage_id: 'text-early' }),
    ]);
    await step({ batch: 'awaiting_content_validation', tracker: 'awaiting_content', ...none, essays: essaysIn(ESSAYS, 'uploaded', { g1: 'ready_for_processing' }) });

    // 3. The other three texts; the last one completes provisioning and the GUEST batch is ready.
    await s.send(E.content(B, 'text-2'));
    await step({ batch: 'awaiting_content_validation', tracker: 'awaiting_content', ...none, essays: essaysIn(ESSAYS, 'uploaded', { g1: 'ready_for_processing', g2: 'ready_for_processing' }) });
    await s.send(E.content(B, 'text-3'));
    await step({ batch: 'awaiting_content_validation', tracker: 'awaiting_content', ...none, essays: essaysIn(ESSAYS, 'ready_for_processing', { g4: 'uploaded' }) });
    const last = await s.send(E.content(B, 'text-4'));
    expect(last.emitted.map((e) => e.event_type)).toEqual(['huleedu.els.essay.slot.assigned.v1', 'huleedu.batch.content.provisioning.completed.v1']);
    await step({ batch: 'ready_for_pipeline_execution', tracker: 'content_provisioned', ...none, essays: essaysIn(ESSAYS, 'ready_for_processing') });
    const originalTexts = [
      { essay_id: 'g1', text_storage_id: 'text-early' },
      { essay_id: 'g2', text_storage_id: 'text-2' },
      { essay_id: 'g3', text_storage_id: 'text-3' },
      { essay_id: 'g4', text_storage_id: 'text-4' },
    ];
    expect(await s.outboxOfType('huleedu.batch.content.provisioning.completed.v1')).toEqual([
      expect.objectContaining({ batch_id: B, provisioned_count: 4, expected_count: 4, course_code: 'ENG7', essays_for_processing: originalTexts }),
    ]);
    expect(await s.outboxOfType('huleedu.batch.student.matching.initiate.command.v1')).toEqual([]);

    // 4. Pipeline `nlp` = spellcheck then nlp; spellcheck starts on all four essays.
    const nlpRequest = await s.send(E.pipelineRequest(B, 'nlp'));
    expect(nlpRequest).toMatchObject({ outcome: 'accepted', from: 'ready_for_pipeline_execution', to: 'processing_pipelines' });
    expect(externalTypes(nlpRequest)).toEqual(Array<string>(4).fill('huleedu.essay.spellcheck.requested.v1'));
    expect(await s.outboxOfType('huleedu.els.spellcheck.initiate.command.v1')).toEqual([
      expect.objectContaining({ entity_id: B, essays_to_process: originalTexts, language: 'en', run_id: 1 }),
    ]);
    await step({ batch: 'processing_pipelines', tracker: 'content_provisioned', ...none, essays: essaysIn(ESSAYS, 'spellchecking_in_progress') });

    // 5. Spellcheck results, g2 fails; the last one concludes the phase and starts nlp on the other three.
    s.advance(60_000);
    await s.send(E.spellchecked(B, 'g1', true));
    await s.send(E.spellchecked(B, 'g2', false));
    await s.send(E.spellchecked(B, 'g3', true));
    await step({
      batch: 'processing_pipelines', tracker: 'content_provisioned', ...none,
      essays: { g1: 'spellchecked_success', g2: 'spellcheck_failed', g3: 'spellchecked_success', g4: 'spellchecking_in_progress' },
    });
    expect(await s.outboxOfType('huleedu.els.batch.phase.outcome.v1')).toEqual([]);
    const lastSpellcheck = await s.send(E.spellchecked(B, 'g4', true));
    expect(externalTypes(lastSpellcheck)).toEqual(['huleedu.batch.nlp.processing.requested.v2']);
    const corrected = ['g1', 'g3', 'g4'].map((id) => ({ essay_id: id, text_storage_id: `corrected-${id}` }));
    expect(await s.outboxOfType('huleedu.els.batch.phase.outcome.v1')).toEqual([
      expect.objectContaining({ batch_id: B, phase_name: 'spellcheck', phase_status: 'completed_with_failures', processed_essays: corrected, failed_essay_ids: ['g2'], run_id: 1 }),
    ]);
    expect(await s.outboxOfType('huleedu.batch.nlp.initiate.command.v2')).toEqual([
      expect.objectContaining({ entity_id: B, essays_to_process: corrected, student_prompt_ref: 'prompt-guest', run_id: 1 }),
    ]);
    await step({ batch: 'processing_pipelines', tracker: 'content_provisioned', ...none, essays: essaysIn(ESSAYS, 'nlp_processing_in_progress', { g2: 'spellcheck_failed' }) });

    // 6. NLP answers for the three: the pipeline completes with real counts and the batch is ready again.
    s.advance(30_000);
    const nlpDone = await s.send(E.batchResult('nlp', B, ['g1', 'g3', 'g4']));
    expect(externalTypes(nlpDone)).toEqual(['huleedu.batch.pipeline.completed.v1']);
    expect(await s.outboxOfType('huleedu.batch.pipeline.completed.v1')).toEqual([
      expect.objectContaining({
        batch_id: B, requested_pipeline: 'nlp', run_id: 1, completed_phases: ['spellcheck', 'nlp'], final_status: 'completed_with_failures',
        successful_essay_count: 3, failed_essay_count: 1, processing_duration_seconds: 90,
      }),
    ]);
    await step({ batch: 'ready_for_pipeline_execution', tracker: 'content_provisioned', ...none, essays: essaysIn(ESSAYS, 'nlp_success', { g2: 'spellcheck_failed' }) });

    // 7. Pipeline `cj_assessment`: spellcheck is pruned (PhaseSkippedV1) and CJ runs on the three.
    const cjRequest = await s.send(E.pipelineRequest(B, 'cj_assessment'));
    expect(externalTypes(cjRequest)).toEqual(['huleedu.batch.phase.skipped.v1', 'huleedu.els.cj_assessment.requested.v1']);
    expect(await s.outboxOfType('huleedu.batch.phase.skipped.v1')).toEqual([{ batch_id: B, phase_name: 'spellcheck', skip_reason: 'already_completed' }]);
    expect(await s.outboxOfType('huleedu.batch.cj_assessment.initiate.command.v1')).toEqual([
      expect.objectContaining({ entity_id: B, essays_to_process: corrected, course_code: 'ENG7', class_type: 'GUEST', student_prompt_ref: 'prompt-guest', run_id: 2 }),
    ]);
    expect(await s.outboxOfType('huleedu.els.cj_assessment.requested.v1')).toEqual([
      expect.objectContaining({ entity_id: B, essays_for_cj: corrected, course_code: 'ENG7', run_id: 2 }),
    ]);
    await step({ batch: 'processing_pipelines', tracker: 'content_provisioned', ...none, essays: essaysIn(ESSAYS, 'cj_assessment_processing_in_progress', { g2: 'spellcheck_failed' }) });

    // 8. CJ completes for all three.
    await s.send(E.batchResult('cj_assessment', B, ['g1', 'g3', 'g4']));
    expect((await s.outboxOfType('huleedu.batch.pipeline.completed.v1'))[1]).toMatchObject({
      requested_pipeline: 'cj_assessment', run_id: 2, completed_phases: ['cj_assessment'], final_status: 'completed_successfully',
      successful_essay_count: 3, failed_essay_count: 0,
    });
    await step({ batch: 'ready_for_pipeline_execution', tracker: 'content_provisioned', ...none, essays: essaysIn(ESSAYS, 'cj_assessment_success', { g2: 'spellcheck_failed' }) });

    // 9. Close: completed_with_failures; the successful essays are completed, the failed one stays failed.
    const closed = await s.send(close(B));
    expect(closed).toMatchObject({ outcome: 'accepted', from: 'ready_for_pipeline_execution', to: 'completed_with_failures' });
    expect(await s.outboxOfType('huleedu.batch.closed.v1')).toEqual([
      { batch_id: B, final_status: 'completed_with_failures', successful_essay_ids: ['g1', 'g3', 'g4'], failed_essay_ids: ['g2'] },
    ]);
    await step({ batch: 'completed_with_failures', tracker: 'closed', ...none, essays: essaysIn(ESSAYS, 'all_processing_completed', { g2: 'spellcheck_failed' }) });
    expect(roundTrips).toBeGreaterThan(40);

    // The held content's slot assignment keeps the correlation of the content event itself
    // (the tracker applies held items "as if each had arrived right after the registration",
    // with its own correlation_id), although the registration's dispatch emitted it.
    const heldAssignment = (await s.outboxRows()).find(
      (row) => row.event_type === 'huleedu.els.essay.slot.assigned.v1' && wireOf(row).data.text_storage_id === 'text-early',
    );
    await s.expectCorrelationsPropagated(new Map([[heldAssignment!.event_id, early.correlation_id]]));
  });
});

describe('e2e (b): REGULAR batch validated by a person', () => {
  const B = 'regular-1';
  const CLASS = 'class-7';
  const ESSAYS = ['r1', 'r2', 'r3'];

  it('runs matching, human validation, three pipelines with pruning and close; course_code SV2 reaches every command', async () => {
    const s = new Scenario();
    const contents = await regularBatchAwaitingValidation(s, B, CLASS, 'SV2', ESSAYS);
    expect(externalTypes(contents.at(-1)!)).toEqual(['huleedu.batch.student.matching.requested.v1']);
    expect(await s.statuses(B)).toEqual({
      batch: 'awaiting_student_validation', tracker: 'content_provisioned', associations: undefined, essays: essaysIn(ESSAYS, 'ready_for_processing'),
    });
    const texts = ESSAYS.map((id) => ({ essay_id: id, text_storage_id: `text-${id}` }));
    expect(await s.outboxOfType('huleedu.batch.content.provisioning.completed.v1')).toEqual([expect.objectContaining({ course_code: 'SV2', essays_for_processing: texts })]);
    expect(await s.outboxOfType('huleedu.batch.student.matching.initiate.command.v1')).toEqual([
      expect.objectContaining({ entity_id: B, class_id: CLASS, course_code: 'SV2', essays_to_process: texts }),
    ]);
    const requested = (await s.outboxRows()).filter((row) => row.event_type === 'huleedu.batch.student.matching.requested.v1');
    expect(requested.map((row) => [row.internal, wireOf(row).data])).toEqual([
      [false, expect.objectContaining({ batch_id: B, class_id: CLASS, course_code: 'SV2', essays_to_process: texts })],
    ]);

    // NLP (outside) answers with suggestions: the association record is created and its 24 h timer armed.
    const suggested = await s.send(suggestions(B, CLASS, 'SV2', [['r1', 's1', 0.9], ['r2', 's2', 0.55], ['r3', 's3', 0.8]]));
    expect(suggested).toMatchObject({ outcome: 'accepted', entity: { machine: 'associations', entity_id: B }, from: null, to: 'pending_validation' });
    expect(await s.store.nextTimerDue()).toBe(new Date(START.getTime() + DAY_MS).toISOString());
    expect(await s.statuses(B)).toMatchObject({ batch: 'awaiting_student_validation', associations: 'pending_validation' });

    // A person confirms r1 and r2 (r2 to another student than suggested) and rejects r3.
    const human = await s.send(validated(B, [['r1', 's1', true], ['r2', 's9', true], ['r3', 's3', false]]));
    expect(human).toMatchObject({ outcome: 'accepted', from: 'pending_validation', to: 'confirmed' });
    expect(human.emitted.map((e) => [e.event_type, e.internal])).toEqual([
      ['huleedu.class.student.associations.confirmed.v1', true],
      ['huleedu.els.batch.essays.ready.v1', true],
    ]);
    const at = s.now().toISOString();
    expect(await s.outboxOfType('huleedu.class.student.associations.confirmed.v1')).toEqual([
      {
        batch_id: B, class_id: CLASS, course_code: 'SV2', timeout_triggered: false,
        validation_summary: { total_associations: 3, confirmed: 2, rejected: 1 },
        associations: [
          { essay_id: 'r1', student_id: 's1', confidence_score: 0.95, validation_method: 'human', validated_by: 'teacher-1', validated_at: at },
          { essay_id: 'r2', student_id: 's9', confidence_score: 0.95, validation_method: 'human', validated_by: 'teacher-1', validated_at: at },
        ],
      },
    ]);
    expect(await s.outboxOfType('huleedu.els.batch.essays.ready.v1')).toEqual([
      expect.objectContaining({ batch_id: B, ready_essays: texts, course_code: 'SV2', course_language: 'sv', class_type: 'REGULAR', student_prompt_ref: `prompt-${B}` }),
    ]);
    expect(await s.statuses(B)).toEqual({
      batch: 'ready_for_pipeline_execution', tracker: 'content_provisioned', associations: 'confirmed', essays: essaysIn(ESSAYS, 'ready_for_processing'),
    });
    // The confirmation reaches the batch before the tracker answers, so the batch passes through
    // student_validation_completed (the engine delivers the confirmation to batch, then tracker).
    expect(await s.batchPath(B)).toEqual([
      'awaiting_content_validation', 'awaiting_student_validation', 'student_validation_completed', 'ready_for_pipeline_execution',
    ]);
    // The person's decision cancelled the timeout: a day later nothing fires.
    expect(await s.store.nextTimerDue()).toBeUndefined();
    s.advance(DAY_MS);
    expect(await s.engine.fireDueTimers()).toEqual([]);

    // Pipeline cj_assessment = spellcheck then CJ; r2 fails spellcheck.
    await s.send(E.pipelineRequest(B, 'cj_assessment'));
    expect(await s.outboxOfType('huleedu.els.spellcheck.initiate.command.v1')).toEqual([
      expect.objectContaining({ essays_to_process: texts, language: 'sv', run_id: 1 }),
    ]);
    await s.send(E.spellchecked(B, 'r1', true));
    await s.send(E.spellchecked(B, 'r2', false));
    await s.send(E.spellchecked(B, 'r3', true));
    const survivors = ['r1', 'r3'].map((id) => ({ essay_id: id, text_storage_id: `corrected-${id}` }));
    expect(await s.outboxOfType('huleedu.batch.cj_assessment.initiate.command.v1')).toEqual([
      expect.objectContaining({ entity_id: B, essays_to_process: survivors, course_code: 'SV2', class_type: 'REGULAR', language: 'sv', run_id: 1 }),
    ]);
    expect(await s.statuses(B)).toEqual({
      batch: 'processing_pipelines', tracker: 'content_provisioned', associations: 'confirmed',
      essays: essaysIn(ESSAYS, 'cj_assessment_processing_in_progress', { r2: 'spellcheck_failed' }),
    });
    await s.send(E.batchResult('cj_assessment', B, ['r1', 'r3']));
    expect(await s.outboxOfType('huleedu.batch.pipeline.completed.v1')).toEqual([
      expect.objectContaining({
        requested_pipeline: 'cj_assessment', completed_phases: ['spellcheck', 'cj_assessment'], final_status: 'completed_with_failures',
        successful_essay_count: 2, failed_essay_count: 1,
      }),
    ]);
    expect(await s.statuses(B)).toMatchObject({ batch: 'ready_for_pipeline_execution', essays: essaysIn(ESSAYS, 'cj_assessment_success', { r2: 'spellcheck_failed' }) });

    // Second pipeline nlp: spellcheck pruned, nlp on the two survivors.
    const nlpRequest = await s.send(E.pipelineRequest(B, 'nlp'));
    expect(externalTypes(nlpRequest)).toEqual(['huleedu.batch.phase.skipped.v1', 'huleedu.batch.nlp.processing.requested.v2']);
    expect(await s.outboxOfType('huleedu.batch.nlp.initiate.command.v2')).toEqual([expect.objectContaining({ essays_to_process: survivors, run_id: 2 })]);
    await s.send(E.batchResult('nlp', B, ['r1', 'r3']));
    expect((await s.outboxOfType('huleedu.batch.pipeline.completed.v1'))[1]).toMatchObject({
      requested_pipeline: 'nlp', completed_phases: ['nlp'], final_status: 'completed_successfully', successful_essay_count: 2, failed_essay_count: 0,
    });
    expect(await s.statuses(B)).toMatchObject({ batch: 'ready_for_pipeline_execution', essays: essaysIn(ESSAYS, 'nlp_success', { r2: 'spellcheck_failed' }) });

    // Third pipeline ai_feedback: spellcheck and nlp pruned; the AI command carries the course code.
    await s.send(E.pipelineRequest(B, 'ai_feedback'));
    expect((await s.outboxOfType('huleedu.batch.phase.skipped.v1')).map((d) => d.phase_name)).toEqual(['spellcheck', 'spellcheck', 'nlp']);
    expect(await s.outboxOfType('huleedu.batch.ai_feedback.initiate.command.v1')).toEqual([
      expect.objectContaining({ entity_id: B, essays_to_process: survivors, course_code: 'SV2', class_type: 'REGULAR', owner_user_id: 'teacher-1', run_id: 3 }),
    ]);
    expect(await s.outboxOfType('huleedu.batch.ai_feedback.processing.requested.v1')).toEqual([expect.objectContaining({ course_code: 'SV2', run_id: 3 })]);
    await s.send(E.batchResult('ai_feedback', B, ['r1', 'r3']));
    expect(await s.statuses(B)).toMatchObject({ batch: 'ready_for_pipeline_execution', essays: essaysIn(ESSAYS, 'ai_feedback_success', { r2: 'spellcheck_failed' }) });

    await s.send(close(B));
    expect(await s.statuses(B)).toEqual({
      batch: 'completed_with_failures', tracker: 'closed', associations: 'confirmed',
      essays: essaysIn(ESSAYS, 'all_processing_completed', { r2: 'spellcheck_failed' }),
    });
    expect(await s.outboxOfType('huleedu.class.student.associations.confirmed.v1')).toHaveLength(1);
    await s.expectCorrelationsPropagated();
  });

  it('converges when BatchEssaysReady reaches the batch before the confirmation: straight to ready, the tracker\'s later one is a no-op', async () => {
    const s = new Scenario();
    await regularBatchAwaitingValidation(s, B, CLASS, 'SV2', ESSAYS);
    await s.send(suggestions(B, CLASS, 'SV2', [['r1', 's1', 0.9], ['r2', 's2', 0.9], ['r3', 's3', 0.9]]));
    const texts = ESSAYS.map((id) => ({ essay_id: id, text_storage_id: `text-${id}` }));
    const ready = await s.send(E.envelope('huleedu.els.batch.essays.ready.v1', {
      batch_id: B, ready_essays: texts, course_code: 'SV2', course_language: 'sv', class_type: 'REGULAR',
    }));
    expect(ready).toMatchObject({ outcome: 'accepted', from: 'awaiting_student_validation', to: 'awaiting_student_validation' });
    await s.send(validated(B, [['r1', 's1', true], ['r2', 's2', true], ['r3', 's3', true]]));
    expect(await s.statuses(B)).toEqual({
      batch: 'ready_for_pipeline_execution', tracker: 'content_provisioned', associations: 'confirmed', essays: essaysIn(ESSAYS, 'ready_for_processing'),
    });
    const history = await s.store.history('batch', B, { limit: 1000 });
    expect(history.map((row) => [row.event_type, row.from_status, row.to_status, row.outcome])).toEqual([
      ['huleedu.batch.essays.registered.v1', null, 'awaiting_content_validation', 'accepted'],
      ['huleedu.batch.content.provisioning.completed.v1', 'awaiting_content_validation', 'awaiting_student_validation', 'accepted'],
      ['huleedu.els.batch.essays.ready.v1', 'awaiting_student_validation', 'awaiting_student_validation', 'accepted'],
      ['huleedu.class.student.associations.confirmed.v1', 'awaiting_student_validation', 'ready_for_pipeline_execution', 'accepted'],
      ['huleedu.els.batch.essays.ready.v1', 'ready_for_pipeline_execution', 'ready_for_pipeline_execution', 'accepted'],
    ]);
    const started = await s.send(E.pipelineRequest(B, 'nlp'));
    expect(started).toMatchObject({ outcome: 'accepted', to: 'processing_pipelines' });
  });
});

describe('e2e (c): REGULAR batch confirmed by the 24-hour timeout', () => {
  const B = 'regular-timeout';
  const CLASS = 'class-9';
  const ESSAYS = ['t1', 't2', 't3'];

  it('fires exactly at 24 h (not 1 ms before), keeps >= 0.7 suggestions, re-points 0.5 to UNKNOWN, and refuses a late person', async () => {
    const s = new Scenario();
    await regularBatchAwaitingValidation(s, B, CLASS, 'ENG6', ESSAYS);
    s.advance(5 * 60_000);
    const suggestedEnvelope = s.stamp(suggestions(B, CLASS, 'ENG6', [['t1', 's1', 0.92], ['t2', 's2', 0.7], ['t3', 's3', 0.5]]));
    await s.dispatch(suggestedEnvelope);
    const armedAt = s.now().getTime();
    const due = new Date(armedAt + DAY_MS).toISOString();
    expect(await s.store.nextTimerDue()).toBe(due);
    const waiting: Statuses = {
      batch: 'awaiting_student_validation', tracker: 'content_provisioned', associations: 'pending_validation', essays: essaysIn(ESSAYS, 'ready_for_processing'),
    };
    expect(await s.statuses(B)).toEqual(waiting);

    s.advance(DAY_MS - 1);
    expect(await s.fireDueTimers(suggestedEnvelope.correlation_id)).toEqual([]);
    expect(await s.statuses(B)).toEqual(waiting);
    expect(await s.outboxOfType('huleedu.class.student.associations.confirmed.v1')).toEqual([]);

    s.advance(1);
    expect(s.now().toISOString()).toBe(due);
    const fired = await s.fireDueTimers(suggestedEnvelope.correlation_id);
    expect(fired).toHaveLength(1);
    expect(fired[0]).toMatchObject({
      outcome: 'accepted', entity: { machine: 'associations', entity_id: B }, from: 'pending_validation', to: 'timeout_confirmed',
    });
    expect(fired[0]!.emitted.map((e) => [e.event_type, e.internal])).toEqual([
      ['huleedu.class.student.associations.confirmed.v1', true],
      ['huleedu.class.validation.timeout.processed.v1', false],
      ['huleedu.els.batch.essays.ready.v1', true],
    ]);
    const timeout = { validation_method: 'timeout', validated_by: 'SYSTEM_TIMEOUT', validated_at: due };
    expect(await s.outboxOfType('huleedu.class.student.associations.confirmed.v1')).toEqual([
      {
        batch_id: B, class_id: CLASS, course_code: 'ENG6', timeout_triggered: true,
        validation_summary: { total_associations: 3, confirmed: 3, rejected: 0 },
        associations: [
          { essay_id: 't1', student_id: 's1', confidence_score: 0.92, ...timeout },
          { essay_id: 't2', student_id: 's2', confidence_score: 0.7, ...timeout },
          { essay_id: 't3', student_id: `unknown-student:${CLASS}`, confidence_score: 0, ...timeout },
        ],
      },
    ]);
    expect(await s.outboxOfType('huleedu.class.validation.timeout.processed.v1')).toEqual([
      { batch_id: B, class_id: CLASS, timeout_hours: 24, auto_confirmed_associations: 2, unknown_student_associations: 1 },
    ]);
    expect(await s.outboxOfType('huleedu.els.batch.essays.ready.v1')).toEqual([expect.objectContaining({ course_code: 'ENG6', course_language: 'en', class_type: 'REGULAR' })]);
    const stored = (await s.store.load('associations', B))!.snapshot as { context: { associations: Array<{ status: string }> } };
    expect(stored.context.associations.map((a) => a.status)).toEqual(['timeout_confirmed', 'timeout_confirmed', 'timeout_confirmed']);
    expect(await s.statuses(B)).toEqual({
      batch: 'ready_for_pipeline_execution', tracker: 'content_provisioned', associations: 'timeout_confirmed', essays: essaysIn(ESSAYS, 'ready_for_processing'),
    });
    // The confirmation reaches the batch before BatchEssaysReady: via validation_timeout_processed.
    expect(await s.batchPath(B)).toEqual([
      'awaiting_content_validation', 'awaiting_student_validation', 'validation_timeout_processed', 'ready_for_pipeline_execution',
    ]);

    // The timer fired once; nothing is due any more, even much later.
    expect(await s.store.nextTimerDue()).toBeUndefined();
    expect(await s.fireDueTimers(suggestedEnvelope.correlation_id)).toEqual([]);
    s.advance(DAY_MS);
    expect(await s.fireDueTimers(suggestedEnvelope.correlation_id)).toEqual([]);

    // A person validating afterwards is refused; no second confirmation is ever emitted.
    const late = await s.send(validated(B, [['t1', 's1', true], ['t2', 's2', true], ['t3', 's3', true]]));
    expect(late).toMatchObject({
      outcome: 'refused', code: 'EVENT_REJECTED', entity: { machine: 'associations', entity_id: B },
      from: 'timeout_confirmed', to: 'timeout_confirmed', accepting_states: ['pending_validation'], emitted: [],
    });
    expect(late.reason).toContain('timeout_confirmed');
    expect(await s.outboxOfType('huleedu.class.student.associations.confirmed.v1')).toHaveLength(1);
    expect(await s.statuses(B)).toMatchObject({ batch: 'ready_for_pipeline_execution', associations: 'timeout_confirmed' });
    await s.expectCorrelationsPropagated();
  });
});

describe('e2e (d): idempotency', () => {
  /** Everything observable, to prove a duplicate changed nothing. */
  async function observe(s: Scenario) {
    return {
      counts: await s.store.countByStatus(),
      outbox: await s.store.outboxCount(),
      audit: (await s.store.auditSince(0, 1000)).length,
      entities: await s.entities(),
    };
  }

  it('the same envelope twice answers duplicate with the first outcome and changes nothing (content, a cascading result, a refusal)', async () => {
    const s = new Scenario();
    const B = 'idem-1';
    await s.send(E.registration(B, ['i1', 'i2'], { student_prompt_ref: 'prompt-idem' }));
    const content = s.stamp(E.content(B, 'text-i1'));
    const first = await s.dispatch(content);
    await s.send(E.content(B, 'text-i2'));
    await s.send(E.pipelineRequest(B, 'nlp'));
    await s.send(E.spellchecked(B, 'i1', true));
    const cascading = s.stamp(E.spellchecked(B, 'i2', true));
    const firstCascade = await s.dispatch(cascading);
    expect(firstCascade.emitted.map((e) => e.event_type)).toContain('huleedu.batch.nlp.initiate.command.v2');
    const refusal = s.stamp(E.pipelineRequest(B, 'nlp'));
    const firstRefusal = await s.dispatch(refusal);
    expect(firstRefusal).toMatchObject({ outcome: 'refused', code: 'EVENT_REJECTED' });

    const before = await observe(s);
    expect(await s.dispatch(content)).toEqual({ ...first, outcome: 'duplicate', steps: 0, first_outcome: 'accepted' });
    expect(await s.dispatch(cascading)).toEqual({ ...firstCascade, outcome: 'duplicate', steps: 0, first_outcome: 'accepted' });
    const again = await s.dispatch(refusal);
    expect(again).toMatchObject({ outcome: 'duplicate', first_outcome: 'refused', entity: firstRefusal.entity, from: 'processing_pipelines', steps: 0 });
    expect(await observe(s)).toEqual(before);
    await s.expectCorrelationsPropagated();
  });
});

describe('e2e (e): refusal', () => {
  it('a pipeline request while awaiting_student_validation is refused naming the state and ready_for_pipeline_execution; only audit and inbox change', async () => {
    const s = new Scenario();
    const B = 'refuse-1';
    await regularBatchAwaitingValidation(s, B, 'class-3', 'ENG5', ['x1', 'x2']);
    await s.send(suggestions(B, 'class-3', 'ENG5', [['x1', 's1', 0.9], ['x2', 's2', 0.9]]));
    const entitiesBefore = await s.entities();
    const outboxBefore = await s.outboxRows();
    const timersBefore = await s.store.dueTimers('9999-12-31T23:59:59.999Z', 1000);
    const auditBefore = await s.store.auditSince(0, 1000);

    const request = s.stamp(E.pipelineRequest(B, 'nlp'));
    const refused = await s.dispatch(request);
    expect(refused).toMatchObject({
      event_id: request.event_id, outcome: 'refused', code: 'EVENT_REJECTED', entity: { machine: 'batch', entity_id: B },
      from: 'awaiting_student_validation', to: 'awaiting_student_validation', accepting_states: ['ready_for_pipeline_execution'],
      emitted: [], steps: 0,
    });
    expect(refused.reason).toContain('"awaiting_student_validation"');
    expect(refused.reason).toContain('ready_for_pipeline_execution');

    expect(await s.entities()).toEqual(entitiesBefore);
    expect(await s.outboxRows()).toEqual(outboxBefore);
    expect(await s.store.dueTimers('9999-12-31T23:59:59.999Z', 1000)).toEqual(timersBefore);
    const auditAfter = await s.store.auditSince(0, 1000);
    expect(auditAfter.slice(0, auditBefore.length)).toEqual(auditBefore);
    expect(auditAfter.slice(auditBefore.length)).toEqual([
      expect.objectContaining({
        event_id: request.event_id, machine: 'batch', entity_id: B, outcome: 'refused', reason: refused.reason,
        from_status: 'awaiting_student_validation', to_status: 'awaiting_student_validation', entity_version: null, correlation_id: request.correlation_id,
      }),
    ]);
    expect((await s.store.findInbox([request.event_id])).get(request.event_id)).toMatchObject({ deliveries: [{ outcome: 'refused', code: 'EVENT_REJECTED' }] });
    expect(await s.engine.dispatch(request)).toMatchObject({ outcome: 'duplicate', first_outcome: 'refused', code: 'EVENT_REJECTED', reason: refused.reason });
  });
});
