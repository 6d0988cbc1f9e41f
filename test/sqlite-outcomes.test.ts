/**
 * How the SQLite store keeps first answers: one accepted delivery that its audit row records is
 * kept derived (`=` and the rest), anything else as JSON; both read back exactly as written.
 */
import { describe, expect, it } from 'vitest';
import { LifecycleEngine } from '../adapters/engine/engine.js';
import { LifecycleError } from '../adapters/errors.js';
import { createMemoryStore } from '../adapters/memory/index.js';
import { openSqliteStore } from '../adapters/sqlite/store.js';
import type { AuditWrite, CommitBatch, Json } from '../adapters/store.js';
import { envelope, registration } from './support/envelopes.js';

const batch = (parts: Partial<CommitBatch> = {}): CommitBatch => ({
  entities: [], audit: [], outbox: [], inbox: [], timersSet: [], timersCancelled: [], timersFired: [], ...parts,
});
const row = (event_id: string, over: Partial<AuditWrite> = {}): AuditWrite => ({
  event_id, event_type: 't', correlation_id: 'c', causation_id: null, machine: 'essay', entity_id: 'e1', from_status: 'a', to_status: 'b',
  outcome: 'accepted', reason: null, entity_version: 1, envelope: {}, ...over,
});
const delivery = { machine: 'essay', entity_id: 'e1', from: 'a', to: 'b', outcome: 'accepted' };
const emitted = [{ event_id: 'x1', event_type: 'huleedu.t.v1', internal: false }];

/** Commits one audit row and answer per case, then reads every answer back. */
async function keep(cases: ReadonlyArray<{ id: string; audit?: Partial<AuditWrite>; answer: Json }>) {
  const store = openSqliteStore({ path: ':memory:' });
  await store.commit(batch({
    audit: cases.map((c) => row(c.id, c.audit)),
    inbox: cases.map((c) => ({ event_id: c.id, event_type: 't', result: c.answer })),
  }));
  const kept = new Map(store.db.prepare<[], { event_id: string; result: string }>('SELECT event_id, result FROM audit').all().map((r) => [r.event_id, r.result]));
  return { store, kept, found: await store.findInbox(cases.map((c) => c.id)) };
}

describe('SqliteStore kept answers', () => {
  it('keeps one accepted delivery that its audit row records as "=" and the rest, and reads it back field for field in the same order', async () => {
    const answer = { deliveries: [delivery], emitted, steps: 3 };
    const { store, kept, found } = await keep([{ id: 'ev-1', answer }]);
    expect(kept.get('ev-1')).toBe('={"emitted":{"t":["huleedu.t.v1"],"e":[["x1",0]]},"steps":3}');
    expect(JSON.stringify(found.get('ev-1'))).toBe(JSON.stringify(answer));
    await store.close();
  });

  it('keeps the emitted list of a derived answer as its types once and one pair per message, read back as the same objects in the same order', async () => {
    const many = [
      { event_id: 'm1', event_type: 'huleedu.a.v1', internal: true },
      { event_id: 'm2', event_type: 'huleedu.b.v1', internal: false },
      { event_id: 'm3', event_type: 'huleedu.a.v1', internal: false },
      { event_id: 'm4', event_type: 'huleedu.b.v1', internal: true },
    ];
    const cases = [
      { id: 'packed', answer: { deliveries: [delivery], emitted: many, steps: 4, refused: [] } },
      { id: 'odd-item', answer: { deliveries: [delivery], emitted: [...many, { event_id: 'm5', event_type: 'huleedu.a.v1', internal: true, extra: 1 }], steps: 1 } },
      { id: 'object', answer: { deliveries: [delivery], emitted: { t: ['x'], e: [['y', 0]] }, steps: 1 } },
      { id: 'old-layout', answer: { deliveries: [delivery], emitted: [], steps: 1 } },
    ];
    const { store, kept, found } = await keep(cases);
    expect(kept.get('packed')).toBe('={"emitted":{"t":["huleedu.a.v1","huleedu.b.v1"],"e":[["m1",1],["m2",2],["m3",0],["m4",3]]},"steps":4,"refused":[]}');
    expect(kept.get('object')).toBe(JSON.stringify(cases[2]?.answer));
    for (const c of cases) expect(JSON.stringify(found.get(c.id)), c.id).toBe(JSON.stringify(c.answer));
    await store.close();
  });

  it('keeps as JSON every answer its audit row does not say exactly, and reads each back unchanged', async () => {
    const cases = [
      { id: 'other-state', answer: { deliveries: [{ ...delivery, to: 'c' }], emitted: [], steps: 1 } },
      { id: 'refused', audit: { outcome: 'refused' as const, to_status: 'a', reason: 'no' }, answer: { deliveries: [{ ...delivery, to: 'a', outcome: 'refused', reason: 'no', code: 'EVENT_REJECTED' }], emitted: [], steps: 0 } },
      { id: 'two', answer: { deliveries: [delivery, { ...delivery, entity_id: 'e2' }], emitted: [], steps: 2 } },
      { id: 'extra-key', answer: { deliveries: [{ ...delivery, note: 'x' }], emitted: [], steps: 1 } },
      { id: 'internal', answer: { outcome: 'accepted', internal: true } },
      { id: 'created', audit: { from_status: null }, answer: { deliveries: [{ ...delivery, from: 'a' }], emitted: [], steps: 1 } },
    ];
    const { store, kept, found } = await keep(cases);
    for (const c of cases) {
      expect(kept.get(c.id), c.id).toBe(JSON.stringify(c.answer));
      expect(found.get(c.id), c.id).toEqual(c.answer);
    }
    await store.close();
  });

  it('a derived answer whose audit row is gone is a STORE_FAILURE naming the event, not a made-up answer', async () => {
    const store = openSqliteStore({ path: ':memory:' });
    store.db.prepare("INSERT INTO inbox (event_id, result, audit_position) VALUES ('ev-orphan', '={\"emitted\":[],\"steps\":1}', NULL)").run();
    const error: unknown = await store.findInbox(['ev-orphan']).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(LifecycleError);
    expect((error as LifecycleError).code).toBe('STORE_FAILURE');
    expect((error as LifecycleError).message).toMatch(/inbox row ev-orphan keeps a derived outcome without the audit row/);
    await store.close();
  });

  it('the engine answers duplicates on SQLite exactly as on the memory store (accepted, refused, created)', async () => {
    const events = [
      registration('batch-k', ['essay-1']),
      envelope('huleedu.batch.prompt.attached.v1', { batch_id: 'batch-k', user_id: 'teacher-1', student_prompt_ref: 'p' }),
      envelope('huleedu.batch.close.requested.v1', { batch_id: 'batch-k', user_id: 'teacher-1' }),
    ];
    const answers = async (engine: LifecycleEngine) => {
      for (const event of events) await engine.dispatch(event);
      return [await engine.dispatchMany(events), await Promise.all(events.map((event) => engine.dispatch(event)))];
    };
    const sqlite = openSqliteStore({ path: ':memory:' });
    const onSqlite = await answers(new LifecycleEngine({ store: sqlite }));
    const onMemory = await answers(new LifecycleEngine({ store: createMemoryStore() }));
    expect(onSqlite).toEqual(onMemory);
    expect(onSqlite.flat().map((answer) => answer.outcome)).toEqual(events.flatMap(() => ['duplicate']).concat(events.map(() => 'duplicate')));
    const derived = sqlite.db.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM audit WHERE result LIKE '=%'").get();
    expect(derived?.n).toBe(1);
    await sqlite.close();
  });
});
