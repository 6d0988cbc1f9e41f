/**
 * The request side of auth: run the host's authenticator once per request, keep the result on
 * `res.locals`, and refuse (401/403) where a route needs a principal or a permission.
 * Messages are fixed strings: a token never appears in an answer or a log.
 */
import type { RequestHandler, Response } from 'express';
import { isLifecycleError, LifecycleError } from '../errors.js';
import type { Action, Authenticator, AuthorizePolicy, Principal, Resource } from './auth.js';

interface AuthLocals {
  principal?: Principal;
  authFailure?: string;
}

function localsOf(res: Response): AuthLocals {
  return res.locals as AuthLocals;
}

/** The authenticated principal of this request, if any. */
export function principalOf(res: Response): Principal | undefined {
  return localsOf(res).principal;
}

/**
 * Runs `authenticate` and records the principal, or why credentials were refused. Never
 * answers by itself: public routes ignore the outcome, protected ones use `requirePrincipal`.
 */
export function authenticateRequests(authenticate: Authenticator): RequestHandler {
  const record = (res: Response, principal: Principal | undefined) => {
    if (principal !== undefined) localsOf(res).principal = principal;
  };
  const refuse = (res: Response, error: unknown) => {
    localsOf(res).authFailure = isLifecycleError(error, 'UNAUTHENTICATED') ? 'invalid credentials' : 'credentials could not be verified';
  };
  return (req, res, next) => {
    let found: ReturnType<Authenticator>;
    try {
      found = authenticate(req);
    } catch (error) {
      refuse(res, error);
      next();
      return;
    }
    // A synchronous authenticator (static tokens, open) costs no extra turn of the event loop.
    if (!(found instanceof Promise)) {
      record(res, found);
      next();
      return;
    }
    return found.then(
      (principal) => record(res, principal),
      (error: unknown) => refuse(res, error),
    ).then(() => next());
  };
}

/** The principal, or a 401 (with `WWW-Authenticate: Bearer`) naming why there is none. */
export function requirePrincipalOf(res: Response): Principal {
  const principal = principalOf(res);
  if (principal !== undefined) return principal;
  const failure = localsOf(res).authFailure;
  throw new LifecycleError('UNAUTHENTICATED', failure ?? 'authentication required: send "Authorization: Bearer <token>"');
}

/** Middleware form of `requirePrincipalOf`. */
export const requirePrincipal: RequestHandler = (_req, res, next) => {
  requirePrincipalOf(res);
  next();
};

function describe(resource: Resource): string {
  return resource.kind === 'batch' ? `batch "${resource.batch_id}"` : resource.name;
}

/** Throws 403 unless the policy allows `action` on `resource`. */
export async function authorizeOrThrow(policy: AuthorizePolicy, principal: Principal, action: Action, resource: Resource): Promise<void> {
  if (await policy(principal, action, resource)) return;
  throw new LifecycleError('FORBIDDEN', `not allowed to ${action} on ${describe(resource)}`, {
    details: { action, ...(resource.kind === 'batch' ? { batch_id: resource.batch_id } : { resource: resource.name }) },
  });
}
