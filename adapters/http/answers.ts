/**
 * How a dispatch result becomes an HTTP answer, in one place for `/events` and the batch
 * routes: taken -> 200 (201 when it created a batch), refused by the machine -> 409
 * EVENT_REJECTED with the state and the states that would accept the event, refused because it
 * would reach another batch's entity -> 403 OUTSIDE_BATCH, duplicate -> the
 * status the first delivery got, with `outcome: 'duplicate'` in the result.
 */
import type { Response } from 'express';
import type { DispatchResult } from '../engine/results.js';
import type { ErrorBody } from './errors.js';
import { writable } from './limits.js';

/** True when the event was refused, now or (for a duplicate) the first time. */
export function wasRefused(result: DispatchResult): boolean {
  return result.outcome === 'refused' || (result.outcome === 'duplicate' && result.first_outcome === 'refused');
}

/** True when the event was refused because it would reach an entity of another batch (403 OUTSIDE_BATCH). */
export function wasOutsideBatch(result: DispatchResult): boolean {
  return (result.code ?? result.deliveries[0]?.code) === 'OUTSIDE_BATCH';
}

/** The 409 body of a refused result (403 OUTSIDE_BATCH for a membership refusal). */
export function rejectionBody(result: DispatchResult): ErrorBody {
  const first = result.deliveries[0];
  const accepting = [...(result.accepting_states ?? first?.accepting_states ?? [])];
  const state = result.from ?? first?.from ?? null;
  const reason = result.reason ?? first?.reason ?? `${result.event_type} was refused in state "${state ?? 'unknown'}"`;
  return {
    code: wasOutsideBatch(result) ? 'OUTSIDE_BATCH' : 'EVENT_REJECTED',
    message: reason,
    details: { state, accepting_states: accepting, event_id: result.event_id },
    state,
    accepting_states: accepting,
    result,
  };
}

/**
 * Sends `body` as JSON, serialised once and written in one piece. For answers to writes: no
 * ETag (express's `res.json` hashes every body for one; a write's answer is never revalidated).
 */
export function sendJson(res: Response, status: number, body: unknown): void {
  if (!writable(res)) return;
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(text, 'utf8'));
  res.end(text, 'utf8');
}

/** Header counting the deliveries refused inside an accepted event (a partial refusal); absent when none. */
export const REFUSED_DELIVERIES_HEADER = 'Lifecycle-Refused-Deliveries';

/** Sets {@link REFUSED_DELIVERIES_HEADER} when any of `results` is a partial refusal. */
export function markPartialRefusals(res: Response, results: ReadonlyArray<{ readonly refused_deliveries?: readonly unknown[] }>): void {
  const count = results.reduce((sum, result) => sum + (result.refused_deliveries?.length ?? 0), 0);
  if (count > 0 && writable(res)) res.setHeader(REFUSED_DELIVERIES_HEADER, String(count));
}

/**
 * Sends a dispatch answer: `body` (default: the result itself) with `status` when taken, the
 * 409 rejection body when refused. A partial refusal (taken, but some delivery refused) keeps its
 * status and carries the header {@link REFUSED_DELIVERIES_HEADER} beside `refused_deliveries`.
 */
export function sendDispatchAnswer(res: Response, result: DispatchResult, options: { status?: number; body?: unknown } = {}): void {
  if (wasRefused(result)) return sendJson(res, wasOutsideBatch(result) ? 403 : 409, rejectionBody(result));
  markPartialRefusals(res, [result]);
  sendJson(res, options.status ?? 200, options.body ?? result);
}
