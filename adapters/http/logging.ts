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

/** Sets X-Request-ID and logs the request when its response finishes (or the client goes away). */
export function requestLogging(logger: Logger, newId: () => string): RequestHandler {
  return (req, res, next) => {
    const header = req.headers['x-request-id'];
    const id = typeof header === 'string' && REQUEST_ID.test(header) ? header : newId();
    res.setHeader('X-Request-ID', id);
    const started = process.hrtime.bigint();
    let logged = false;
    const log = () => {
      if (logged) return;
      logged = true;
      const status = res.writableFinished ? res.statusCode : 499;
      const line = {
        req_id: id,
        method: req.method,
        path: pathOf(req),
        status,
        duration_ms: Number(process.hrtime.bigint() - started) / 1e6,
        principal: principalOf(res)?.user_id ?? null,
      };
      if (status >= 500) logger.error(line, 'request');
      else if (status >= 400) logger.warn(line, 'request');
      else logger.info(line, 'request');
    };
    res.once('finish', log);
    res.once('close', log);
    next();
  };
}
