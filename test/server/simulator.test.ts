/** The simulated services drive real batches through the engine; seeded, no sleeps. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LifecycleEngine } from '../../adapters/engine/engine.js';
import { LifecycleQueries } from '../../adapters/engine/queries.js';
import { openSqliteStore } from '../../adapters/sqlite/store.js';
import type { Json } from '../../adapters/store.js';
import { Simulator, type SimulatorOptions } from '../../server/simulator.js';
import { envelope, pipelineRequest, registration } from '../support/envelopes.js';

const T0 = Date.parse('2026-03-01T09:00:00.000Z');

interface Harness {
  readonly engine: LifecycleEngine;
  readonly queries: LifecycleQueries;
  readonly sim: Simulator;
  readonly clock: { now: number };
  /** Every message the simulator relayed (published), in order. */
  readonly published: Array<Record<string, Json>>;
  /** Ticks the simulator, jumping the clock to each next due answer, until nothing is left. */
  settle(): Promise<void>;
  close(): Promise<void>;
}

function harness(options: Partial<Omit<SimulatorOptions, 'engine'>> = {}): Harness {
  const clock = { now: T0 };
  const store = openSqliteStore({ path: ':memory:', now: () => new Date(clock.now) });
  const engine = new LifecycleEngine({ store, clock: () => new Date(clock.now), outboxInternal: true });
  const published: Array<Record<string, Json>> = [];
  const onPublish: SimulatorOptions['onPublish'] = (rows) => {
    for (const row of rows) published.push(row.envelope as Record<string, Json>);
  };
  const sim = new Simulator({ engine, seed: 42, failureRate: 0, delayMs: { min: 10, max: 500 }, now: () => clock.now, onPublish, ...options });
  return {
    engine,
    queries: new LifecycleQueries(store),
    sim,
    clock,
    published,
    async settle() {
      for (let round = 0; round < 10_000; round += 1) {
        const done = await sim.tick();
        const next = sim.nextDueAt();
        if (next === undefined && done === 0) return;
        if (next !== undefined) clock.now = Math.max(clock.now, next);
      }
      throw new Error('simulation did not settle');
    },
    async close() {
      await sim.stop();
      await store.close();
    },
  };
}

async function statusOf(h: Harness, machine: string, id: string): Promise<string | undefined> {
  return (await h.queries.entity(machine, id))?.status;
}

