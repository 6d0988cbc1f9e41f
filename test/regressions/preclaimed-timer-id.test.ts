/**
 * Review (pre-existing, noticed while checking own-copies): the inbox key is the bare event id, and
 * the ids the engine derives are public functions of what they derive from (ids.ts: a fixed
 * namespace; a timer's id is uuidv5(`timer:<timer_id>:<due_at>`)). An outside event that carries
 * such an id before it is derived claims it: when the 24-hour association timer fires, its event id
 * is "already taken", the timer answers `duplicate`, is marked fired, and the batch never times out.
 * Same for a published internal message's id (the cascade then loses its commit on the inbox key
 * on every retry: the cause can never be applied).
 *
 * Fixed: a timer still due never committed its own firing, so a duplicate there is a claim by
 * another event; the timer fires under a fresh id (the stores' compare-and-set on the timer row
 * keeps it to one firing).
 */
import { describe, expect, it } from 'vitest';
import { LifecycleEngine } from '../../adapters/engine/engine.js';
import { LifecycleQueries } from '../../adapters/engine/queries.js';
import { timerEventId } from '../../adapters/engine/ids.js';
import { openSqliteStore, type SqliteStore } from '../../adapters/sqlite/store.js';
import { content, envelope, registration } from '../support/envelopes.js';
import { suggestions } from '../support/reliability-kit.js';

/** A batch waiting for student validation (its 24-hour timer armed), and that timer's derived event id claimed by an outside event. */
async function claimedTimer() {
  const clock = { now: new Date('2026-03-04T05:06:07.000Z') };
  const store = openSqliteStore({ path: ':memory:', now: () => clock.now });
  const engine = new LifecycleEngine({ store, clock: () => clock.now });
  const queries = new LifecycleQueries(store);
  await engine.dispatch(registration('pre-1', ['pre-1-e1'], { class_id: 'class-1' }));
  await engine.dispatch(content('pre-1', 't1'));
  await engine.dispatch(suggestions('pre-1', 'class-1', ['pre-1-e1']));
  expect((await queries.entity('batch', 'pre-1'))?.status).toBe('awaiting_student_validation');
  const timer = store.db.prepare<[], { timer_id: string; due_at: string }>('SELECT timer_id, due_at FROM timers WHERE fired_at IS NULL').get();
  expect(timer).toBeDefined();
  // Any event the sender may send, under the id the timer's event will have.
  const claim = envelope('huleedu.batch.prompt.attached.v1', { batch_id: 'pre-1', user_id: 'teacher-1', student_prompt_ref: 'p' }, {
    event_id: timerEventId(String(timer?.timer_id), String(timer?.due_at)),
  });
  await engine.dispatch(claim).catch(() => undefined);
  clock.now = new Date(clock.now.getTime() + 25 * 3_600_000);
  return { clock, store, engine, queries };
}

const timerEvents = (store: SqliteStore): number =>
  (store.db.prepare("SELECT count(*) AS n FROM audit WHERE event_type LIKE 'xstate.after.%'").get() as { n: number }).n;

describe('regression: derived event ids claimed in advance', () => {
  it('an outside event carrying the future id of the association timeout does not stop the timeout from applying', async () => {
    const { store, engine, queries } = await claimedTimer();
    const [fired] = await engine.fireDueTimers();
    expect(fired).toMatchObject({ outcome: 'accepted', entity: { machine: 'associations', entity_id: 'pre-1' }, to: 'timeout_confirmed' });
    expect((await queries.entity('batch', 'pre-1'))?.status).toBe('ready_for_pipeline_execution');
    await store.close();
  });

  it('a claimed timer that another writer fired meanwhile is skipped, not fired twice under a fresh id', async () => {
    const { clock, store, engine } = await claimedTimer();
    const staleDue = await store.dueTimers(clock.now.toISOString(), 10);
    expect(staleDue).toHaveLength(1);
    expect((await engine.fireDueTimers()).map((answer) => answer.outcome)).toEqual(['accepted']);
    const before = timerEvents(store);
    // A second writer that read the timer as due before the first one fired it.
    const stale = new Proxy(store, {
      get: (target, key) => (key === 'dueTimers' ? () => Promise.resolve(staleDue) : (Reflect.get(target, key, target) as unknown)),
    });
    const second = new LifecycleEngine({ store: stale, clock: () => clock.now });
    expect(await second.fireDueTimers()).toEqual([]);
    expect([before, timerEvents(store)]).toEqual([1, 1]);
    await store.close();
  });
});
