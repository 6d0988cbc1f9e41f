/**
 * What every route of the HTTP layer works with: the engine and its queries behind small
 * ports (so tests can wrap them), the resolved limits and policy, the clock and id factory.
 */
import type { Logger } from 'pino';
import type { DeadLetterQueue } from '../queue/dead-letters.js';
import type { LifecycleEngine } from '../engine/engine.js';
import type { LifecycleQueries } from '../engine/queries.js';
import type { Authenticator, AuthorizePolicy } from './auth.js';
import type { DispatchCoalescer } from './coalesce.js';
import type { HttpLimits } from './limits.js';
import type { OwnerCache } from './ownership.js';

/** The part of the engine the HTTP layer uses. */
export type EnginePort = Pick<LifecycleEngine, 'prepare' | 'dispatch' | 'dispatchMany' | 'subscribe' | 'machines' | 'force'>;

/** The part of the read side the HTTP layer uses. */
export type QueriesPort = Pick<LifecycleQueries, 'entity' | 'batches' | 'essaysOf' | 'history' | 'counts' | 'auditSince' | 'latestAuditPosition'>;

/** What the host passes to `createLifecycleRouter`. */
export interface LifecycleRouterDeps {
  readonly engine: EnginePort;
  readonly queries: QueriesPort;
  /** A pino logger; the router logs request lines and unexpected errors, never bodies or tokens. */
  readonly logger: Logger;
  /** The host's authenticator (see auth.ts: bearerTokenAuthenticator, openAuthenticator). */
  readonly authenticate: Authenticator;
  /** Replaces the default policy (owner, or role admin). */
  readonly authorize?: AuthorizePolicy;
  /** Overrides of the default limits (limits.ts DEFAULT_LIMITS). */
  readonly limits?: Partial<HttpLimits>;
  /** Event timestamps of the envelopes the batch routes build (default: the system clock). */
  readonly clock?: () => Date;
  /** New uuids for event ids, batch ids and essay ids (default crypto.randomUUID). */
  readonly newId?: () => string;
  /** The dead letters the operator routes list and redrive (embeddedDeadLetters, natsDeadLetters); none by default. */
  readonly deadLetters?: readonly DeadLetterQueue[];
}

/** The resolved dependencies every route handler receives. */
export interface HttpContext {
  readonly engine: EnginePort;
  /** Every dispatch of the routes goes through it: concurrent requests share one commit (coalesce.ts). */
  readonly dispatcher: Pick<DispatchCoalescer, 'dispatch' | 'dispatchMany'>;
  readonly queries: QueriesPort;
  readonly owners: OwnerCache;
  readonly logger: Logger;
  readonly authorize: AuthorizePolicy;
  readonly limits: HttpLimits;
  readonly clock: () => Date;
  readonly newId: () => string;
  readonly deadLetters: readonly DeadLetterQueue[];
}
