/**
 * Loading what a route is about and checking the caller may touch it, in the order that leaks
 * least: a malformed id is a 400, a missing entity a 404, somebody else's a 403.
 */
import type { Request } from 'express';
import type { z } from 'zod';
import type { EntityView } from '../engine/queries.js';
import { LifecycleError } from '../errors.js';
import type { Action, Principal } from './auth.js';
import type { HttpContext } from './context.js';
import { invalidRequest } from './errors.js';
import { authorizeOrThrow } from './guard.js';
import { ownerOfView } from './ownership.js';
import { PathId } from './schemas.js';

/** `schema`'s output for `value`, or a 400 naming the fields of `what`. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw invalidRequest(what, parsed.error);
  return parsed.data;
}

/** A path parameter checked as an id. */
export function pathId(req: Request, name: string): string {
  return parseWith(PathId, req.params[name], `path parameter ${name}`);
}

/** The batch, after checking that `principal` may do `action` on it (404 / 403 otherwise). */
export async function authorizedBatch(ctx: HttpContext, principal: Principal, batchId: string, action: Action): Promise<EntityView> {
  const view = await ctx.queries.entity('batch', batchId);
  if (view === undefined) {
    throw new LifecycleError('ENTITY_NOT_FOUND', `batch "${batchId}" does not exist`, { details: { machine: 'batch', entity_id: batchId } });
  }
  await authorizeOrThrow(ctx.authorize, principal, action, { kind: 'batch', batch_id: batchId, owner: ownerOfView(view) });
  return view;
}
