/**
 * `POST /events`: one envelope, or `{ "events": [...] }` committed together (group commit).
 * The body is checked against the contracts, the caller is authorized against the batch the
 * envelope addresses, and only then does the engine see it (through the dispatcher: requests
 * arriving together share one group commit, each answered on its own; coalesce.ts).
 */
import type { Response, Router } from 'express';
import type { LifecycleEnvelope } from '../../machines/contracts/events.js';
import { parseOrThrow } from '../engine/engine.js';
import type { BatchItemResult, InvalidItemResult } from '../engine/results.js';
import { isLifecycleError, LifecycleError } from '../errors.js';
import type { Owner, Principal } from './auth.js';
import { markPartialRefusals, sendDispatchAnswer, sendJson } from './answers.js';
import type { HttpContext } from './context.js';
import { invalidRequest } from './errors.js';
import { authorizeOrThrow, requirePrincipal, requirePrincipalOf } from './guard.js';
import { checkEventCount, jsonBody } from './limits.js';
import { targetOf } from './ownership.js';
import { EventGroupWrapper } from './schemas.js';

/**
 * A user principal speaks only for itself: every user_id in the payload must be its own and an
 * org_id, when given, its own organisation. Services relay on behalf of users and are exempt.
 */
function checkIdentity(principal: Principal, envelope: LifecycleEnvelope): void {
  if (principal.kind !== 'user') return;
  const data = envelope.data as Record<string, unknown>;
  for (const key of ['user_id', 'owner_user_id'] as const) {
    const value = data[key];
    if (typeof value === 'string' && value !== principal.user_id) {
      throw new LifecycleError('FORBIDDEN', `data.${key} must be the authenticated user's id`, { details: { field: `data.${key}` } });
    }
  }
  const org = data.org_id;
  if (typeof org === 'string' && org !== principal.org_id) {
    throw new LifecycleError('FORBIDDEN', "data.org_id must be the authenticated user's organisation", { details: { field: 'data.org_id' } });
  }
}

/**
 * Authorizes one envelope. Throws FORBIDDEN, or ENTITY_NOT_FOUND when the principal may not
 * act on entities it cannot be placed under (an unknown essay or batch). Returns the owner of
 * a batch the envelope registers, so later envelopes of the same group can address it.
 */
async function authorizeEnvelope(ctx: HttpContext, principal: Principal, envelope: LifecycleEnvelope, pending: ReadonlyMap<string, Owner>): Promise<{ batch_id: string; owner: Owner } | undefined> {
  checkIdentity(principal, envelope);
  const target = await targetOf(envelope, ctx.owners, pending);
  if (target.kind === 'batch') {
    await authorizeOrThrow(ctx.authorize, principal, 'events.dispatch', target.resource);
    const { batch_id, owner } = target.resource;
    return target.exists || owner === null ? undefined : { batch_id, owner };
  }
  const batchId = target.kind === 'unknown' ? (target.batch_id ?? target.entity_id) : '(none)';
  if (await ctx.authorize(principal, 'events.dispatch', { kind: 'batch', batch_id: batchId, owner: null })) return undefined;
  if (target.kind === 'unknown') {
    throw new LifecycleError('ENTITY_NOT_FOUND', `${envelope.event_type} addresses ${target.machine} "${target.entity_id}", which does not exist`, {
      details: { machine: target.machine, entity_id: target.entity_id },
    });
  }
  throw new LifecycleError('FORBIDDEN', `${envelope.event_type} addresses no lifecycle entity; only service principals may send it`, {
    details: { event_type: envelope.event_type },
  });
}

const NOTHING_PENDING: ReadonlyMap<string, Owner> = new Map();

async function postOne(ctx: HttpContext, principal: Principal, body: unknown, res: Response): Promise<void> {
  const envelope = parseOrThrow(body);
  await authorizeEnvelope(ctx, principal, envelope, NOTHING_PENDING);
  const result = await ctx.dispatcher.dispatch(body);
  sendDispatchAnswer(res, result);
}

