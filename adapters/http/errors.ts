/**
 * THE one table from error codes to HTTP statuses, and the one error body every route answers
 * with: `{ code, message, details }`. Routes throw (or pass to `next`) a LifecycleError; the
 * error handler at the end of the app turns it into a response here. Nothing else picks
 * statuses for errors.
 */
import type { ErrorRequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { z } from 'zod';
import { DEFERRED_CODES } from '../engine/results.js';
import { isLifecycleError, LifecycleError, type ErrorCode, type ErrorDetails } from '../errors.js';

/**
 * Codes only the HTTP layer produces (requests that are not envelopes). Kept beside the
 * library's codes so the table below covers both.
 */
export const HttpOnlyCode = {
  /** A route body or query string does not match its schema, or the body is not valid JSON. */
  INVALID_REQUEST: 'INVALID_REQUEST',
  /** A write whose body is not JSON. */
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  /** No route matches the method and path. */
  ROUTE_NOT_FOUND: 'ROUTE_NOT_FOUND',
  /** An unexpected failure (a bug); the response names only the request id. */
  INTERNAL_ERROR: 'INTERNAL_ERROR',
} as const;
export type HttpOnlyCode = (typeof HttpOnlyCode)[keyof typeof HttpOnlyCode];

/** Every code an HTTP error body may carry. */
export type HttpErrorCode = ErrorCode | HttpOnlyCode;

/** Which limit a LIMIT_EXCEEDED error is about (`details.limit`); each has its own status. */
export const LimitKind = {
  BODY_BYTES: 'body_bytes',
  EVENTS_PER_REQUEST: 'events_per_request',
  RATE: 'rate',
  REQUEST_TIMEOUT: 'request_timeout',
  SUBSCRIBERS: 'subscribers',
} as const;
export type LimitKind = (typeof LimitKind)[keyof typeof LimitKind];

/** Status of every code. LIMIT_EXCEEDED's status depends on the limit (see LIMIT_STATUS). */
export const HTTP_STATUS: Readonly<Record<HttpErrorCode, number>> = {
  INVALID_ENVELOPE: 400,
  INVALID_REQUEST: 400,
  UNKNOWN_EVENT_TYPE: 422,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  SENDER_NOT_ALLOWED: 403,
  OUTSIDE_BATCH: 403,
  ENTITY_NOT_FOUND: 404,
  ROUTE_NOT_FOUND: 404,
  EVENT_REJECTED: 409,
  VERSION_CONFLICT: 409,
  UNSUPPORTED_MEDIA_TYPE: 415,
  LIMIT_EXCEEDED: 429,
  SNAPSHOT_INCOMPATIBLE: 503,
  SNAPSHOT_CORRUPT: 503,
  MACHINE_ERROR: 503,
  INVARIANT_VIOLATED: 500,
  INVALID_CONFIGURATION: 500,
  INTERNAL_ERROR: 500,
  STORE_FAILURE: 503,
  SHUTTING_DOWN: 503,
  INVALID_ARGUMENT: 400,
  UNKNOWN_STATE: 400,
  FORCE_REFUSED: 409,
  ARCHIVE_CORRUPT: 503,
  UNSUPPORTED_OPERATION: 501,
};

/** Status of each limit: too much in one request 413, too often 429, server capacity 503. */
export const LIMIT_STATUS: Readonly<Record<LimitKind, number>> = {
  body_bytes: 413,
  events_per_request: 413,
  rate: 429,
  request_timeout: 503,
  subscribers: 503,
};

/** The error body of every non-2xx answer (the schema the OpenAPI document shows). */
export const ErrorBody = z.object({
  code: z.string().describe('Stable error code (adapters/errors.ts ErrorCode, or an HTTP-only code)'),
  message: z.string().describe('What was wrong, naming the fields, ids or limit involved'),
  details: z.record(z.string(), z.unknown()).describe('Structured details: issues[{path, code, message}], ids, states, limits'),
  state: z.string().nullable().optional().describe('EVENT_REJECTED: the state the entity is in'),
  accepting_states: z.array(z.string()).optional().describe('EVENT_REJECTED: the states that would accept the event'),
  result: z.unknown().optional().describe('EVENT_REJECTED: the dispatch result'),
});
export type ErrorBody = z.infer<typeof ErrorBody>;

const MAX_ISSUES = 20;
const MAX_TEXT = 300;

function clip(text: string): string {
  return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}…` : text;
}

/** One problem of a request, by field path. */
export interface RequestIssue {
  readonly path: string;
  readonly code: string;
  readonly message: string;
}

/** At most 20 issues, each path and message clipped: an error never echoes a huge input back. */
export function boundedIssues(issues: readonly RequestIssue[]): RequestIssue[] {
  return issues.slice(0, MAX_ISSUES).map((issue) => ({ path: clip(issue.path), code: clip(issue.code), message: clip(issue.message) }));
}

/** The issues of a zod error as request issues (`(root)` for the body itself). */
export function zodIssues(error: z.ZodError, prefix = ''): RequestIssue[] {
  return boundedIssues(
    error.issues.map((issue) => ({
      path: [prefix, ...issue.path.map(String)].filter((part) => part !== '').join('.') || '(root)',
      code: issue.code,
      message: issue.message,
    })),
  );
}

/** An error only the HTTP layer raises (its code is an HttpOnlyCode). */
export class HttpError extends Error {
  override readonly name: string = 'HttpError';
  readonly code: HttpOnlyCode;
  readonly details: ErrorDetails;

  constructor(code: HttpOnlyCode, message: string, details: ErrorDetails = {}) {
    super(message);
    this.code = code;
    this.details = details;
  }
}

/** A 400 naming the fields of `error` (a route body or query that failed its schema). */
export function invalidRequest(what: string, error: z.ZodError): HttpError {
  const issues = zodIssues(error);
  const fields = [...new Set(issues.map((issue) => issue.path))].slice(0, 5).join(', ');
  return new HttpError('INVALID_REQUEST', `invalid ${what}: ${fields}`, { issues });
}

/** A LIMIT_EXCEEDED error about one limit. */
export function limitExceeded(limit: LimitKind, message: string, details: ErrorDetails = {}): LifecycleError {
  return new LifecycleError('LIMIT_EXCEEDED', message, { details: { ...details, limit } });
}

/** 5xx codes whose messages are written by this layer (safe to show); other 5xx messages stay in the log. */
const OWN_5XX_MESSAGES = new Set<string>(['LIMIT_EXCEEDED', 'SHUTTING_DOWN']);

/** Seconds a client should wait before retrying an event this server could not apply now (DEFERRED_CODES). */
export const DEFERRED_RETRY_AFTER_SECONDS = 5;

/**
 * The 503 body of an event this server cannot apply now (DEFERRED_CODES): nothing was written and a
 * retry may succeed (on a server running a newer machine version, say). The message of an
 * incompatible snapshot names machine, entity and versions; the others stay in the log.
 */
function deferredBody(error: LifecycleError, requestId: string): ErrorBody {
  const why = error.code === 'SNAPSHOT_INCOMPATIBLE' ? clip(error.message) : `${error.code}; the server log has the details under this request id`;
  return {
    code: error.code,
    message: `the event could not be applied now: ${why}; nothing was written, retry later`,
    details: { request_id: requestId, retryable: true, retry_after_seconds: DEFERRED_RETRY_AFTER_SECONDS },
  };
}

function hidden(code: string, requestId: string): ErrorBody {
  const message = code === 'STORE_FAILURE' ? 'the store is unavailable; retry later' : 'internal error; the server log has the details under this request id';
  return { code, message, details: { request_id: requestId } };
}

function statusOf(error: LifecycleError): number {
  const limit = error.details.limit;
  if (error.code === 'LIMIT_EXCEEDED' && typeof limit === 'string' && Object.hasOwn(LIMIT_STATUS, limit)) return LIMIT_STATUS[limit as LimitKind];
  return HTTP_STATUS[error.code];
}

/** The status of an error and its body. Unexpected errors and internal failures reveal only the request id. */
export function describeError(error: unknown, requestId: string): { status: number; body: ErrorBody } {
  if (error instanceof HttpError) return { status: HTTP_STATUS[error.code], body: { code: error.code, message: error.message, details: { ...error.details } } };
  if (!isLifecycleError(error)) return { status: 500, body: hidden('INTERNAL_ERROR', requestId) };
  const status = statusOf(error);
  if ((DEFERRED_CODES as readonly string[]).includes(error.code)) return { status, body: deferredBody(error, requestId) };
  if (status >= 500 && !OWN_5XX_MESSAGES.has(error.code)) return { status, body: hidden(error.code, requestId) };
  const details = Array.isArray(error.details.issues) ? { ...error.details, issues: boundedIssues(error.details.issues as RequestIssue[]) } : { ...error.details };
  return { status, body: { code: error.code, message: clip(error.message), details } };
}

/** Sends the error body, unless a response is already on its way (timeout, closed stream). */
export function sendError(res: Response, error: unknown): void {
  if (res.headersSent) return;
  const { status, body } = describeError(error, requestIdOf(res));
  if (status === 401) res.setHeader('WWW-Authenticate', 'Bearer');
  if (body.details.retryable === true) res.setHeader('Retry-After', String(DEFERRED_RETRY_AFTER_SECONDS));
  res.status(status).json(body);
}

/** The request id the logging middleware put on the response. */
export function requestIdOf(res: Response): string {
  const id = res.getHeader('X-Request-ID');
  return typeof id === 'string' ? id : 'unknown';
}

interface BodyParserError {
  readonly type?: string;
  readonly status?: number;
  readonly limit?: number;
}

/** A body that zlib could not inflate as its Content-Encoding says (body-parser passes zlib's error on, without a `type`). */
function isUndecodableBody(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof error === 'object' && error !== null && 'expose' in error && typeof code === 'string' && code.startsWith('Z_');
}

function isBodyParserError(error: unknown): error is BodyParserError {
  if (isUndecodableBody(error)) return true;
  return typeof error === 'object' && error !== null && typeof (error as { type?: unknown }).type === 'string' && 'expose' in error;
}

/** body-parser's errors as our codes; their messages (which can quote the body) are never used. */
function fromBodyParser(error: BodyParserError): LifecycleError | HttpError {
  switch (error.type) {
    case 'entity.too.large':
      return limitExceeded(LimitKind.BODY_BYTES, `request body exceeds the limit of ${error.limit ?? 'the configured'} bytes`, { max_bytes: error.limit ?? null });
    case 'entity.parse.failed':
      return new HttpError('INVALID_REQUEST', 'request body is not valid JSON (an object or an array is expected)', { issues: [{ path: '(root)', code: 'invalid_json', message: 'malformed JSON' }] });
    case 'charset.unsupported':
    case 'encoding.unsupported':
      return new HttpError('UNSUPPORTED_MEDIA_TYPE', 'request body must be UTF-8 JSON without content encoding');
    default:
      if (isUndecodableBody(error)) {
        return new HttpError('INVALID_REQUEST', 'request body could not be decoded as its Content-Encoding says', { issues: [{ path: '(body)', code: 'invalid_content_encoding', message: 'the body is not in the declared Content-Encoding' }] });
      }
      return new HttpError('INVALID_REQUEST', 'request body could not be read');
  }
}

/**
 * A URL the router could not decode (malformed percent-encoding, or bytes that are not UTF-8,
 * such as `%FF` or an encoded lone surrogate `%ED%A0%80`) is the client's mistake: a 400. The
 * raw value is not echoed.
 */
function urlNotDecodable(): HttpError {
  return new HttpError('INVALID_REQUEST', 'the URL path is not valid percent-encoded UTF-8; encode each path segment with encodeURIComponent', {
    issues: [{ path: '(url)', code: 'invalid_url_encoding', message: 'malformed percent-encoding in the URL path' }],
  });
}

function translate(error: unknown): unknown {
  if (isBodyParserError(error)) return fromBodyParser(error);
  if (error instanceof URIError) return urlNotDecodable();
  return error;
}

/** The last middleware: every error becomes one error body; only unexpected ones are logged with a stack. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, _req, res, _next) => {
    const translated = translate(error);
    const { status } = describeError(translated, requestIdOf(res));
    if (status >= 500) {
      logger.error({ req_id: requestIdOf(res), err: translated }, 'request failed');
    }
    sendError(res, translated);
  };
}
