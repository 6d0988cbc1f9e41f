/**
 * What two stores that took the same commands must agree on, read through the store port so a
 * SQLite file can be compared with a memory store: entities (status, version, snapshot), the
 * outbox (every message, internal or for an outside service), the audit of each entity in its
 * order, and the inbox answer of every event id they know. Timestamps that come from the injected
 * clock are compared too (the clock is positional, steps.ts); commit positions are not.
 */
import { defaultMachines } from '../../adapters/engine/index.js';
import type { AuditRecord, OutboxRecord, SnapshotStore } from '../../adapters/store.js';

/** The stores' page size. */
const PAGE = 1000;

/** Comparable lines of a store, each list sorted. */
export interface StoreDump {
  readonly entities: readonly string[];
  readonly outbox: readonly string[];
  readonly audit: readonly string[];
  readonly inbox: readonly string[];
}

/** Entities as comparable rows (status, version and snapshot of each). */
export async function entityRows(store: SnapshotStore): Promise<string[]> {
  const rows: string[] = [];
  for (const machine of Object.keys(defaultMachines())) {
    for (let offset = 0, page = PAGE; page === PAGE; offset += PAGE) {
      const records = await store.list({ machine, limit: PAGE, offset });
      page = records.length;
      for (const record of records) rows.push(`${machine}/${record.entity_id} v${record.version} ${record.status} ${JSON.stringify(record.snapshot)}`);
    }
  }
  return rows.sort();
}

async function wholeAudit(store: SnapshotStore): Promise<AuditRecord[]> {
  const rows: AuditRecord[] = [];
  for (let page = await store.auditSince(0, PAGE); page.length > 0; page = await store.auditSince(page.at(-1)!.position, PAGE)) rows.push(...page);
  return rows;
}

async function wholeOutbox(store: SnapshotStore): Promise<OutboxRecord[]> {
  const rows = await store.pendingOutbox(PAGE);
  if (rows.length >= PAGE) throw new Error(`more than ${PAGE - 1} outbox rows: keep the property workloads smaller`);
  return rows;
}

/** The dump of `store`; `eventIds`: ids whose inbox answers are compared besides those of the audit. */
export async function dumpStore(store: SnapshotStore, eventIds: readonly string[]): Promise<StoreDump> {
  const audit = await wholeAudit(store);
  const perEntity = new Map<string, number>();
  const auditLines = audit.map((row) => {
    const key = `${row.machine}/${row.entity_id}`;
    const n = (perEntity.get(key) ?? 0) + 1;
    perEntity.set(key, n);
    return `${key} #${n} ${row.event_id} ${row.event_type} ${row.from_status}->${row.to_status} ${row.outcome} v${row.entity_version}`;
  });
  const ids = [...new Set([...eventIds, ...audit.map((row) => row.event_id)])];
  const inbox = await store.findInbox(ids);
  return {
    entities: await entityRows(store),
    outbox: (await wholeOutbox(store)).map((row) => `${row.aggregate_id} ${row.event_type} ${row.internal ? 'internal' : 'outside'} ${JSON.stringify(row.envelope)}`).sort(),
    audit: auditLines.sort(),
    inbox: [...inbox].map(([id, answer]) => `${id} ${JSON.stringify(answer)}`).sort(),
  };
}

/** The first differences between two dumps, as readable lines (empty when they agree). */
export function dumpDifferences(actual: StoreDump, expected: StoreDump, limit = 6): string[] {
  const out: string[] = [];
  for (const part of ['entities', 'outbox', 'audit', 'inbox'] as const) {
    const want = new Set(expected[part]);
    const got = new Set(actual[part]);
    for (const line of actual[part]) if (!want.has(line)) out.push(`${part}: unexpected ${line.slice(0, 400)}`);
    for (const line of expected[part]) if (!got.has(line)) out.push(`${part}: missing ${line.slice(0, 400)}`);
    if (new Set(actual[part]).size !== actual[part].length) out.push(`${part}: a line occurs twice`);
  }
  return out.slice(0, limit);
}

/**
 * Messages for outside services (outbox lines of `dumpStore`) written more than once: the same
 * type and data under two event ids, or the same id twice. A run that must equal another compares
 * its list with the other's (a workload may legitimately ask for the same effect twice).
 */
export function duplicatedEffects(outbox: readonly string[]): string[] {
  const seen = new Map<string, number>();
  for (const line of outbox) {
    if (!line.includes(' outside ')) continue;
    const envelope = JSON.parse(line.slice(line.indexOf('{'))) as { event_type?: unknown; data?: unknown };
    const key = `${String(envelope.event_type)} ${JSON.stringify(envelope.data)}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  return [...seen].filter(([, n]) => n > 1).map(([key, n]) => `${n}x ${key.slice(0, 300)}`);
}
