/**
 * How a store keeps an audit row's envelope without repeating what the row's columns say (issue #20).
 *
 * An envelope's `event_id`, `event_type` and `correlation_id`, and the `metadata.causation_id` of
 * a message the engine emitted, are also columns of its audit row. When each of them equals its
 * column, the envelope is kept as `=` followed by its JSON with those values replaced by `0`
 * (about 150 bytes less per row); any other envelope is kept as its JSON, as are rows written
 * before. Reading puts the column values back in place, so the envelope comes back with the same
 * keys in the same order, byte for byte the JSON that was written.
 *
 * A row of an event whose envelope an earlier row of the same commit holds (the event was
 * delivered to several entities) keeps no envelope of its own and refers to that row
 * (`envelopeHolders`); how it refers is the store's business.
 */
import { isRecord, parseColumn } from './store-support.js';
import type { AuditWrite, Json } from './store.js';

/** The columns of an audit row an envelope's repeated fields are read from. */
export interface EnvelopeColumns {
  readonly event_id: string;
  readonly event_type: string;
  readonly correlation_id: string;
  readonly causation_id: string | null;
}

const COMPACT = '=';
/** What stands for "the value of the column" inside a compact envelope. */
const SAME = 0;
const REPEATED = ['event_id', 'event_type', 'correlation_id'] as const;

/** True when each repeated field the envelope has equals its column, and no key could be misread. */
function compactable(envelope: Record<string, unknown>, row: EnvelopeColumns): boolean {
  if (Object.hasOwn(envelope, '__proto__')) return false;
  for (const key of REPEATED) if (Object.hasOwn(envelope, key) && envelope[key] !== row[key]) return false;
  const metadata = envelope.metadata;
  return !(isRecord(metadata) && metadata.causation_id === SAME);
}

function withSame(value: Record<string, unknown>, keys: ReadonlySet<string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) out[key] = keys.has(key) ? SAME : value[key];
  return out;
}

const TOP_LEVEL: ReadonlySet<string> = new Set(REPEATED);
const CAUSATION: ReadonlySet<string> = new Set(['causation_id']);

/** The text a store keeps for `envelope`, the envelope of the audit row `row`. */
export function encodeEnvelope(envelope: Json, row: EnvelopeColumns): string {
  if (!isRecord(envelope) || !compactable(envelope, row)) return JSON.stringify(envelope);
  const out = withSame(envelope, TOP_LEVEL);
  const metadata = envelope.metadata;
  if (isRecord(metadata) && row.causation_id !== null && metadata.causation_id === row.causation_id) out.metadata = withSame(metadata, CAUSATION);
  return COMPACT + JSON.stringify(out);
}

/** The envelope `encodeEnvelope` kept (or a plain JSON envelope), read back with its row's columns. */
export function decodeEnvelope(text: string, row: EnvelopeColumns & { readonly position: number }): Json {
  if (!text.startsWith(COMPACT)) return parseColumn(text, 'audit', row.position);
  const envelope = parseColumn(text.slice(COMPACT.length), 'audit', row.position) as Record<string, Json>;
  for (const key of REPEATED) if (envelope[key] === SAME) envelope[key] = row[key];
  const metadata = envelope.metadata;
  if (isRecord(metadata) && metadata.causation_id === SAME && row.causation_id !== null) metadata.causation_id = row.causation_id;
  return envelope;
}

/** True when `later` may share `first`'s envelope: the same event (the same envelope object) with the same columns. */
function sameEvent(first: AuditWrite, later: AuditWrite): boolean {
  return (
    first.event_id === later.event_id &&
    first.envelope === later.envelope &&
    first.event_type === later.event_type &&
    first.correlation_id === later.correlation_id &&
    first.causation_id === later.causation_id
  );
}

/** For each audit row of a commit, the index of the earlier row of the commit holding its envelope, or -1 (it holds its own). */
export function envelopeHolders(rows: readonly AuditWrite[]): number[] {
  const firstOf = new Map<string, number>();
  return rows.map((row, index) => {
    const first = firstOf.get(row.event_id);
    if (first !== undefined && sameEvent(rows[first] as AuditWrite, row)) return first;
    firstOf.set(row.event_id, index);
    return -1;
  });
}
