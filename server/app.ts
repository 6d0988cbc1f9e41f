/**
 * `createApp(deps)`: the express application of the server: security headers (helmet), the
 * lifecycle router (adapters/http), the demo page when `staticDir` is given, and JSON answers
 * for unknown routes and errors. Reads no environment and does not listen: server/main.ts does.
 */
import type { Server } from 'node:http';
import express, { type RequestHandler } from 'express';
import helmet from 'helmet';
import type { LifecycleRouterDeps } from '../adapters/http/context.js';
import { errorHandler, HttpError } from '../adapters/http/errors.js';
import { serveInFront } from '../adapters/http/fast-route.js';
import { createLifecycleRouter } from '../adapters/http/router.js';

/** What the host passes to `createApp`. */
export interface AppDeps extends LifecycleRouterDeps {
  /** Directory of the demo page; served at `/` when given. */
  readonly staticDir?: string;
}

/** The locals `createApp` sets on the app. */
export interface AppLocals {
  /** Refuses new requests (503), ends the event streams, resolves when no request is in flight. */
  drain: () => Promise<void>;
}

/**
 * helmet's default security headers, worked out once: helmet's middleware runs against a
 * recorder at startup and each request gets the recorded headers in one loop (the same names
 * and values, without a dozen middleware calls per request). helmet's defaults are static
 * strings; nothing depends on the request.
 */
export function securityHeaders(): RequestHandler {
  const headers = new Map<string, string>();
  const recorder = {
    setHeader: (name: string, value: unknown) => headers.set(name, String(value)),
    removeHeader: (name: string) => headers.delete(name),
  };
  let failure: unknown;
  helmet()({} as never, recorder as never, (error?: unknown) => {
    failure = error;
  });
  if (failure !== undefined) throw failure instanceof Error ? failure : new Error('helmet refused its default options');
  const list = [...headers];
  return (_req, res, next) => {
    for (const [name, value] of list) res.setHeader(name, value);
    next();
  };
}

/** Builds the app. Throws INVALID_CONFIGURATION for invalid limits. */
export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  const headers = securityHeaders();
  app.use(headers);
  const router = createLifecycleRouter(deps);
  app.use(router);
  // POST /events skips express's router walk, same handlers in the same order (earns ~9% CPU per request, paired A/B, issue #18).
  serveInFront(app, { ...router.eventsChain, handlers: [headers, ...router.eventsChain.handlers] });
  if (deps.staticDir !== undefined) {
    const staticDir = deps.staticDir;
    app.use(express.static(staticDir, { index: 'index.html', dotfiles: 'ignore' }));
    // Browsers (and the /docs page) ask for /favicon.ico whatever the page links: the demo's icon, not a 404.
    app.get('/favicon.ico', (_req, res) => res.type('image/svg+xml').sendFile('favicon.svg', { root: staticDir }));
  }
  app.use((req, _res, next) => {
    next(new HttpError('ROUTE_NOT_FOUND', `no route ${req.method} ${req.path.slice(0, 200)}`));
  });
  app.use(errorHandler(deps.logger));
  (app.locals as AppLocals).drain = router.drain;
  return app;
}

/**
 * Stops `server` gracefully: it stops accepting connections, the app refuses new requests and
 * ends its event streams, requests in flight (and their commits) finish, idle keep-alive
 * connections are closed; after `graceMs` (default 10 s) remaining connections are cut.
 */
export async function gracefulClose(server: Server, app: express.Express, options: { graceMs?: number } = {}): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  const force = setTimeout(() => server.closeAllConnections(), options.graceMs ?? 10_000);
  force.unref();
  try {
    await (app.locals as AppLocals).drain();
    server.closeIdleConnections();
    await closed;
  } finally {
    clearTimeout(force);
  }
}
