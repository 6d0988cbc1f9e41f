/**
 * `createLifecycleRouter(deps)`: the whole HTTP API as one express router, thin over the
 * engine. Order of the middleware: request log and id, drain (503 while shutting down),
 * authentication (recorded, not yet enforced), rate limit per principal, the event stream
 * (exempt from the request timeout), the request timeout, then the routes. Errors raised by
 * the routes are answered by the router's own error handler (errors.ts), so a host can mount
 * the router in its own app.
 */
import { randomUUID } from 'node:crypto';
import { Router, type RequestHandler } from 'express';
import type { RouteChain } from './fast-route.js';
import { defaultAuthorize } from './auth.js';
import { DispatchCoalescer } from './coalesce.js';
import type { HttpContext, LifecycleRouterDeps } from './context.js';
import { RequestDrain } from './drain.js';
import { errorHandler } from './errors.js';
import { authenticateRequests } from './guard.js';
import { rateLimiter, requestTimeout, resolveLimits } from './limits.js';
import { requestLogging } from './logging.js';
import { docRoutes } from './openapi.js';
import { OwnerCache } from './ownership.js';
import { batchRoutes } from './routes-batches.js';
import { eventHandlers } from './routes-events.js';
import { machineRoutes } from './routes-machines.js';
import { operatorRoutes } from './routes-operator.js';
import { readRoutes } from './routes-reads.js';
import { StreamHub, streamRoutes } from './sse.js';

/** The router, with its graceful-shutdown hook. */
export type LifecycleRouter = Router & {
  /** Refuses new requests (503), ends the event streams, resolves when no request is in flight. */
  readonly drain: () => Promise<void>;
  /** Open event streams right now. */
  readonly streamSubscribers: () => number;
  /** `POST /events` as the router runs it (every middleware before it, its handlers, the error handler), for serveInFront. */
  readonly eventsChain: RouteChain;
};

/** Builds the router. Throws INVALID_CONFIGURATION for invalid limits. */
export function createLifecycleRouter(deps: LifecycleRouterDeps): LifecycleRouter {
  const limits = resolveLimits(deps.limits);
  const ctx: HttpContext = {
    engine: deps.engine,
    dispatcher: new DispatchCoalescer(deps.engine, limits.groupCommitEvents),
    queries: deps.queries,
    owners: new OwnerCache(deps.queries),
    logger: deps.logger,
    authorize: deps.authorize ?? defaultAuthorize,
    limits,
    clock: deps.clock ?? (() => new Date()),
    newId: deps.newId ?? randomUUID,
    deadLetters: deps.deadLetters ?? [],
  };
  const hub = new StreamHub(ctx);
  const drain = new RequestDrain();
  const router = Router();
  const front: RequestHandler[] = [requestLogging(ctx.logger, ctx.newId), drain.middleware(), authenticateRequests(deps.authenticate), rateLimiter(ctx.limits)];
  const timeout = requestTimeout(ctx.limits);
  const events = eventHandlers(ctx);
  const onError = errorHandler(ctx.logger);
  for (const middleware of front) router.use(middleware);
  streamRoutes(router, ctx, hub);
  router.use(timeout);
  // One flat router (no nested routers to walk), the intake route first.
  router.post('/events', ...events);
  batchRoutes(router, ctx);
  readRoutes(router, ctx);
  machineRoutes(router, ctx);
  operatorRoutes(router, ctx);
  docRoutes(router, ctx);
  router.use(onError);
  return Object.assign(router, {
    drain: () => drain.drain(() => hub.closeAll()),
    streamSubscribers: () => hub.size,
    eventsChain: { method: 'POST', path: '/events', handlers: [...front, timeout, ...events], onError },
  });
}
