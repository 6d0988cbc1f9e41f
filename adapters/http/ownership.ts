/**
 * Which batch a request is about and who owns it. A batch's owner is the user_id/org_id of
 * its registration (the batch context); essays belong to their parent batch; the tracker and
 * association entities share their batch's id. Owners never change, so they are cached.
 */
import { LifecycleEvents } from '../../machines/contracts/events.js';
import type { PreparedEvent } from '../engine/prepared.js';
import type { EntityView, LifecycleQueries } from '../engine/queries.js';
import type { Owner, Resource } from './auth.js';

type Queries = Pick<LifecycleQueries, 'entity'>;

/** The owner recorded in a batch's context, or null when the context lacks one. */
export function ownerOfView(view: EntityView): Owner | null {
  const context = view.context;
  if (typeof context !== 'object' || context === null || Array.isArray(context)) return null;
  const { user_id, org_id } = context;
  if (typeof user_id !== 'string') return null;
  return { user_id, org_id: typeof org_id === 'string' ? org_id : null };
}

/** The batch id an entity belongs to (essays: their parent), or undefined when the essay is unknown. */
export async function batchIdOfEntity(queries: Queries, machine: string, entityId: string): Promise<string | undefined> {
  if (machine !== 'essay') return entityId;
  const essay = await queries.entity('essay', entityId);
  return essay?.parent_id ?? undefined;
}

/** A cache of batch owners (bounded; a missing batch is never cached, it may appear later). */
export class OwnerCache {
  private readonly owners = new Map<string, Owner | null>();

  constructor(
    readonly queries: Queries,
    private readonly capacity = 10_000,
  ) {}

  /** The cached owner of a batch, without a lookup (undefined when not cached or ownerless). */
  known(batchId: string): Owner | undefined {
    return this.owners.get(batchId) ?? undefined;
  }

  /** The batch's owner; undefined when the batch does not exist (yet). */
  async ownerOf(batchId: string): Promise<Owner | null | undefined> {
    const cached = this.owners.get(batchId);
    if (cached !== undefined || this.owners.has(batchId)) return cached;
    const view = await this.queries.entity('batch', batchId);
    if (view === undefined) return undefined;
    const owner = ownerOfView(view);
    if (this.owners.size >= this.capacity) this.owners.clear();
    this.owners.set(batchId, owner);
    return owner;
  }
}

/** The batch a prepared event is for, with its owner, for authorization. */
export interface EventBatch {
  readonly resource: Extract<Resource, { kind: 'batch' }>;
  /** False when the batch does not exist yet (a registration, or content that arrives first). */
  readonly exists: boolean;
}

/**
 * The batch an event is for (its declared batch: the same one the engine confines every delivery
 * to) and its owner. A registration of a batch that does not exist yet is owned by its payload's
 * user_id/org_id; `pending` holds owners registered earlier in the same request.
 */
export async function batchOfEvent(event: PreparedEvent, owners: OwnerCache, pending: ReadonlyMap<string, Owner> = new Map()): Promise<EventBatch> {
  const batchId = event.batch_id;
  const owner = owners.known(batchId) ?? (await owners.ownerOf(batchId)) ?? pending.get(batchId);
  if (owner !== undefined) return { resource: { kind: 'batch', batch_id: batchId, owner }, exists: true };
  const { envelope } = event;
  if (envelope.event_type === LifecycleEvents.BatchEssaysRegistered.topic) {
    const data = envelope.data;
    return { resource: { kind: 'batch', batch_id: batchId, owner: { user_id: data.user_id, org_id: data.org_id ?? null } }, exists: false };
  }
  return { resource: { kind: 'batch', batch_id: batchId, owner: null }, exists: false };
}
