/**
 * The operator routes (admin only under the default policy): forced transitions and the dead
 * letters of the queues the host passed (`deps.deadLetters`). Each is an operator action the policy
 * decides on (`operator.*` on the system resource `operator`), not an envelope from a client; a
 * forced transition records its principal, a redrive goes through the engine like any input.
 */
import type { Request, Response, Router } from 'express';
import { LifecycleError } from '../errors.js';
import type { DeadLetterQueue } from '../queue/dead-letters.js';
import { parseWith, pathId } from './access.js';
import { sendJson } from './answers.js';
import type { OperatorAction } from './auth.js';
import type { HttpContext } from './context.js';
import { authorizeOrThrow, requirePrincipal, requirePrincipalOf } from './guard.js';
import { jsonBody } from './limits.js';
import { DeadLetterQuery, ForceBody } from './schemas.js';

const OPERATOR = { kind: 'system', name: 'operator' } as const;

async function operator(ctx: HttpContext, res: Response, action: OperatorAction): Promise<void> {
  await authorizeOrThrow(ctx.authorize, requirePrincipalOf(res), action, OPERATOR);
}

async function forceEntity(ctx: HttpContext, req: Request, res: Response): Promise<void> {
  await operator(ctx, res, 'operator.force');
  const principal = requirePrincipalOf(res);
  const machine = pathId(req, 'machine');
  const entityId = pathId(req, 'id');
  const body = parseWith(ForceBody, req.body, 'forced transition');
  const result = await ctx.engine.force({
    machine,
    entity_id: entityId,
    to: body.to,
    reason: body.reason,
    by: { user_id: principal.user_id, org_id: principal.org_id, roles: principal.roles, kind: principal.kind },
    ...(body.event_id === undefined ? {} : { event_id: body.event_id }),
  });
  sendJson(res, 200, result);
}

function queueOf(ctx: HttpContext, req: Request): DeadLetterQueue {
  const name = pathId(req, 'queue');
  const queue = ctx.deadLetters.find((candidate) => candidate.kind === name);
  if (queue === undefined) {
    const known = ctx.deadLetters.map((candidate) => candidate.kind).join(', ') || 'none';
    throw new LifecycleError('ENTITY_NOT_FOUND', `no dead-letter queue "${name.slice(0, 100)}" on this server (queues: ${known})`, { details: { queue: name.slice(0, 100) } });
  }
  return queue;
}

async function listDeadLetters(ctx: HttpContext, req: Request, res: Response): Promise<void> {
  await operator(ctx, res, 'operator.dead_letters.read');
  const query = parseWith(DeadLetterQuery, req.query, 'query');
  const queues = ctx.deadLetters.filter((queue) => query.queue === undefined || queue.kind === query.queue);
  const counts = await Promise.all(queues.map((queue) => queue.counts()));
  const pages = await Promise.all(queues.map((queue) => queue.list({ after: query.after, limit: query.limit })));
  sendJson(res, 200, { counts, dead_letters: pages.flat() });
}

async function showDeadLetter(ctx: HttpContext, req: Request, res: Response): Promise<void> {
  await operator(ctx, res, 'operator.dead_letters.read');
  sendJson(res, 200, await queueOf(ctx, req).show(pathId(req, 'id')));
}

async function redriveDeadLetter(ctx: HttpContext, req: Request, res: Response): Promise<void> {
  await operator(ctx, res, 'operator.dead_letters.redrive');
  sendJson(res, 200, await queueOf(ctx, req).redrive(pathId(req, 'id')));
}

async function redriveAll(ctx: HttpContext, req: Request, res: Response): Promise<void> {
  await operator(ctx, res, 'operator.dead_letters.redrive');
  const results = await queueOf(ctx, req).redriveAll();
  const summary: Record<string, number> = {};
  for (const { result } of results) summary[result.outcome] = (summary[result.outcome] ?? 0) + 1;
  sendJson(res, 200, { results, summary });
}

/** Adds the operator routes to `router`. */
export function operatorRoutes(router: Router, ctx: HttpContext): void {
  router.post('/entities/:machine/:id/force', requirePrincipal, ...jsonBody(ctx.limits), (req, res) => forceEntity(ctx, req, res));
  router.get('/dead-letters', requirePrincipal, (req, res) => listDeadLetters(ctx, req, res));
  router.get('/dead-letters/:queue/:id', requirePrincipal, (req, res) => showDeadLetter(ctx, req, res));
  router.post('/dead-letters/:queue/redrive', requirePrincipal, (req, res) => redriveAll(ctx, req, res));
  router.post('/dead-letters/:queue/:id/redrive', requirePrincipal, (req, res) => redriveDeadLetter(ctx, req, res));
}
