/** Closed and open batches on a SQLite store, and dumps of everything a batch has, for the archive tests. */
import { expect } from 'vitest';
import { LifecycleEngine } from '../../adapters/engine/engine.js';
import { openSqliteStore, type SqliteStore } from '../../adapters/sqlite/store.js';
import type { Json } from '../../adapters/store.js';
import { envelope } from './envelopes.js';
import { essayIdsOf, guestBatch, regularBatch, type Raw } from './reliability-kit.js';

/** A store whose clock the test moves (`clock.now`), and an engine on the same clock. */
export function clockedStore(path: string, start: string) {
  const clock = { now: new Date(start) };
  const store = openSqliteStore({ path, now: () => clock.now });
  const engine = new LifecycleEngine({ store, clock: () => clock.now, invariants: 'refuse' });
  return { clock, store, engine };
}

/** The close request of a batch (it ends `completed_successfully` or `completed_with_failures`). */
export function closeRequest(batchId: string, eventId?: string): Raw {
  return envelope('huleedu.batch.close.requested.v1', { batch_id: batchId, user_id: 'teacher-1' }, eventId === undefined ? {} : { event_id: eventId });
}

/** The events of a batch taken to its end: a GUEST or a REGULAR batch through nlp, closed unless `open`. */
export function batchEvents(kind: 'guest' | 'regular', batchId: string, essays: number, options: { open?: boolean } = {}): Raw[] {
  const events = kind === 'guest' ? guestBatch('archive', batchId, essays, essayIdsOf(batchId, essays).slice(0, 1)) : regularBatch('archive', batchId, essays);
  return options.open === true ? events : [...events, closeRequest(batchId)];
}

/** Dispatches every event; each must be accepted. */
export async function dispatchAll(engine: LifecycleEngine, events: readonly Raw[]): Promise<void> {
  for (const raw of events) expect((await engine.dispatch(raw)).outcome, JSON.stringify(raw).slice(0, 200)).toBe('accepted');
}

/** The (machine, entity_id) of every live entity of a batch. */
export function membersOf(store: SqliteStore, batchId: string): Array<{ machine: string; entity_id: string }> {
  return store.db
    .prepare<[string, string], { machine: string; entity_id: string }>(
      'SELECT machine, entity_id FROM entities WHERE (entity_id = ? AND parent_id IS NULL) OR parent_id = ? ORDER BY machine, entity_id',
    )
    .all(batchId, batchId);
}

/** Everything the store's readers say about some entities (records, whole and paged histories, their batches' essay listings) and event ids (kept answers), as JSON text. */
export async function readsOf(store: SqliteStore, members: ReadonlyArray<{ machine: string; entity_id: string }>, eventIds: readonly string[]): Promise<string> {
  const records = await Promise.all(members.map((m) => store.load(m.machine, m.entity_id)));
  const many = await store.loadMany(members);
  const histories = await Promise.all(members.map((m) => store.history(m.machine, m.entity_id, { limit: 1000 })));
  const pagedHistories = await Promise.all(members.map((m) => store.history(m.machine, m.entity_id, { limit: 2, afterPosition: 3 })));
  const answers = await store.findInbox(eventIds);
  const batchIds = members.filter((m) => m.machine === 'batch').map((m) => m.entity_id);
  const lists = await Promise.all(
    batchIds.flatMap((parent_id) => [store.list({ machine: 'essay', parent_id }), store.list({ machine: 'essay', parent_id, limit: 1, offset: 1 })]),
  );
  return JSON.stringify({ records, many: [...many], histories, pagedHistories, lists, answers: [...answers].sort(([a], [b]) => a.localeCompare(b)) });
}

/** The stored rows of some entities (entities, entity_parts, audit), exactly as stored. */
export function rowsOf(store: SqliteStore, members: ReadonlyArray<{ machine: string; entity_id: string }>): Record<string, Json[]> {
  const all = (sql: string) => members.flatMap((m) => store.db.prepare<[string, string], Json>(sql).all(m.machine, m.entity_id));
  return {
    entities: all('SELECT * FROM entities WHERE machine = ? AND entity_id = ?'),
    entity_parts: all('SELECT * FROM entity_parts WHERE machine = ? AND entity_id = ? ORDER BY part_id'),
    audit: all('SELECT * FROM audit WHERE machine = ? AND entity_id = ? ORDER BY position'),
  };
}

/** Row counts of every table the archive touches. */
export function tableCounts(store: SqliteStore): Record<string, number> {
  const count = (table: string) => store.db.prepare<[], { n: number }>(`SELECT COUNT(*) AS n FROM ${table}`).get()?.n ?? 0;
  return Object.fromEntries(['entities', 'entity_parts', 'audit', 'inbox', 'batch_archives', 'archived_entities'].map((t) => [t, count(t)]));
}

/** The event ids of some envelopes. */
export const eventIdsOf = (events: readonly Raw[]): string[] => events.map((raw) => String(raw.event_id));
