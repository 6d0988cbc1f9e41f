/**
 * The envelopes the batch routes build: exactly what a queue would carry, with a new
 * event_id, the caller's `X-Correlation-ID` when it is a uuid (else a new one), the injected
 * clock's timestamp and this adapter as source_service. They are checked against the
 * contracts like any other input before they are dispatched.
 */
import type { Request } from 'express';
import { z } from 'zod';
import { LifecycleEvents, type EventData, type EventName } from '../../machines/contracts/events.js';
import type { PreparedEvent } from '../engine/prepared.js';
import { isLifecycleError, LifecycleError } from '../errors.js';
import type { HttpContext } from './context.js';

/** source_service of every envelope built by the HTTP routes. */
export const HTTP_SOURCE_SERVICE = 'lifecycle_http';

const Uuid = z.uuid();

/** The correlation id of a request: a valid `X-Correlation-ID` header, else a new uuid. */
export function correlationIdOf(req: Request, newId: () => string): string {
  const header = req.headers['x-correlation-id'];
  const value = Array.isArray(header) ? header[0] : header;
  return value !== undefined && Uuid.safeParse(value).success ? value.toLowerCase() : newId();
}

/**
 * A complete envelope of event `name` with `data`, prepared by the engine (parsed and routed
 * once; what is dispatched is exactly what was checked). A payload the contract refuses is a 400
 * naming the contract's fields, never a 5xx: the route schemas are meant to admit only what the
 * contracts admit, and this catches one that slips through.
 */
export function buildEnvelope<N extends EventName>(
  ctx: Pick<HttpContext, 'clock' | 'newId' | 'engine'>,
  req: Request,
  name: N,
  data: z.input<(typeof LifecycleEvents)[N]['data']> | EventData<N>,
): PreparedEvent {
  const raw = {
    event_id: ctx.newId(),
    event_type: LifecycleEvents[name].topic,
    event_timestamp: ctx.clock().toISOString(),
    source_service: HTTP_SOURCE_SERVICE,
    schema_version: 1,
    correlation_id: correlationIdOf(req, ctx.newId),
    data,
  };
  try {
    return ctx.engine.prepare(raw, { strictSender: true });
  } catch (error) {
    if (!isLifecycleError(error, 'INVALID_ENVELOPE')) throw error;
    throw new LifecycleError('INVALID_ENVELOPE', `built ${name} envelope does not match its contract`, { details: error.details });
  }
}
