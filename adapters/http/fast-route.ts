/**
 * One route served without express's router: the same handler functions the router mounts for
 * it (request log, drain, auth, rate limit, timeout, body, route), called in the same order with
 * express's own request and response objects, and errors answered by the router's own error
 * handler. What is skipped is only the router's walk (a path match and a `next` per layer).
 * Everything that is not exactly `METHOD path` (or `path?query`) falls through to express.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ErrorRequestHandler, Express, Request, RequestHandler, Response } from 'express';
import { HttpError } from './errors.js';

/** The handlers of one route, in the order the router runs them, and the handler of their errors. */
export interface RouteChain {
  readonly method: string;
  readonly path: string;
  readonly handlers: readonly RequestHandler[];
  readonly onError: ErrorRequestHandler;
}

/** express's `app.handle` (not in its type declarations): what the app function calls for every request. */
type ExpressHandle = (req: IncomingMessage, res: ServerResponse, callback?: unknown) => void;

/** True when `url` is `path` itself, or `path` with a query string. */
function isPath(url: string | undefined, path: string): boolean {
  return url !== undefined && url.startsWith(path) && (url.length === path.length || url.charCodeAt(path.length) === 63 /* ? */);
}

/** Calls `handlers` in turn like express does: `next(error)`, a throw or a rejected promise goes to `onError`. */
export function runChain(chain: RouteChain, req: Request, res: Response): void {
  let index = 0;
  const fail = (error: unknown): void => {
    try {
      chain.onError(error, req, res, () => undefined);
    } catch {
      res.destroy();
    }
  };
  const next = (error?: unknown): void => {
    if (error !== undefined && error !== null && error !== false) return fail(error);
    const handler = chain.handlers[index];
    index += 1;
    if (handler === undefined) return fail(new HttpError('INTERNAL_ERROR', `${chain.method} ${chain.path} ended without an answer`));
    try {
      const result: unknown = handler(req, res, next);
      if (result instanceof Promise) result.then(undefined, (reason: unknown) => next(reason ?? new Error('Rejected promise')));
    } catch (caught) {
      next(caught ?? new Error('thrown undefined'));
    }
  };
  next();
}

/**
 * Serves `chain` in front of `app`'s router: the request and response get what express's
 * `app.handle` gives them (its prototypes, `res.locals`, the cross references) and the chain
 * runs; any other request goes to express unchanged. A mounted sub-app (called with a `next`)
 * is never short-cut.
 */
export function serveInFront(app: Express, chain: RouteChain): void {
  const express = app as unknown as { handle: ExpressHandle };
  const handle = express.handle.bind(app);
  const expressHandle = (req: IncomingMessage, res: ServerResponse, callback?: unknown): void => {
    if (callback !== undefined || req.method !== chain.method || !isPath(req.url, chain.path)) return handle(req, res, callback);
    const request = Object.setPrototypeOf(req, app.request) as Request;
    const response = Object.setPrototypeOf(res, app.response) as Response;
    request.res = response;
    response.req = request;
    response.locals = Object.create(null) as Response['locals'];
    request.originalUrl = req.url ?? chain.path;
    request.baseUrl = '';
    if (app.enabled('x-powered-by')) response.setHeader('X-Powered-By', 'Express');
    runChain(chain, request, response);
  };
  express.handle = expressHandle;
}
