/**
 * The envelopes the batch routes build: exactly what a queue would carry, with a new
 * event_id, the caller's `X-Correlation-ID` when it is a uuid (else a new one), the injected
 * clock's timestamp and this adapter as source_service. They are checked against the
 * contracts like any other input before they are dispatched.
 */
import type { Request } from 'express';
import { z } from 'zod';
import { LifecycleEvents, parseEnvelope, type EventData, type EventName, type LifecycleEnvelope } from '../../machines/contracts/events.js';
import { LifecycleError } from '../errors.js';
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

/** A complete, validated envelope of event `name` with `data`. */
export function buildEnvelope<N extends EventName>(
  ctx: Pick<HttpContext, 'clock' | 'newId'>,
  req: Request,
  name: N,
  data: z.input<(typeof LifecycleEvents)[N]['data']> | EventData<N>,
): LifecycleEnvelope {
  const raw = {
    event_id: ctx.newId(),
    event_type: LifecycleEvents[name].topic,
    event_timestamp: ctx.clock().toISOString(),
    source_service: HTTP_SOURCE_SERVICE,
    schema_version: 1,
    correlation_id: correlationIdOf(req, ctx.newId),
    data,
  };
  const parsed = parseEnvelope(raw);
  if (!parsed.ok) {
    // The route schemas are meant to admit only what the contracts admit; should one slip
    // through, the caller still gets a 400 naming the contract's fields, never a 5xx.
    throw new LifecycleError('INVALID_ENVELOPE', `built ${name} envelope does not match its contract`, { details: { issues: parsed.issues } });
  }
  return parsed.envelope;
}
