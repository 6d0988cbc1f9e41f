/**
 * Earns disk, not speed: about 150 bytes per answered event's audit row and 55 per message it
 * emitted (below). Its speed is within noise (`BENCH_ONLY=ablation`, quiet 2-core machine,
 * 2026-12-08: 1.02x on `dispatch`, 0.96x on `dispatchMany` x200; earlier runs 0.99-1.14x).
 *
 * How the SQLite store keeps an event's first answer on the event's first audit row.
 *
 * Most answers are a single accepted delivery, and that audit row already records it (machine,
 * entity, from, to, outcome). Such an answer is kept as `=` followed by the JSON of the rest of
 * it (`={"emitted":[],"steps":1}`), and its delivery is read back from the row: about 150 bytes
 * less per audit row, and one JSON encoding of the delivery less per event. Any other answer is
 * kept as its JSON, as are answers written before this encoding (schema version 4 marks files that
 * may hold it, so older code refuses them instead of misreading them).
 *
 * In such a derived answer, the list of emitted messages (`{ event_id, event_type, internal }`,
 * one per message the event caused: N for a batch-level event) is kept as its types once and one
 * `[event_id, type index * 2 + internal]` pair per message (schema version 7): about 55 bytes less
 * per message. Read back as the same objects, keys in the same order.
 */
import { LifecycleError } from '../errors.js';
import { isRecord, parseColumn } from '../store-support.js';
import type { Json } from '../store.js';

/** The columns of an audit row an answer can be derived from. */
export interface AuditFacts {
  readonly machine: string;
  readonly entity_id: string;
  readonly from_status: string | null;
  readonly to_status: string | null;
  readonly outcome: string;
}

const DERIVED = '=';

function keyCount(value: object): number {
  let count = 0;
  for (const _key in value) count += 1;
  return count;
}

/** True when `answer` is a single accepted delivery saying exactly what `row` records. */
function derivable(answer: Record<string, unknown>, row: AuditFacts): boolean {
  const deliveries = answer.deliveries;
  if (!Array.isArray(deliveries) || deliveries.length !== 1 || row.outcome !== 'accepted') return false;
  const delivery: unknown = deliveries[0];
  return (
    isRecord(delivery) &&
    keyCount(delivery) === 5 &&
    delivery.outcome === 'accepted' &&
    delivery.machine === row.machine &&
    delivery.entity_id === row.entity_id &&
    delivery.from === row.from_status &&
    delivery.to === row.to_status
  );
}

/** A list of emitted messages kept as its types and one [event_id, type index * 2 + internal] pair each. */
interface PackedEmitted {
  readonly t: string[];
  readonly e: Array<[string, number]>;
}

/** True when `item` is exactly `{ event_id, event_type, internal }`, in that order. */
function isSummary(item: unknown): item is { event_id: string; event_type: string; internal: boolean } {
  if (!isRecord(item)) return false;
  const keys = Object.keys(item);
  return (
    keys.length === 3 && keys[0] === 'event_id' && keys[1] === 'event_type' && keys[2] === 'internal' &&
    typeof item.event_id === 'string' && typeof item.event_type === 'string' && typeof item.internal === 'boolean'
  );
}

/** The packed form of an emitted list, or the list itself when it is empty or not made of plain summaries. */
function packEmitted(emitted: unknown): unknown {
  if (!Array.isArray(emitted) || emitted.length === 0 || !emitted.every(isSummary)) return emitted;
  const types = new Map<string, number>();
  const packed: PackedEmitted = { t: [], e: [] };
  for (const item of emitted) {
    let index = types.get(item.event_type);
    if (index === undefined) {
      index = packed.t.length;
      types.set(item.event_type, index);
      packed.t.push(item.event_type);
    }
    packed.e.push([item.event_id, index * 2 + (item.internal ? 1 : 0)]);
  }
  return packed;
}

/** The emitted list `packEmitted` packed (a list is returned as it is). */
function unpackEmitted(value: unknown): unknown {
  if (!isRecord(value) || !Array.isArray(value.t) || !Array.isArray(value.e)) return value;
  const types = value.t as string[];
  return (value.e as Array<[string, number]>).map(([event_id, code]) => ({ event_id, event_type: types[code >> 1], internal: (code & 1) === 1 }));
}

/** The text kept in `audit.result` for `answer`, the first answer of the event `row` records. */
export function encodeOutcome(answer: Json, row: AuditFacts): string {
  if (isRecord(answer) && derivable(answer, row)) {
    const { deliveries: _derived, ...rest } = answer;
    // An emitted value that is an object could be mistaken for a packed list: such an answer stays plain.
    if (isRecord(rest.emitted)) return JSON.stringify(answer);
    if ('emitted' in rest) rest.emitted = packEmitted(rest.emitted) as Json;
    return DERIVED + JSON.stringify(rest);
  }
  return JSON.stringify(answer);
}

/** The audit columns `findInbox` reads beside the kept text (all null when there is no audit row). */
export interface KeptOutcome {
  readonly event_id: string;
  readonly result: string | null;
  readonly machine: string | null;
  readonly entity_id: string | null;
  readonly from_status: string | null;
  readonly to_status: string | null;
  readonly outcome: string | null;
}

function unreadable(eventId: string, why: string): LifecycleError {
  return new LifecycleError('STORE_FAILURE', `inbox row ${eventId} ${why}`, { details: { table: 'inbox', key: eventId } });
}

/** The answer `encodeOutcome` kept (or a plain JSON answer), read back with its audit row. */
export function decodeOutcome(kept: KeptOutcome): Json {
  const { event_id, result } = kept;
  if (result === null) throw unreadable(event_id, 'has no recorded outcome');
  if (!result.startsWith(DERIVED)) return parseColumn(result, 'inbox', event_id);
  const rest = parseColumn(result.slice(DERIVED.length), 'inbox', event_id);
  if (!isRecord(rest) || kept.machine === null || kept.entity_id === null || kept.outcome === null) {
    throw unreadable(event_id, 'keeps a derived outcome without the audit row it derives from');
  }
  const delivery = { machine: kept.machine, entity_id: kept.entity_id, from: kept.from_status, to: kept.to_status, outcome: kept.outcome };
  if ('emitted' in rest) rest.emitted = unpackEmitted(rest.emitted) as Json;
  return { deliveries: [delivery], ...rest };
}