function essayIds(batch: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${batch}-essay-${i + 1}`);
}


let open: Harness | undefined;
afterEach(async () => {
  await open?.close();
  open = undefined;
});

describe('Simulator', () => {
  it('provides content for every slot of a GUEST batch, which becomes ready; an nlp pipeline then completes', async () => {
    const h = (open = harness());
    await h.engine.dispatch(registration('guest-1', essayIds('guest-1', 4), { student_prompt_ref: 'prompt-1' }));
    await h.settle();
    expect(await statusOf(h, 'batch', 'guest-1')).toBe('ready_for_pipeline_execution');
    const essays = await h.queries.essaysOf('guest-1');
    expect(essays.map((essay) => essay.status)).toEqual(Array(4).fill('ready_for_processing'));

    await h.engine.dispatch(pipelineRequest('guest-1', 'nlp'));
    expect(await statusOf(h, 'batch', 'guest-1')).toBe('processing_pipelines');
    await h.settle();
    expect(await statusOf(h, 'batch', 'guest-1')).toBe('ready_for_pipeline_execution');
    expect(await h.engine.store.outboxCount({ published: false })).toBe(0);

    const completed = completedRuns(h, 'guest-1');
    expect(completed).toHaveLength(1);
    expect(completed[0]).toMatchObject({
      batch_id: 'guest-1',
      requested_pipeline: 'nlp',
      completed_phases: ['spellcheck', 'nlp'],
      final_status: 'completed_successfully',
      successful_essay_count: 4,
      failed_essay_count: 0,
    });
  });

  it('ends the pipeline failed_critically when every spellcheck fails', async () => {
    const h = (open = harness({ failureRates: { spellcheck: 1 } }));
    await h.engine.dispatch(registration('guest-2', essayIds('guest-2', 3), { student_prompt_ref: 'prompt-1' }));
    await h.settle();
    await h.engine.dispatch(pipelineRequest('guest-2', 'nlp'));
    await h.settle();
    const [run] = completedRuns(h, 'guest-2');
    expect(run).toMatchObject({ final_status: 'failed_critically', successful_essay_count: 0, failed_essay_count: 3 });
    expect(await statusOf(h, 'batch', 'guest-2')).toBe('ready_for_pipeline_execution');
    const essays = await h.queries.essaysOf('guest-2');
    expect(new Set(essays.map((essay) => essay.status))).toEqual(new Set(['spellcheck_failed']));
  });

  it('answers student matching for a REGULAR batch with suggestions above and below 0.7', async () => {
    const h = (open = harness());
    await h.engine.dispatch(registration('regular-1', essayIds('regular-1', 12), { class_id: 'class-7' }));
    await h.settle();
    expect(await statusOf(h, 'batch', 'regular-1')).toBe('awaiting_student_validation');
    const associations = await h.queries.entity('associations', 'regular-1');
    expect(associations?.status).toBe('pending_validation');
    const list = (associations?.context as { associations: Array<{ essay_id: string; student_id: string | null; confidence_score: number | null }> }).associations;
    // An essay the simulated matcher found nobody for gets no association (the reference's rule).
    expect(list.length).toBeGreaterThan(0);
    expect(list.length).toBeLessThan(12);
    expect(list.every((a) => a.student_id !== null && essayIds('regular-1', 12).includes(a.essay_id))).toBe(true);
    const scores = list.flatMap((a) => (a.confidence_score === null ? [] : [a.confidence_score]));
    expect(scores.some((score) => score >= 0.7)).toBe(true);
    expect(scores.some((score) => score < 0.7)).toBe(true);


    const associations_ = list.flatMap((a) => (a.student_id === null ? [] : [{ essay_id: a.essay_id, student_id: a.student_id, confirmed: true }]));
    await h.engine.dispatch(
      envelope('huleedu.class.student.associations.validated.v1', { batch_id: 'regular-1', user_id: 'teacher-1', associations: associations_ }),
    );
    expect(await statusOf(h, 'associations', 'regular-1')).toBe('confirmed');
    expect(await statusOf(h, 'batch', 'regular-1')).toBe('ready_for_pipeline_execution');
  });

  it('lets the 24-hour timeout confirm a REGULAR batch whose suggestions nobody validated', async () => {
    const h = (open = harness());
    await h.engine.dispatch(registration('regular-2', essayIds('regular-2', 3), { class_id: 'class-8' }));
    await h.settle();
    expect(await statusOf(h, 'batch', 'regular-2')).toBe('awaiting_student_validation');
    h.clock.now += 24 * 60 * 60 * 1000;
    const fired = await h.engine.fireDueTimers();
    expect(fired).toHaveLength(1);
    expect(await statusOf(h, 'associations', 'regular-2')).toBe('timeout_confirmed');
    expect(await statusOf(h, 'batch', 'regular-2')).toBe('ready_for_pipeline_execution');
  });

  it('drops the pending answers of a batch cancelled mid-pipeline', async () => {
    const h = (open = harness());
    await h.engine.dispatch(registration('guest-3', essayIds('guest-3', 3), { student_prompt_ref: 'prompt-1' }));
    await h.settle();
    await h.engine.dispatch(pipelineRequest('guest-3', 'nlp'));
    await h.sim.tick();
    expect(h.sim.pending).toBe(3);
    await h.engine.dispatch(envelope('huleedu.batch.cancel.requested.v1', { batch_id: 'guest-3', user_id: 'teacher-1' }));
    await h.sim.tick();
    expect(h.sim.pending).toBe(0);
    await h.settle();
    expect(await statusOf(h, 'batch', 'guest-3')).toBe('cancelled');
    expect(await h.engine.store.outboxCount({ published: false })).toBe(0);
  });

  it('is deterministic for a seed and marks failed content at the failure rate', async () => {
    const run = async (): Promise<string[]> => {
      const h = harness({ failureRate: 0.3, seed: 7 });
      try {
        await h.engine.dispatch(registration('det-1', essayIds('det-1', 10)));
        await h.settle();
        return (await h.queries.essaysOf('det-1')).map((essay) => essay.status);
      } finally {
        await h.close();
      }
    };
    const first = await run();
    expect(await run()).toEqual(first);
    expect(first).toContain('content_ingestion_failed');
    expect(first).toContain('ready_for_processing');
  });

  it('runs by itself after start() (fake timers) and stop() waits for the round in progress', async () => {
    vi.useFakeTimers({ now: T0 });
    try {
      const store = openSqliteStore({ path: ':memory:' });
      const engine = new LifecycleEngine({ store, outboxInternal: true });
      const sim = new Simulator({ engine, seed: 1, failureRate: 0, delayMs: { min: 100, max: 200 }, pollIntervalMs: 50 });
      sim.start();
      await engine.dispatch(registration('auto-1', essayIds('auto-1', 2), { student_prompt_ref: 'p' }));
      await vi.advanceTimersByTimeAsync(1_000);
      expect((await store.load('batch', 'auto-1'))?.status).toBe('ready_for_pipeline_execution');
      await engine.dispatch(pipelineRequest('auto-1', 'nlp'));
      await vi.advanceTimersByTimeAsync(50);
      expect(sim.pending).toBe(2);
      await sim.stop();
      expect(sim.pending).toBe(0);
      await vi.advanceTimersByTimeAsync(5_000);
      expect((await store.load('batch', 'auto-1'))?.status).toBe('processing_pipelines');
      expect(await store.outboxCount({ published: false })).toBeGreaterThan(0);

      const restarted = new Simulator({ engine, seed: 2, failureRate: 0, delayMs: { min: 100, max: 200 } });
      restarted.start();
      await vi.advanceTimersByTimeAsync(5_000);
      await restarted.stop();
      expect((await store.load('batch', 'auto-1'))?.status).toBe('ready_for_pipeline_execution');
      await store.close();
    } finally {
      vi.useRealTimers();
    }
  });
});

/** The BatchPipelineCompletedV1 payloads the simulator relayed for a batch. */
function completedRuns(h: Harness, batchId: string): Array<Record<string, Json>> {
  return h.published
    .filter((e) => e.event_type === 'huleedu.batch.pipeline.completed.v1')
    .map((e) => e.data as Record<string, Json>)
    .filter((data) => data.batch_id === batchId);
}
