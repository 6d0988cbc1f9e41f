/**
 * Which batch a request is about and who owns it. A batch's owner is the user_id/org_id of
 * its registration (the batch context); essays belong to their parent batch; the tracker and
 * association entities share their batch's id. Owners never change, so they are cached.
 */
import { LifecycleEvents, type LifecycleEnvelope } from '../../machines/contracts/events.js';
import { route } from '../../machines/routing.js';
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

/** What a raw envelope is about, for authorization. */
export type EnvelopeTarget =
  /** It addresses an existing batch (or one it registers): authorize against that batch. */
  | { readonly kind: 'batch'; readonly resource: Extract<Resource, { kind: 'batch' }>; readonly exists: boolean }
  /** It addresses an entity we cannot place (an unknown essay, a batch not registered yet). */
  | { readonly kind: 'unknown'; readonly machine: string; readonly entity_id: string; readonly batch_id: string | null }
  /** It addresses no entity of the engine (a message for outside services only). */
  | { readonly kind: 'none' };

/**
 * The batch an envelope acts on: the first delivery's entity (for essays, the essay's parent
 * batch). A registration of a batch that does not exist yet is owned by its payload's
 * user_id/org_id; `pending` holds owners registered earlier in the same request.
 */
export async function targetOf(envelope: LifecycleEnvelope, owners: OwnerCache, pending: ReadonlyMap<string, Owner> = new Map()): Promise<EnvelopeTarget> {
  const [first] = route(envelope);
  if (first === undefined) return { kind: 'none' };
  const batchId = first.machine === 'essay' ? await batchIdOfEntity(owners.queries, 'essay', first.entity_id) : first.entity_id;
  if (batchId === undefined) return { kind: 'unknown', machine: first.machine, entity_id: first.entity_id, batch_id: null };
  const owner = owners.known(batchId) ?? (await owners.ownerOf(batchId)) ?? pending.get(batchId);
  if (owner !== undefined) return { kind: 'batch', resource: { kind: 'batch', batch_id: batchId, owner }, exists: true };
  if (envelope.event_type === LifecycleEvents.BatchEssaysRegistered.topic) {
    const data = envelope.data;
    return { kind: 'batch', resource: { kind: 'batch', batch_id: batchId, owner: { user_id: data.user_id, org_id: data.org_id ?? null } }, exists: false };
  }
  return { kind: 'unknown', machine: first.machine, entity_id: first.entity_id, batch_id: batchId };
}
