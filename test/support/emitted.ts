/**
 * Every message the engine emitted, for tests that look at what went out: those for outside services
 * from the outbox, those the engine applied to its own machines from the audit log (their first
 * row), where they are stored once since issue #20 (`EngineOptions.outboxInternal` defaults to false).
 */
import { parseEnvelope } from '../../machines/contracts/events.js';
import { batchIdOf } from '../../machines/routing.js';
import type { Json, SnapshotStore } from '../../adapters/store.js';

/** An emitted message; `internal` = the engine applied it to one of its machines. */
export interface EmittedRow {
  readonly event_id: string;
  readonly event_type: string;
  readonly aggregate_id: string;
  readonly envelope: Json;
  readonly internal: boolean;
}

const PAGE = 1000;

/** The messages applied inside (audit rows caused by another event), first row of each, in position order. */
async function appliedMessages(store: SnapshotStore): Promise<EmittedRow[]> {
  const seen = new Set<string>();
  const rows: EmittedRow[] = [];
  for (let after = 0, page = await store.auditSince(0, PAGE); page.length > 0; page = await store.auditSince(after, PAGE)) {
    for (const row of page) {
      after = row.position;
      if (row.causation_id === null || seen.has(row.event_id)) continue;
      seen.add(row.event_id);
      const parsed = parseEnvelope(row.envelope);
      rows.push({ event_id: row.event_id, event_type: row.event_type, aggregate_id: parsed.ok ? batchIdOf(parsed.envelope) : '', envelope: row.envelope, internal: true });
    }
  }
  return rows;
}

/**
 * Every emitted message: the unpublished outbox rows (tests never publish) and the messages the
 * engine applied itself, each once (an outbox copy of an applied message is not repeated). Per
 * event type in emission order.
 */
export async function emittedMessages(store: SnapshotStore): Promise<EmittedRow[]> {
  const applied = await appliedMessages(store);
  const ids = new Set(applied.map((row) => row.event_id));
  const outbox = (await store.pendingOutbox(PAGE)).filter((row) => !ids.has(row.event_id));
  if (outbox.length >= PAGE) throw new Error(`more than ${PAGE - 1} outbox rows: keep the workload smaller`);
  return [...applied, ...outbox.map(({ event_id, event_type, aggregate_id, envelope, internal }) => ({ event_id, event_type, aggregate_id, envelope, internal }))];
}

/** The data of every emitted message of `type`, in emission order. */
export async function emittedData(store: SnapshotStore, type: string): Promise<unknown[]> {
  return (await emittedMessages(store)).filter((row) => row.event_type === type).map((row) => (row.envelope as { data?: unknown }).data);
}
