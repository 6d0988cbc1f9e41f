/**
 * The lifecycle invariants (machines/invariants) and the engine's `invariants` option. Every
 * invariant holds on real runs and is broken by an example built from one, so none can pass
 * vacuously; the engine refuses, logs or ignores a violation as configured.
 */
import { describe, expect, it } from 'vitest';
import { defaultMachines, LifecycleEngine } from '../adapters/engine/index.js';
import { isLifecycleError } from '../adapters/errors.js';
import { createMemoryStore } from '../adapters/memory/index.js';
import { batchLifecycle } from '../machines/batch/index.js';
import { listItems, listSet, partedList, type PartedList } from '../machines/context-parts.js';
import { checkInvariants, LIFECYCLE_INVARIANTS, trackerViewOf, type Invariant, type InvariantEntity, type InvariantWorld } from '../machines/invariants/index.js';
import { envelope } from './support/envelopes.js';
import { storeViolations, worldsOfStore } from './support/invariant-worlds.js';
import { guestBatch, regularBatch } from './support/reliability-kit.js';

type Mutable = Record<string, unknown>;
const clone = <T>(value: T): T => structuredClone(value);

/** A REGULAR batch (nlp pipeline, one essay rejected by the teacher) and a GUEST batch with a failing essay, run to the end. */
async function finishedWorlds(): Promise<InvariantWorld[]> {
  const store = createMemoryStore();
  const engine = new LifecycleEngine({ store, invariants: 'refuse' });
  for (const raw of [...regularBatch('inv', 'r1', 3), ...guestBatch('inv', 'g1', 3, ['g1-essay-1'])]) await engine.dispatch(raw);
  return worldsOfStore(store, defaultMachines());
}

function withEntity(world: InvariantWorld, machine: string, change: (entity: Mutable) => void, pick: (entity: InvariantEntity) => boolean = () => true): InvariantWorld {
  let done = false;
  const entities = world.entities.map((entity) => {
    if (done || entity.machine !== machine || !pick(entity)) return entity;
    done = true;
    const copy = clone(entity) as unknown as Mutable;
    change(copy);
    return copy as unknown as InvariantEntity;
  });
  return { ...world, entities };
}

const context = (entity: Mutable): Mutable => entity.context as Mutable;
const repeated = (world: InvariantWorld, type: string): InvariantWorld => ({ ...world, emitted: [...world.emitted, ...world.emitted.filter((m) => m.event_type === type)] });

/** One broken world per invariant, each made from a world where everything holds. */
const BREAKERS: Record<string, (world: InvariantWorld) => InvariantWorld> = {
  'entity.version_increases_by_one': (w) => withEntity(w, 'batch', (e) => Object.assign(e, { changed: true, version: 9, previous: { status: 'x', version: 3, final: false } })),
  'entity.final_accepts_nothing': (w) => withEntity(w, 'batch', (e) => Object.assign(e, { changed: true, version: 4, previous: { status: 'cancelled', version: 3, final: true } })),
  'batch.ready_implies_content_and_associations': (w) => withEntity(w, 'batch_tracker', (e) => Object.assign(e, { status: 'awaiting_content' })),
  'batch.essays_belong_to_batch': (w) => withEntity(w, 'batch', (e) => (context(e).essays as unknown[]).push({ essay_id: 'stranger', text_storage_id: 't', failed_phase: null })),
  'batch.failed_essays_not_in_flight': (w) =>
    withEntity(w, 'batch', (e) => {
      const essays = context(e).essays as Array<{ essay_id: string; failed_phase: string | null }>;
      essays[0]!.failed_phase = 'spellcheck';
      context(e).run = { run_id: 9, phases: ['nlp'], index: 0, current_essay_ids: [essays[0]!.essay_id], phase_status: {}, failed_essay_ids: [] };
    }),
  'batch.one_completion_per_run': (w) => repeated(w, 'huleedu.batch.pipeline.completed.v1'),
  'batch.run_counts_add_up': (w) => ({
    ...w,
    emitted: w.emitted.map((m) => (m.event_type === 'huleedu.batch.pipeline.completed.v1' ? { ...m, data: { ...m.data, successful_essay_count: Number(m.data.successful_essay_count) + 1 } } : m)),
  }),
  'essay.parent_is_its_batch': (w) => withEntity(w, 'essay', (e) => Object.assign(e, { parent_id: 'another-batch' })),
  'essay.failed_enters_no_later_phase': (w) => withEntity(w, 'essay', (e) => Object.assign(e, { status: 'spellcheck_failed', context: { ...context(e), commanded_phases: ['spellcheck', 'nlp'] } })),
  'essay.status_matches_slot': (w) => withEntity(w, 'essay', (e) => Object.assign(e, { status: 'uploaded' })),
  'tracker.counts_match_slots': (w) => withEntity(w, 'batch_tracker', (e) => Object.assign(context(e), { assigned_count: Number(context(e).assigned_count) + 1 })),
  'tracker.counts_match_essays': (w) => withEntity(w, 'essay', (e) => Object.assign(e, { status: 'content_ingestion_failed' })),
  'tracker.one_outcome_per_run_phase': (w) => repeated(w, 'huleedu.els.batch.phase.outcome.v1'),
  'associations.only_for_suggested_essays': (w) => withEntity(w, 'associations', (e) => ((context(e).associations as Mutable[])[0]!.student_id = null)),
  'associations.one_confirmation': (w) => repeated(w, 'huleedu.class.student.associations.confirmed.v1'),
};

