/**
 * The plan of one commit, computed before touching the database: entity writes folded per entity
 * (one compare-and-set row each, in a stable lock order), chain breaks inside the batch, the
 * de-duplicated outbox and timer rows, and every JSON value as text.
 */
import type { CommitBatch, EntityWrite, Json } from '../store.js';
import { keyOf, stringify } from './rows.js';
import { compareText } from '../store-support.js';
import { splitParts, type SnapshotPart } from '../store-parts.js';
import { encodeEnvelope, envelopeHolders } from '../audit-envelopes.js';


/**
 * The writes to one entity in one batch, folded into one row write: `expected` of the first write,
 * the values of the last, version `expected + count`. `index` = batch position of the first write.
 * `snapshot` is the main JSON of the last write (context parts replaced by stubs, see
 * adapters/store-parts.ts) and `parts` its number of part rows.
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
  parts: number;
}

/** A write whose expected_version cannot hold even if the earlier writes of its entity in the batch succeed. */
export interface ChainBreak {
  index: number;
  write: EntityWrite;
  actual: number;
}

/** The part rows a commit writes: upserts, deletes by id, and entities whose other part rows all go. */
export interface PartsPlan {
  upserts: { machine: string; entity_id: string; part_id: string; items: string }[];
  deletes: { machine: string; entity_id: string; part_id: string }[];
  /** Entities written without a parts hint: every part row not in `keep` (JSON array of ids) is deleted. */
  rewrites: { machine: string; entity_id: string; keep: string }[];
}

/** Everything `commit` sends, computed before touching the database. */
export interface CommitPlan {
  inbox: CommitBatch['inbox'];
  inboxResults: string[];
  inserts: FoldedEntity[];
  updates: FoldedEntity[];
  parts: PartsPlan;
  chainBreak: ChainBreak | undefined;
  auditEnvelopes: string[];
  outbox: CommitBatch['outbox'];
  outboxEnvelopes: string[];
  timersSet: CommitBatch['timersSet'];
  timerEvents: string[];
}

/** The writes of one entity in a batch, in order (until a chain break). */
interface EntityChain {
  index: number;
  expected: number;
  writes: EntityWrite[];
}

/** Groups the entity writes per entity; a write that breaks its entity's version chain ends that entity's group. */
function chainsOf(writes: readonly EntityWrite[]): { chains: Map<string, EntityChain>; chainBreak: ChainBreak | undefined } {
  const chains = new Map<string, EntityChain>();
  const broken = new Set<string>();
  let chainBreak: ChainBreak | undefined;
  writes.forEach((w, index) => {
    const key = keyOf(w.machine, w.entity_id);
    if (broken.has(key)) return;
    const chain = chains.get(key);
    if (chain === undefined) chains.set(key, { index, expected: w.expected_version, writes: [w] });
    else if (w.expected_version === chain.expected + chain.writes.length) chain.writes.push(w);
    else {
      broken.add(key);
      if (chainBreak === undefined) chainBreak = { index, write: w, actual: chain.expected + chain.writes.length };
    }
  });
  return { chains, chainBreak };
}

/**
 * The part rows of one entity's chain: the parts of its last snapshot that some write of the chain
 * changed (every part when a write had no hint, or on insert), and the parts dropped on the way.
 */
function planParts(chain: EntityChain, last: EntityWrite, parts: readonly SnapshotPart[], into: PartsPlan): void {
  const { machine, entity_id } = last;
  const whole = chain.expected === 0 || chain.writes.some((w) => w.parts === undefined);
  const changed = new Set<string>();
  const removed = new Set<string>();
  if (!whole) {
    for (const w of chain.writes) {
      for (const part of w.parts?.changed ?? []) changed.add(part.part_id);
      for (const id of w.parts?.removed ?? []) removed.add(id);
    }
  }
  for (const part of parts) {
    removed.delete(part.part_id);
    if (whole || changed.has(part.part_id)) into.upserts.push({ machine, entity_id, part_id: part.part_id, items: stringify(part.items as Json, `part ${part.part_id} of ${machine} '${entity_id}'`) });
  }
  for (const part_id of removed) into.deletes.push({ machine, entity_id, part_id });
  if (whole && chain.expected > 0) into.rewrites.push({ machine, entity_id, keep: JSON.stringify(parts.map((part) => part.part_id)) });
}

/** Folds the entity writes per entity (see `FoldedEntity`), sorted by key so concurrent commits lock rows in one order. */
function foldEntities(writes: readonly EntityWrite[]): { folded: FoldedEntity[]; parts: PartsPlan; chainBreak: ChainBreak | undefined } {
  const { chains, chainBreak } = chainsOf(writes);
  const parts: PartsPlan = { upserts: [], deletes: [], rewrites: [] };
  const folded: FoldedEntity[] = [];
  for (const chain of chains.values()) {
    const last = chain.writes[chain.writes.length - 1] as EntityWrite;
    const split = splitParts(last.snapshot);
    planParts(chain, last, split.parts, parts);
    folded.push({
      index: chain.index, machine: last.machine, entity_id: last.entity_id, expected: chain.expected, next: chain.expected + chain.writes.length,
      parent_id: last.parent_id, machine_version: last.machine_version, status: last.status,
      snapshot: stringify(split.main, `snapshot of ${last.machine} '${last.entity_id}'`), parts: split.parts.length,
    });
  }
  const byKey = (a: { machine: string; entity_id: string }, b: { machine: string; entity_id: string }): number =>
    compareText(a.machine, b.machine) || compareText(a.entity_id, b.entity_id);
  folded.sort(byKey);
  parts.upserts.sort((a, b) => byKey(a, b) || compareText(a.part_id, b.part_id));
  return { folded, parts, chainBreak };
}

/** Each audit row's envelope text: compact, or '' when an earlier row of the event in the commit holds it (adapters/audit-envelopes.ts). */
function auditEnvelopes(rows: CommitBatch['audit']): string[] {
  const holders = envelopeHolders(rows);
  return rows.map((a, index) => {
    if ((holders[index] ?? -1) >= 0) return '';
    const text = encodeEnvelope(a.envelope, a) as string | undefined;
    return text ?? stringify(a.envelope, `audit envelope of ${a.event_id}`);
  });
}

export function planCommit(batch: CommitBatch): CommitPlan {
  const { folded, parts, chainBreak } = foldEntities(batch.entities);
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
    parts,
    chainBreak,
    auditEnvelopes: auditEnvelopes(batch.audit),
    outbox,
    outboxEnvelopes: outbox.map((o) => stringify(o.envelope, `outbox envelope of ${o.event_id}`)),
    timersSet,
    timerEvents: timersSet.map((t) => stringify(t.event, `event of timer ${t.timer_id}`)),
  };
}
