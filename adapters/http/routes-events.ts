/**
 * `POST /events`: one envelope, or `{ "events": [...] }` committed together (group commit).
 * The engine prepares the body once (parse, sender class, its own routing; a frozen result), the
 * caller is authorized against the batch the event is for, and the prepared event is dispatched
 * as it is (through the dispatcher: requests arriving together share one group commit, each
 * answered on its own; coalesce.ts). The engine confines every delivery to that same batch.
 */
import type { RequestHandler, Response } from 'express';
import type { LifecycleEnvelope } from '../../machines/contracts/events.js';
import type { PreparedEvent } from '../engine/prepared.js';
import type { BatchItemResult, InvalidItemResult } from '../engine/results.js';
import { isLifecycleError, LifecycleError } from '../errors.js';
import { actsAsService, type Owner, type Principal } from './auth.js';
import { markPartialRefusals, sendDispatchAnswer, sendJson } from './answers.js';
import type { HttpContext } from './context.js';
import { invalidRequest } from './errors.js';
import { requirePrincipal, requirePrincipalOf } from './guard.js';
import { checkEventCount, jsonBody } from './limits.js';
import { batchOfEvent } from './ownership.js';
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
 * The sender-class gate, before any policy: service results only from service principals (or the
 * loopback demo's local principal). Internal and outbound events never get here: the engine's
 * `prepare` with `strictSender` refuses them (SENDER_NOT_ALLOWED) for every principal.
 */
function checkSenderClass(principal: Principal, event: PreparedEvent): void {
  if (event.sender === 'service_result' && !actsAsService(principal)) {
    throw new LifecycleError('FORBIDDEN', `${event.envelope.event_type} is a service result: only service principals may send it`, {
      details: { event_type: event.envelope.event_type, sender_class: event.sender },
    });
  }
}

/**
 * Authorizes one prepared event: sender class, identity, then the policy on the batch the event is
 * for (the batch the engine confines every delivery to). Throws FORBIDDEN, or ENTITY_NOT_FOUND
 * when the batch does not exist and the principal may not act on unknown batches. Returns the
 * owner of a batch the event registers, so later events of the same group can address it.
 */
async function authorizeEvent(ctx: HttpContext, principal: Principal, event: PreparedEvent, pending: ReadonlyMap<string, Owner>): Promise<{ batch_id: string; owner: Owner } | undefined> {
  checkSenderClass(principal, event);
  checkIdentity(principal, event.envelope);
  const { resource, exists } = await batchOfEvent(event, ctx.owners, pending);
  if (await ctx.authorize(principal, 'events.dispatch', resource)) {
    return exists || resource.owner === null ? undefined : { batch_id: resource.batch_id, owner: resource.owner };
  }
  if (!exists && resource.owner === null) {
    throw new LifecycleError('ENTITY_NOT_FOUND', `${event.envelope.event_type} is for batch "${resource.batch_id}", which does not exist`, {
      details: { machine: 'batch', entity_id: resource.batch_id },
    });
  }
  throw new LifecycleError('FORBIDDEN', `not allowed to events.dispatch on batch "${resource.batch_id}"`, {
    details: { action: 'events.dispatch', batch_id: resource.batch_id },
  });
}

const NOTHING_PENDING: ReadonlyMap<string, Owner> = new Map();
/** Over HTTP only client commands and service results are taken: internal and outbound events are the engine's own. */
const STRICT_SENDER = { strictSender: true } as const;

async function postOne(ctx: HttpContext, principal: Principal, body: unknown, res: Response): Promise<void> {
  const event = ctx.engine.prepare(body, STRICT_SENDER);
  await authorizeEvent(ctx, principal, event, NOTHING_PENDING);
  const result = await ctx.dispatcher.dispatch(event);
  sendDispatchAnswer(res, result);
}

function invalidItem(index: number, error: LifecycleError): InvalidItemResult {
  return { outcome: 'invalid', index, code: error.code, message: error.message, details: error.details };
}

type Checked = { readonly index: number; readonly event: PreparedEvent } | { readonly index: number; readonly invalid: InvalidItemResult };

/** Parses and authorizes every item; a FORBIDDEN item refuses the whole request (nothing is dispatched). */
async function checkItems(ctx: HttpContext, principal: Principal, items: readonly unknown[]): Promise<Checked[]> {
  const pending = new Map<string, Owner>();
  const forbidden: number[] = [];
  const checked: Checked[] = [];
  for (const [index, raw] of items.entries()) {
    try {
      const event = ctx.engine.prepare(raw, STRICT_SENDER);
      const registered = await authorizeEvent(ctx, principal, event, pending);
      if (registered !== undefined) pending.set(registered.batch_id, registered.owner);
      checked.push({ index, event });
    } catch (error) {
      if (isLifecycleError(error, 'FORBIDDEN', 'SENDER_NOT_ALLOWED')) forbidden.push(index);
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
  const valid = checked.flatMap((item) => ('event' in item ? [item] : []));
  const dispatched = valid.length === 0 ? [] : await ctx.dispatcher.dispatchMany(valid.map((item) => item.event));
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

/** The handlers of `POST /events` after the router's own middleware: principal, JSON body, the route. */
export function eventHandlers(ctx: HttpContext): RequestHandler[] {
  const post: RequestHandler = async (req, res) => {
    const principal = requirePrincipalOf(res);
    const body = req.body as unknown;
    if (Array.isArray(body)) {
      throw new LifecycleError('INVALID_ENVELOPE', 'send one envelope object, or { "events": [envelope, ...] } for many', {
        details: { issues: [{ path: '(root)', code: 'invalid_type', message: 'expected an object' }] },
      });
    }
    if (isGroup(body)) await postMany(ctx, principal, body, res);
    else await postOne(ctx, principal, body, res);
  };
  return [requirePrincipal, ...jsonBody(ctx.limits), post];
}