describe('lifecycle invariants', () => {
  it('has a breaking example for every declared invariant (and no example for an undeclared one)', () => {
    expect(Object.keys(BREAKERS).sort()).toEqual(LIFECYCLE_INVARIANTS.map((invariant) => invariant.name).sort());
    expect(new Set(LIFECYCLE_INVARIANTS.map((invariant) => invariant.name)).size).toBe(LIFECYCLE_INVARIANTS.length);
  });

  it('every invariant holds on finished REGULAR and GUEST runs checked as whole worlds', async () => {
    const worlds = await finishedWorlds();
    expect(worlds.map((world) => world.batch_id)).toEqual(['g1', 'r1']);
    for (const world of worlds) expect(checkInvariants(world, LIFECYCLE_INVARIANTS)).toEqual([]);
  });

  it.each(LIFECYCLE_INVARIANTS.map((invariant) => [invariant.name, invariant] as const))('%s is violated by its breaking example, with a message naming the batch', async (name, invariant) => {
    const world = (await finishedWorlds()).find((candidate) => candidate.batch_id === 'r1')!;
    const broken = BREAKERS[name]!(world);
    const violations = checkInvariants(broken, [invariant]);
    expect(violations).toHaveLength(1);
    expect(violations[0]).toMatchObject({ invariant: name, batch_id: 'r1' });
    expect(violations[0]!.message.length).toBeGreaterThan(10);
  });

  it('a check that throws is reported as a violation, not a crash', () => {
    const throwing: Invariant = { name: 'test.throws', description: 'throws', check: () => { throw new Error('boom'); } };
    expect(checkInvariants({ batch_id: 'b', entities: [], allEssays: false, emitted: [], allEmitted: false }, [throwing])).toEqual([
      { invariant: 'test.throws', batch_id: 'b', message: 'the check threw: boom' },
    ]);
  });
});

/** The library's machines with one extra batch invariant: "a batch is never cancelled". */
const neverCancelled: Invariant = {
  name: 'test.never_cancelled',
  description: 'a batch is never cancelled',
  check: (world) => (world.entities.some((e) => e.machine === 'batch' && e.status === 'cancelled') ? `batch "${world.batch_id}" was cancelled` : undefined),
};
const strictMachines = { ...defaultMachines(), batch: { ...batchLifecycle, invariants: [...(batchLifecycle.invariants ?? []), neverCancelled] } };
const cancel = (batchId: string) => envelope('huleedu.batch.cancel.requested.v1', { batch_id: batchId, user_id: 'teacher-1' });

