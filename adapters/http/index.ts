/** The HTTP adapter: an express router over the engine, its auth, limits and errors. */
export { createLifecycleRouter, type LifecycleRouter } from './router.js';
export type { EnginePort, LifecycleRouterDeps, QueriesPort } from './context.js';
export {
  ADMIN_ROLE,
  bearerTokenAuthenticator,
  defaultAuthorize,
  isLoopbackHost,
  isOwner,
  MIN_TOKEN_LENGTH,
  openAuthenticator,
  type Action,
  type Authenticator,
  type AuthorizePolicy,
  type AuthRequest,
  OPERATOR_ACTIONS,
  type OperatorAction,
  type Owner,
  type Principal,
  type Resource,
} from './auth.js';
export { DEFAULT_LIMITS, type HttpLimits } from './limits.js';
export { ErrorBody, HTTP_STATUS, HttpOnlyCode, LIMIT_STATUS, LimitKind, type HttpErrorCode } from './errors.js';
export { openApiDocument } from './openapi.js';
export { OPERATIONS, type OperationSpec } from './operations.js';
export type { StreamRow } from './sse.js';
