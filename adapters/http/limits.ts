/**
 * Every limit of the HTTP layer, its default, and the middleware that enforces it. Each limit
 * answers with LIMIT_EXCEEDED and `details.limit` naming it (errors.ts maps it to 413, 429 or
 * 503) and a message that states the configured value.
 */
import express, { type RequestHandler, type Response } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import { LifecycleError } from '../errors.js';
import { HttpError, limitExceeded, LimitKind, sendError } from './errors.js';
import { principalOf } from './guard.js';

/** The limits; every field optional in `deps.limits`, defaults below. */
export interface HttpLimits {
  /** Largest request body in bytes (default 1 MiB) -> 413. */
  readonly bodyBytes: number;
  /** Most envelopes in one `POST /events` group (default 1,000) -> 413. */
  readonly eventsPerRequest: number;
  /** Requests per principal (or per client address when anonymous) per window (default 600) -> 429 with Retry-After. */
  readonly ratePerWindow: number;
  /** The rate window in milliseconds (default 60,000). */
  readonly rateWindowMs: number;
  /**
   * Most events of concurrent requests committed together in one transaction (default 1,000):
   * requests arriving in the same event-loop turn share one group commit, each answered on its
   * own (coalesce.ts). 1 commits every request on its own.
   */
  readonly groupCommitEvents: number;
  /** Longest time a request may take before the server answers 503 (default 30,000 ms; the stream is exempt). */
  readonly requestTimeoutMs: number;
  /** Most concurrent `GET /stream` subscribers (default 100) -> 503. */
  readonly streamSubscribers: number;
  /** Interval of the stream's heartbeat comments (default 15,000 ms). */
  readonly streamHeartbeatMs: number;
  /** Most bytes buffered for one slow stream subscriber before it is disconnected (default 1 MiB). */
  readonly streamBufferBytes: number;
  /** How often the stream reads the store's audit log for new commits of any process (default 250 ms). */
  readonly streamPollMs: number;
}

/** The defaults of every limit. */
export const DEFAULT_LIMITS: HttpLimits = {
  bodyBytes: 1024 * 1024,
  eventsPerRequest: 1000,
  ratePerWindow: 600,
  rateWindowMs: 60_000,
  groupCommitEvents: 1000,
  requestTimeoutMs: 30_000,
  streamSubscribers: 100,
  streamHeartbeatMs: 15_000,
  streamBufferBytes: 1024 * 1024,
  streamPollMs: 250,
};

/** The defaults overridden by `overrides`; throws INVALID_CONFIGURATION for a value that is not a positive integer. */
export function resolveLimits(overrides: Partial<HttpLimits> = {}): HttpLimits {
  const limits = { ...DEFAULT_LIMITS, ...overrides };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new LifecycleError('INVALID_CONFIGURATION', `limit ${name} must be a positive integer, got ${String(value)}`, { details: { limit: name } });
    }
  }
  return limits;
}

/** Rate limit keyed by principal (`kind:user_id`), or by client address for anonymous requests. */
export function rateLimiter(limits: HttpLimits): RequestHandler {
  const seconds = Math.ceil(limits.rateWindowMs / 1000);
  return rateLimit({
    windowMs: limits.rateWindowMs,
    limit: limits.ratePerWindow,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    validate: { xForwardedForHeader: false },
    keyGenerator: (req, res) => {
      const principal = principalOf(res);
      return principal === undefined ? `ip:${ipKeyGenerator(req.ip ?? 'unknown')}` : `${principal.kind}:${principal.user_id}`;
    },
    handler: (_req, res) => {
      const retry = res.getHeader('Retry-After');
      sendError(
        res,
        limitExceeded(LimitKind.RATE, `rate limit of ${limits.ratePerWindow} requests per ${seconds} s exceeded; retry after ${String(retry ?? seconds)} s`, {
          max_requests: limits.ratePerWindow,
          window_seconds: seconds,
        }),
      );
    },
  });
}

/** Answers 503 when a request takes longer than the limit (the work itself is not undone: retry with the same event_id). */
export function requestTimeout(limits: HttpLimits): RequestHandler {
  return (_req, res, next) => {
    const timer = setTimeout(() => {
      sendError(res, limitExceeded(LimitKind.REQUEST_TIMEOUT, `request took longer than ${limits.requestTimeoutMs} ms`, { timeout_ms: limits.requestTimeoutMs }));
    }, limits.requestTimeoutMs);
    timer.unref();
    res.once('close', () => clearTimeout(timer));
    next();
  };
}

const JSON_TYPES = ['application/json', 'application/*+json'];

/**
 * Parses a JSON body of at most `bodyBytes` (413 beyond). A write with a body of another
 * content type is refused with 415; a write without a body gets `{}`.
 */
export function jsonBody(limits: HttpLimits): RequestHandler[] {
  const parse = express.json({ limit: limits.bodyBytes, strict: true, type: JSON_TYPES });
  const requireJson: RequestHandler = (req, _res, next) => {
    const hasBody = req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');
    if (hasBody && req.is(JSON_TYPES) === false) {
      next(new HttpError('UNSUPPORTED_MEDIA_TYPE', 'request body must be application/json', { content_type: String(req.headers['content-type'] ?? '(none)').slice(0, 100) }));
      return;
    }
    next();
  };
  const defaultBody: RequestHandler = (req, _res, next) => {
    if ((req.body as unknown) === undefined) req.body = {};
    next();
  };
  return [requireJson, parse, defaultBody];
}

/** Throws 413 when a group holds more envelopes than the limit. */
export function checkEventCount(count: number, limits: HttpLimits): void {
  if (count > limits.eventsPerRequest) {
    throw limitExceeded(LimitKind.EVENTS_PER_REQUEST, `a request may carry at most ${limits.eventsPerRequest} events, got ${count}`, {
      max_events: limits.eventsPerRequest,
      events: count,
    });
  }
}

/** The subscriber cap: throws 503 when `current` already reached it. */
export function checkSubscribers(current: number, limits: HttpLimits): void {
  if (current >= limits.streamSubscribers) {
    throw limitExceeded(LimitKind.SUBSCRIBERS, `the stream already has its maximum of ${limits.streamSubscribers} subscribers; try again later`, {
      max_subscribers: limits.streamSubscribers,
    });
  }
}

/** True when a response can still be written (not timed out, not closed). */
export function writable(res: Response): boolean {
  return !res.headersSent && !res.writableEnded;
}
