/**
 * Which entities a what-if replay reads: every entity of the machines, one entity and its family
 * (`batch:<id>`: the batch, the tracker and associations keyed by the same id, and the essays whose
 * parent it is), or those with audit
 * rows recorded since a time. Entities are produced page by page; only the `since` selection keeps
 * a set of keys in memory.
 */
import type { SnapshotStore } from '../../store.js';

/** One entity, by machine and id. */
export interface EntityRef {
  readonly machine: string;
  readonly entity_id: string;
}

/** What to replay. */
export interface Selection {
  /** Only these entities, each with its family: entities of other machines with the same id, and those whose parent_id is its id. */
  readonly entities?: readonly EntityRef[];
  /** Only entities with an audit row recorded at or after this ISO time. */
  readonly since?: string;
}

const PAGE = 1000;

async function* everyEntity(store: SnapshotStore, machines: readonly string[], parent?: string): AsyncGenerator<EntityRef> {
  for (const machine of machines) {
    for (let offset = 0; ; offset += PAGE) {
      const page = await store.list({ machine, limit: PAGE, offset, ...(parent === undefined ? {} : { parent_id: parent }) });
      for (const row of page) yield { machine, entity_id: row.entity_id };
      if (page.length < PAGE) break;
    }
  }
}

async function* touchedSince(store: SnapshotStore, since: string, machines: ReadonlySet<string>): AsyncGenerator<EntityRef> {
  const seen = new Set<string>();
  let after = 0;
  for (let page = await store.auditSince(0, PAGE); page.length > 0; page = await store.auditSince(after, PAGE)) {
    for (const row of page) {
      after = row.position;
      const key = `${row.machine}\u0000${row.entity_id}`;
      if (row.recorded_at < since || !machines.has(row.machine) || seen.has(key)) continue;
      seen.add(key);
      yield { machine: row.machine, entity_id: row.entity_id };
    }
  }
}

/** The entities of `selection` among `machines`, each once. */
export async function* selectEntities(store: SnapshotStore, machines: readonly string[], selection: Selection): AsyncGenerator<EntityRef> {
  if (selection.entities === undefined) {
    yield* selection.since === undefined ? everyEntity(store, machines) : touchedSince(store, selection.since, new Set(machines));
    return;
  }
  const seen = new Set<string>();
  for (const root of selection.entities) {
    const family: EntityRef[] = [root];
    // Entities of the other machines keyed by the same id (a batch's tracker and associations), then its children.
    for (const machine of machines) if (machine !== root.machine && (await store.load(machine, root.entity_id)) !== undefined) family.push({ machine, entity_id: root.entity_id });
    for await (const child of everyEntity(store, machines, root.entity_id)) family.push(child);
    for (const ref of family) {
      const key = `${ref.machine}\u0000${ref.entity_id}`;
      if (seen.has(key)) continue;
      seen.add(key);
      if (selection.since === undefined || (await touched(store, ref, selection.since))) yield ref;
    }
  }
}

async function touched(store: SnapshotStore, ref: EntityRef, since: string): Promise<boolean> {
  let after = 0;
  for (let page = await store.history(ref.machine, ref.entity_id, { limit: PAGE }); page.length > 0; page = await store.history(ref.machine, ref.entity_id, { limit: PAGE, afterPosition: after })) {
    if (page.some((row) => row.recorded_at >= since)) return true;
    after = page.at(-1)!.position;
  }
  return false;
}

/** How many entities `selection` covers at most (for a progress bar): every entity of the machines, or the selection's roots. */
export async function estimateTotal(store: SnapshotStore, machines: readonly string[], selection: Selection): Promise<number | undefined> {
  if (selection.entities !== undefined || selection.since !== undefined) return undefined;
  const wanted = new Set(machines);
  return (await store.countByStatus()).filter((row) => wanted.has(row.machine)).reduce((sum, row) => sum + row.count, 0);
}
