/**
 * Typed views of a world's entities for the library's invariants. A context that does not have
 * the library machine's shape (another machine registered under the same id) gives no view, so
 * the invariants that need it hold vacuously instead of reading foreign data.
 */
import type { AssociationsContext } from '../associations.js';
import type { BatchContext } from '../batch/context.js';
import type { EssayContext } from '../essay.js';
import { batchKeyed, entitiesOf, type EntityState, type InvariantWorld } from './world.js';

/** An entity with its context typed. */
export type Viewed<C> = EntityState & { readonly context: C };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function looksLikeBatch(context: unknown): context is BatchContext {
  return isObject(context) && Array.isArray(context.essays) && typeof context.class_type === 'string' && typeof context.run_count === 'number';
}

function looksLikeEssay(context: unknown): context is EssayContext {
  return isObject(context) && typeof context.essay_id === 'string' && typeof context.batch_id === 'string' && Array.isArray(context.commanded_phases);
}

function looksLikeAssociations(context: unknown): context is AssociationsContext {
  return isObject(context) && typeof context.batch_id === 'string' && Array.isArray(context.associations);
}

/** The batch entity of the world. */
export function batchOf(world: InvariantWorld): Viewed<BatchContext> | undefined {
  const entity = batchKeyed(world, 'batch');
  return entity !== undefined && looksLikeBatch(entity.context) ? (entity as Viewed<BatchContext>) : undefined;
}

/** The essays of the world (those the checker holds; every one when `world.allEssays`). */
export function essaysOf(world: InvariantWorld): Viewed<EssayContext>[] {
  return entitiesOf(world, 'essay').filter((entity): entity is Viewed<EssayContext> => looksLikeEssay(entity.context));
}

/** The batch's associations entity. */
export function associationsOf(world: InvariantWorld): Viewed<AssociationsContext> | undefined {
  const entity = batchKeyed(world, 'associations');
  return entity !== undefined && looksLikeAssociations(entity.context) ? (entity as Viewed<AssociationsContext>) : undefined;
}

/** Statuses the batch reaches only once its content is provisioned and, for REGULAR, its associations settled. */
export const BATCH_READY_STATUSES: ReadonlySet<string> = new Set(['ready_for_pipeline_execution', 'awaiting_pipeline_configuration', 'processing_pipelines']);
