/**
 * The plan of one commit, computed before touching the database: entity writes folded per entity
 * (one compare-and-set row each, in a stable lock order), chain breaks inside the batch, the
 * de-duplicated outbox and timer rows, and every JSON value as text.
 */
import type { CommitBatch, EntityWrite } from '../store.js';
import { keyOf, stringify } from './rows.js';
import { compareText } from '../store-support.js';


/**
 * The writes to one entity in one batch, folded into one row write: `expected` of the first write,
 * the values of the last, version `expected + count`. `index` = batch position of the first write.
 */
export interface FoldedEntity {
  index: number;
  machine: string;
  entity_id: string;
  expected: number;
  next: number;
  parent_id: string | null;
  machine_version: number;
  status: string;
  snapshot: string;
}

/** A write whose expected_version cannot hold even if the earlier writes of its entity in the batch succeed. */
export interface ChainBreak {
  index: number;
  write: EntityWrite;
  actual: number;
}

/** Everything `commit` sends, computed before touching the database. */
export interface CommitPlan {
  inbox: CommitBatch['inbox'];
  inboxResults: string[];
  inserts: FoldedEntity[];
  updates: FoldedEntity[];
  chainBreak: ChainBreak | undefined;
  auditEnvelopes: string[];
  outbox: CommitBatch['outbox'];
  outboxEnvelopes: string[];
  timersSet: CommitBatch['timersSet'];
  timerEvents: string[];
}

/** Folds the entity writes per entity (see `FoldedEntity`), sorted by key so concurrent commits lock rows in one order. */
function foldEntities(writes: readonly EntityWrite[]): { folded: FoldedEntity[]; chainBreak: ChainBreak | undefined } {
  const byKey = new Map<string, FoldedEntity>();
  const broken = new Set<string>();
  let chainBreak: ChainBreak | undefined;
  writes.forEach((w, index) => {
    const key = keyOf(w.machine, w.entity_id);
    if (broken.has(key)) return;
    const snapshot = stringify(w.snapshot, `snapshot of ${w.machine} '${w.entity_id}'`);
    const current = byKey.get(key);
    if (current === undefined) {
      byKey.set(key, {
        index, machine: w.machine, entity_id: w.entity_id, expected: w.expected_version, next: w.expected_version + 1,
        parent_id: w.parent_id, machine_version: w.machine_version, status: w.status, snapshot,
      });
    } else if (w.expected_version === current.next) {
      Object.assign(current, { next: current.next + 1, parent_id: w.parent_id, machine_version: w.machine_version, status: w.status, snapshot });
    } else {
      broken.add(key);
      if (chainBreak === undefined) chainBreak = { index, write: w, actual: current.next };
    }
  });
  const folded = [...byKey.values()].sort((a, b) => compareText(a.machine, b.machine) || compareText(a.entity_id, b.entity_id));
  return { folded, chainBreak };
}

export function planCommit(batch: CommitBatch): CommitPlan {
  const { folded, chainBreak } = foldEntities(batch.entities);
  const seenOutbox = new Set<string>();
  const outbox = batch.outbox.filter((o) => (seenOutbox.has(o.event_id) ? false : (seenOutbox.add(o.event_id), true)));
  const timers = new Map<string, CommitBatch['timersSet'][number]>();
  for (const t of batch.timersSet) timers.set(t.timer_id, t);
  const timersSet = [...timers.values()].sort((a, b) => compareText(a.timer_id, b.timer_id));
  return {
    inbox: batch.inbox,
    inboxResults: batch.inbox.map((i) => stringify(i.result, `inbox result of ${i.event_id}`)),
    inserts: folded.filter((f) => f.expected === 0),
    updates: folded.filter((f) => f.expected !== 0),
    chainBreak,
    auditEnvelopes: batch.audit.map((a) => stringify(a.envelope, `audit envelope of ${a.event_id}`)),
    outbox,
    outboxEnvelopes: outbox.map((o) => stringify(o.envelope, `outbox envelope of ${o.event_id}`)),
    timersSet,
    timerEvents: timersSet.map((t) => stringify(t.event, `event of timer ${t.timer_id}`)),
  };
}
