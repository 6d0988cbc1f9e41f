/**
 * One structured log line per request: request id, method, path (never the query string),
 * status, duration and the principal's user_id. Bodies, headers and tokens are never logged.
 * The request id is the caller's `X-Request-ID` when it is a short token, else a new id; it
 * is echoed in the response header and carried by every error body of a 500.
 */
import type { Request, RequestHandler } from 'express';
import type { Logger } from 'pino';
import { principalOf } from './guard.js';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

function pathOf(req: Request): string {
  const [path = '/'] = req.originalUrl.split('?');
  return path.length > 200 ? `${path.slice(0, 200)}…` : path;
}

function levelOf(status: number): 'error' | 'warn' | 'info' {
  if (status >= 500) return 'error';
  return status >= 400 ? 'warn' : 'info';
}

/**
 * Sets X-Request-ID and logs the request when its response is done: 'close' follows 'finish'
 * for every answered response and alone marks a client that went away (499). The line is built
 * only when the logger's level lets it through.
 */
export function requestLogging(logger: Logger, newId: () => string): RequestHandler {
  return (req, res, next) => {
    const header = req.headers['x-request-id'];
    const id = typeof header === 'string' && REQUEST_ID.test(header) ? header : newId();
    res.setHeader('X-Request-ID', id);
    const started = performance.now();
    res.once('close', () => {
      const status = res.writableFinished ? res.statusCode : 499;
      const level = levelOf(status);
      if (!logger.isLevelEnabled(level)) return;
      const line = { req_id: id, method: req.method, path: pathOf(req), status, duration_ms: performance.now() - started, principal: principalOf(res)?.user_id ?? null };
      logger[level](line, 'request');
    });
    next();
  };
}
