/**
 * The operator routes (admin only under the default policy): forced transitions. Each is an
 * operator action the policy decides on (`operator.*` on the system resource `operator`), not an
 * envelope from a client; the principal is recorded with what it did.
 */
import type { Request, Response, Router } from 'express';
import { parseWith, pathId } from './access.js';
import type { HttpContext } from './context.js';
import { authorizeOrThrow, requirePrincipal, requirePrincipalOf } from './guard.js';
import { jsonBody } from './limits.js';
import { sendJson } from './answers.js';
import { ForceBody } from './schemas.js';

const OPERATOR = { kind: 'system', name: 'operator' } as const;

async function forceEntity(ctx: HttpContext, req: Request, res: Response): Promise<void> {
  const principal = requirePrincipalOf(res);
  await authorizeOrThrow(ctx.authorize, principal, 'operator.force', OPERATOR);
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

/** Adds the operator routes to `router`. */
export function operatorRoutes(router: Router, ctx: HttpContext): void {
  router.post('/entities/:machine/:id/force', requirePrincipal, ...jsonBody(ctx.limits), (req, res) => forceEntity(ctx, req, res));
}