function invalidItem(index: number, error: LifecycleError): InvalidItemResult {
  return { outcome: 'invalid', index, code: error.code, message: error.message, details: error.details };
}

type Checked = { readonly index: number; readonly raw: unknown } | { readonly index: number; readonly invalid: InvalidItemResult };

/** Parses and authorizes every item; a FORBIDDEN item refuses the whole request (nothing is dispatched). */
async function checkItems(ctx: HttpContext, principal: Principal, items: readonly unknown[]): Promise<Checked[]> {
  const pending = new Map<string, Owner>();
  const forbidden: number[] = [];
  const checked: Checked[] = [];
  for (const [index, raw] of items.entries()) {
    try {
      const registered = await authorizeEnvelope(ctx, principal, parseOrThrow(raw), pending);
      if (registered !== undefined) pending.set(registered.batch_id, registered.owner);
      checked.push({ index, raw });
    } catch (error) {
      if (isLifecycleError(error, 'FORBIDDEN')) forbidden.push(index);
      else if (isLifecycleError(error, 'INVALID_ENVELOPE', 'UNKNOWN_EVENT_TYPE', 'ENTITY_NOT_FOUND')) checked.push({ index, invalid: invalidItem(index, error) });
      else throw error;
    }
  }
  if (forbidden.length > 0) {
    throw new LifecycleError('FORBIDDEN', `not allowed to send ${forbidden.length} of the ${items.length} events (indexes ${forbidden.slice(0, 20).join(', ')}); nothing was dispatched`, {
      details: { forbidden_indexes: forbidden.slice(0, 1000) },
    });
  }
  return checked;
}

function summaryOf(results: readonly BatchItemResult[]): Record<BatchItemResult['outcome'], number> {
  const summary = { accepted: 0, refused: 0, duplicate: 0, invalid: 0, deferred: 0 };
  for (const result of results) summary[result.outcome] += 1;
  return summary;
}

async function postMany(ctx: HttpContext, principal: Principal, body: unknown, res: Response): Promise<void> {
  const wrapper = EventGroupWrapper.safeParse(body);
  if (!wrapper.success) throw invalidRequest('event group (expected { "events": [envelope, ...] })', wrapper.error);
  checkEventCount(wrapper.data.events.length, ctx.limits);
  const checked = await checkItems(ctx, principal, wrapper.data.events);
  const valid = checked.flatMap((item) => ('raw' in item ? [item] : []));
  const dispatched = valid.length === 0 ? [] : await ctx.dispatcher.dispatchMany(valid.map((item) => item.raw));
  const byIndex = new Map<number, BatchItemResult>();
  dispatched.forEach((result, position) => {
    const index = valid[position]?.index ?? -1;
    byIndex.set(index, result.outcome === 'invalid' || result.outcome === 'deferred' ? { ...result, index } : result);
  });
  const results = checked.map((item) => ('invalid' in item ? item.invalid : byIndex.get(item.index))).filter((r): r is BatchItemResult => r !== undefined);
  markPartialRefusals(res, results.map((result) => (result.outcome === 'invalid' ? {} : result)));
  sendJson(res, 200, { results, summary: summaryOf(results) });
}

function isGroup(body: unknown): boolean {
  return typeof body === 'object' && body !== null && !Array.isArray(body) && Object.hasOwn(body, 'events') && !Object.hasOwn(body, 'event_type');
}

/** Adds the `/events` route to `router`. */
export function eventRoutes(router: Router, ctx: HttpContext): void {
  router.post('/events', requirePrincipal, ...jsonBody(ctx.limits), async (req, res) => {
    const principal = requirePrincipalOf(res);
    const body = req.body as unknown;
    if (Array.isArray(body)) {
      throw new LifecycleError('INVALID_ENVELOPE', 'send one envelope object, or { "events": [envelope, ...] } for many', {
        details: { issues: [{ path: '(root)', code: 'invalid_type', message: 'expected an object' }] },
      });
    }
    if (isGroup(body)) await postMany(ctx, principal, body, res);
    else await postOne(ctx, principal, body, res);
  });
}
