/**
 * The read routes: a batch, its essays, an essay, an entity's audit history, the batch list
 * and the counts. Every one needs a principal; batch data is shown only to those the policy
 * allows to read that batch (lists are filtered, single entities answer 403).
 */
import type { Request, Response, Router } from 'express';
import type { EntityView } from '../engine/queries.js';
import { LifecycleError } from '../errors.js';
import { authorizedBatch, parseWith, pathId } from './access.js';
import type { Principal } from './auth.js';
import type { HttpContext } from './context.js';
import { authorizeOrThrow, requirePrincipal, requirePrincipalOf } from './guard.js';
import { writable } from './limits.js';
import { batchIdOfEntity, ownerOfView } from './ownership.js';
import { HistoryQuery, ListBatchesQuery, PageQuery } from './schemas.js';
import { batchDetail, batchSummary, essayCounts, essayView } from './views.js';

/** Most batches `GET /batches` looks at to fill one page of visible ones. */
const MAX_LIST_SCAN = 10_000;
const SCAN_PAGE = 1000;

function send(res: Response, body: unknown): void {
  if (writable(res)) res.status(200).json(body);
}

function notFound(machine: string, id: string): LifecycleError {
  return new LifecycleError('ENTITY_NOT_FOUND', `${machine} "${id}" does not exist`, { details: { machine, entity_id: id } });
}

async function getBatch(ctx: HttpContext, req: Request, res: Response): Promise<void> {
  const principal = requirePrincipalOf(res);
  const view = await authorizedBatch(ctx, principal, pathId(req, 'id'), 'batch.read');
  send(res, batchDetail(view, await essayCounts(ctx.queries, view.entity_id)));
}

async function getBatchEssays(ctx: HttpContext, req: Request, res: Response): Promise<void> {
  const principal = requirePrincipalOf(res);
  const batchId = pathId(req, 'id');
  const page = parseWith(PageQuery, req.query, 'query');
  await authorizedBatch(ctx, principal, batchId, 'batch.read');
  const essays = await ctx.queries.essaysOf(batchId, page);
  send(res, { batch_id: batchId, essays: essays.map(essayView), limit: page.limit, offset: page.offset });
}

async function getEssay(ctx: HttpContext, req: Request, res: Response): Promise<void> {
  const principal = requirePrincipalOf(res);
  const essayId = pathId(req, 'id');
  const essay = await ctx.queries.entity('essay', essayId);
  if (essay === undefined || essay.parent_id === null) throw notFound('essay', essayId);
  await authorizedBatch(ctx, principal, essay.parent_id, 'batch.read');
  send(res, essayView(essay));
}

/** Checks the principal may read the history of the batch `batchId` (which may not exist yet). */
async function authorizeHistory(ctx: HttpContext, principal: Principal, machine: string, entityId: string): Promise<void> {
  const batchId = await batchIdOfEntity(ctx.queries, machine, entityId);
  if (batchId === undefined) throw notFound(machine, entityId);
  const batch = await ctx.queries.entity('batch', batchId);
  if (batch !== undefined) {
    await authorizeOrThrow(ctx.authorize, principal, 'batch.read', { kind: 'batch', batch_id: batchId, owner: ownerOfView(batch) });
    return;
  }
  // An entity whose batch is not registered (content that came first): only those the policy
  // lets read ownerless batches (admins by default) see it; for others it does not exist.
  if (!(await ctx.authorize(principal, 'batch.read', { kind: 'batch', batch_id: batchId, owner: null }))) throw notFound(machine, entityId);
}

async function getHistory(ctx: HttpContext, req: Request, res: Response): Promise<void> {
  const principal = requirePrincipalOf(res);
  const machine = pathId(req, 'machine');
  const entityId = pathId(req, 'id');
  const query = parseWith(HistoryQuery, req.query, 'query');
  if (!Object.hasOwn(ctx.engine.machines, machine)) {
    throw new LifecycleError('ENTITY_NOT_FOUND', `no machine "${machine.slice(0, 100)}" (machines: ${Object.keys(ctx.engine.machines).join(', ')})`, { details: { machine: machine.slice(0, 100) } });
  }
  await authorizeHistory(ctx, principal, machine, entityId);
  const rows = await ctx.queries.history(machine, entityId, { limit: query.limit, afterPosition: query.after });
  const last = rows.at(-1);
  send(res, { machine, entity_id: entityId, rows, next_after: last === undefined ? null : last.position });
}

async function visibleBatches(ctx: HttpContext, principal: Principal, query: { status?: string | undefined; limit: number; offset: number }): Promise<{ items: EntityView[]; truncated: boolean }> {
  const wanted = query.offset + query.limit;
  const visible: EntityView[] = [];
  let scanned = 0;
  while (visible.length < wanted && scanned < MAX_LIST_SCAN) {
    const page = await ctx.queries.batches({ ...(query.status === undefined ? {} : { status: query.status }), limit: SCAN_PAGE, offset: scanned });
    for (const view of page) {
      if (await ctx.authorize(principal, 'batch.read', { kind: 'batch', batch_id: view.entity_id, owner: ownerOfView(view) })) visible.push(view);
    }
    scanned += page.length;
    if (page.length < SCAN_PAGE) return { items: visible.slice(query.offset, wanted), truncated: false };
  }
  return { items: visible.slice(query.offset, wanted), truncated: visible.length < wanted };
}

async function listBatches(ctx: HttpContext, req: Request, res: Response): Promise<void> {
  const principal = requirePrincipalOf(res);
  const query = parseWith(ListBatchesQuery, req.query, 'query');
  const { items, truncated } = await visibleBatches(ctx, principal, query);
  send(res, { batches: items.map(batchSummary), limit: query.limit, offset: query.offset, truncated });
}

async function getCounts(ctx: HttpContext, res: Response): Promise<void> {
  const principal = requirePrincipalOf(res);
  await authorizeOrThrow(ctx.authorize, principal, 'counts.read', { kind: 'system', name: 'counts' });
  const counts = await ctx.queries.counts();
  const byMachine: Record<string, Record<string, number>> = {};
  for (const { machine, status, count } of counts) (byMachine[machine] ??= {})[status] = count;
  send(res, { counts, by_machine: byMachine });
}

/** Adds the read routes to `router`. */
export function readRoutes(router: Router, ctx: HttpContext): void {
  router.get('/batches', requirePrincipal, (req, res) => listBatches(ctx, req, res));
  router.get('/batches/:id', requirePrincipal, (req, res) => getBatch(ctx, req, res));
  router.get('/batches/:id/essays', requirePrincipal, (req, res) => getBatchEssays(ctx, req, res));
  router.get('/essays/:id', requirePrincipal, (req, res) => getEssay(ctx, req, res));
  router.get('/entities/:machine/:id/history', requirePrincipal, (req, res) => getHistory(ctx, req, res));
  router.get('/counts', requirePrincipal, (_req, res) => getCounts(ctx, res));
}
