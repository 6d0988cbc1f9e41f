/**
 * One request log line per request, by pino-http: `req` (id, method, path without the query
 * string), `res` (statusCode), `responseTime` (ms) and the principal's user_id. Bodies,
 * headers, query strings and tokens are never logged (pino-http's default serializers would
 * log the headers, Authorization included, so both are replaced). `req.log` is the request's
 * child logger, as pino-http users expect.
 *
 * The request id is the caller's `X-Request-ID` when it is a short token, else a new id; it is
 * echoed in the response header and carried by every error body of a 500. A client that goes
 * away before the answer is logged as `request aborted` at level warn.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler, Response } from 'express';
import type { LevelWithSilent, Logger } from 'pino';
import { pinoHttp } from 'pino-http';
import { principalOf } from './guard.js';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** The path of a request URL: no query string (it may carry tokens), at most 200 characters. */
function pathOf(url: string | undefined): string {
  const [path = '/'] = (url ?? '/').split('?');
  return path.length > 200 ? `${path.slice(0, 200)}…` : path;
}

/** True once the whole answer was handed to the network; false for a client that went away. */
const answered = (res: ServerResponse): boolean => res.writableFinished;

function levelOf(res: ServerResponse): LevelWithSilent {
  if (res.statusCode >= 500) return 'error';
  return res.statusCode >= 400 || !answered(res) ? 'warn' : 'info';
}

/** What the request line says about the request (pino-http calls it with the raw request). */
interface RequestFields {
  readonly raw?: IncomingMessage & { originalUrl?: string };
  readonly id?: unknown;
  readonly method?: string;
  readonly url?: string;
}

/** Sets X-Request-ID and logs the request when its response is done (pino-http). */
export function requestLogging(logger: Logger, newId: () => string): RequestHandler {
  const middleware = pinoHttp<IncomingMessage, ServerResponse, never>({
    logger,
    genReqId: (req, res) => {
      const header = req.headers['x-request-id'];
      const id = typeof header === 'string' && REQUEST_ID.test(header) ? header : newId();
      res.setHeader('X-Request-ID', id);
      return id;
    },
    // 'silent' when the logger would drop the line: pino-http then builds nothing for it.
    customLogLevel: (_req, res) => {
      const level = levelOf(res);
      return logger.isLevelEnabled(level) ? level : 'silent';
    },
    customSuccessMessage: (_req, res) => (answered(res) ? 'request completed' : 'request aborted'),
    customSuccessObject: (_req, res, fields: object) => ({ ...fields, principal: principalOf(res as Response)?.user_id ?? null }),
    customErrorObject: (_req, res, _error, fields: object) => ({ ...fields, principal: principalOf(res as Response)?.user_id ?? null }),
    serializers: {
      req: (req: RequestFields) => ({ id: req.id, method: req.method, url: pathOf(req.raw?.originalUrl ?? req.url) }),
      res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
    },
  });
  return (req, res, next) => middleware(req, res, next);
}