describe('engine option invariants', () => {
  it("'refuse' writes nothing and fails with INVARIANT_VIOLATED naming the invariant", async () => {
    const store = createMemoryStore();
    const engine = new LifecycleEngine({ store, machines: strictMachines, invariants: 'refuse' });
    await engine.dispatch(guestBatch('refuse', 'b1', 1)[0]);
    const before = { audit: (await store.auditSince(0, 1000)).length, outbox: await store.outboxCount() };
    const error = await engine.dispatch(cancel('b1')).catch((caught: unknown) => caught);
    expect(isLifecycleError(error, 'INVARIANT_VIOLATED')).toBe(true);
    expect((error as Error).message).toContain('test.never_cancelled');
    expect((error as { details: { violations: unknown[] } }).details.violations).toEqual([{ invariant: 'test.never_cancelled', batch_id: 'b1', message: 'batch "b1" was cancelled' }]);
    expect({ audit: (await store.auditSince(0, 1000)).length, outbox: await store.outboxCount() }).toEqual(before);
    expect((await store.load('batch', 'b1'))?.status).toBe('awaiting_content_validation');
  });

  it("'refuse' in dispatchMany answers only the violating item invalid; the others commit", async () => {
    const store = createMemoryStore();
    const engine = new LifecycleEngine({ store, machines: strictMachines, invariants: 'refuse' });
    const [registration] = guestBatch('many', 'b2', 1);
    const results = await engine.dispatchMany([registration, cancel('b2'), guestBatch('many', 'b3', 1)[0]]);
    expect(results.map((result) => result.outcome)).toEqual(['accepted', 'invalid', 'accepted']);
    expect(results[1]).toMatchObject({ code: 'INVARIANT_VIOLATED', index: 1 });
    expect((await store.load('batch', 'b2'))?.status).toBe('awaiting_content_validation');
    expect((await store.load('batch', 'b3'))?.status).toBe('awaiting_content_validation');
  });

  it("'log' commits and reports the violation with the event; 'off' does not check", async () => {
    const heard: unknown[] = [];
    const logging = new LifecycleEngine({ store: createMemoryStore(), machines: strictMachines, invariants: 'log', onInvariantViolation: (violations, event) => heard.push([violations.map((v) => v.invariant), event.event_type]) });
    await logging.dispatch(guestBatch('log', 'b4', 1)[0]);
    expect((await logging.dispatch(cancel('b4'))).to).toBe('cancelled');
    expect(heard).toEqual([[['test.never_cancelled'], 'huleedu.batch.cancel.requested.v1']]);
    const silent = new LifecycleEngine({ store: createMemoryStore(), machines: strictMachines, invariants: 'off', onInvariantViolation: () => heard.push('off') });
    await silent.dispatch(guestBatch('off', 'b5', 1)[0]);
    expect((await silent.dispatch(cancel('b5'))).to).toBe('cancelled');
    expect(heard).toHaveLength(1);
  });

  it('an unknown mode is INVALID_CONFIGURATION', () => {
    expect(() => new LifecycleEngine({ store: createMemoryStore(), invariants: 'sometimes' as never })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIGURATION' }));
  });
});

describe('defects the invariants found', () => {
  it('an outcome "completed_successfully" through which no essay came stops the run as a failed phase (was: a completed phase, the next one skipped for a failed dependency)', async () => {
    const store = createMemoryStore();
    const engine = new LifecycleEngine({ store, invariants: 'refuse', acceptInternalEvents: true }); // sends the tracker's phase outcome itself
    for (const raw of guestBatch('empty-outcome', 'g2', 2).slice(0, 4)) await engine.dispatch(raw);
    const answer = await engine.dispatch(
      envelope('huleedu.els.batch.phase.outcome.v1', { batch_id: 'g2', phase_name: 'spellcheck', phase_status: 'completed_successfully', processed_essays: [], failed_essay_ids: [] }),
    );
    expect(answer.outcome).toBe('accepted');
    const completion = (await store.pendingOutbox(1000)).find((row) => row.event_type === 'huleedu.batch.pipeline.completed.v1');
    expect((completion?.envelope as { data: unknown }).data).toMatchObject({ final_status: 'failed_critically', metadata: { phase_status: { spellcheck: 'failed', nlp: 'skipped_due_to_dependency_failure' } } });
    expect(await storeViolations(store, defaultMachines())).toEqual([]);
  });
});

describe('tracker view: derived facts follow the parts they come from', () => {
  const slot = (essay_id: string, state: 'free' | 'assigned' | 'failed') => ({ essay_id, state, text_storage_id: null, file_upload_id: null, original_file_name: null });
  const trackerWith = (slots: PartedList<ReturnType<typeof slot>>): InvariantEntity => ({
    machine: 'batch_tracker',
    entity_id: 'b',
    status: 'content_provisioned',
    parent_id: null,
    context: { slots, assigned_count: 0, registration: { expected_count: slots.length }, critical: {}, essays_ready_sent: false },
    version: 1,
    previous: null,
    changed: true,
  });

  it('after one slot changes, the assigned count, the assigned ids and the slot lookups equal a full recount', () => {
    const ids = Array.from({ length: 100 }, (_, index) => `e${index}`);
    let slots = partedList('slots', ids.map((id) => slot(id, 'free')), 10);
    for (const index of [0, 7, 42, 99, 42]) {
      slots = listSet(slots, index, slot(`e${index}`, index % 2 === 0 ? 'assigned' : 'failed'));
      const view = trackerViewOf(trackerWith(slots))!;
      const everySlot = listItems(slots);
      expect(view.assignedSlotCount()).toBe(everySlot.filter((s) => s.state === 'assigned').length);
      expect([...view.assignedIds()].sort()).toEqual(everySlot.filter((s) => s.state === 'assigned').map((s) => s.essay_id).sort());
      expect(view.slotOf(`e${index}`, index)?.state).toBe(everySlot[index]!.state);
    }
  });

  it('an essay whose slot_index points at another slot is still found (and one without a slot is not)', () => {
    const view = trackerViewOf(trackerWith(partedList('slots', [slot('a', 'free'), slot('b', 'assigned')], 16)))!;
    expect(view.slotOf('b', 0)).toEqual({ essay_id: 'b', state: 'assigned' });
    expect(view.slotOf('a', 5)).toEqual({ essay_id: 'a', state: 'free' });
    expect(view.slotOf('c', 1)).toBeUndefined();
  });

  it('a batch essay list that held against one slot list is checked again against another', async () => {
    const [world] = await finishedWorlds();
    const check = (w: InvariantWorld) => checkInvariants(w, LIFECYCLE_INVARIANTS).map((violation) => violation.invariant);
    expect(check(world!)).toEqual([]);
    // The same batch entity (same essay list object), its tracker's first assigned slot freed.
    const broken = withEntity(world!, 'batch_tracker', (e) => {
      const slots = context(e).slots as PartedList<{ state: string }>;
      const index = listItems(slots).findIndex((s) => s.state === 'assigned');
      context(e).slots = listSet(slots, index, { ...listItems(slots)[index]!, state: 'free' });
    });
    expect(check(broken)).toContain('batch.essays_belong_to_batch');
  });
});
