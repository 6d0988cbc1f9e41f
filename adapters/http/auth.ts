/**
 * Who is calling (authentication) and what they may do (authorization). The library never
 * invents identities: the host supplies `authenticate`; we ship one real implementation
 * (static bearer tokens compared in constant time) and an open one for loopback demos.
 *
 * Ownership rule (the default policy): a batch belongs to the user_id and org_id it was
 * registered with. A principal may read and write a batch when it has the same user_id, or
 * when both it and the batch have a non-null org_id and they are equal (colleagues of one
 * school share batches), or when it has the role `admin`. Service principals may dispatch
 * raw events for any batch (they are the downstream services and queue workers) but use the
 * batch routes only for batches they own. Hosts replace the rule with their own `authorize`.
 *
 * Sender classes come first and are not part of the replaceable policy: internal and timer
 * events are refused by the engine for everyone, service results are taken only from service
 * (or local) principals, client commands from users for their own batches (services relay them).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';
import { z } from 'zod';
import { LifecycleError } from '../errors.js';

/** An authenticated caller. */
export interface Principal {
  readonly user_id: string;
  /** The organisation (school) of the caller, or null for individual accounts. */
  readonly org_id: string | null;
  /** Roles; the default policy knows only `admin`. */
  readonly roles: readonly string[];
  /**
   * `user`: a person (teacher); `service`: a downstream service or queue worker; `local`: the
   * loopback demo's principal (no tokens), which acts as a user and as a service.
   */
  readonly kind: 'user' | 'service' | 'local';
}

/** What an authenticator sees of a request (express's Request fits). */
export interface AuthRequest {
  readonly headers: IncomingHttpHeaders;
}

/**
 * Supplied by the host. Returns the principal, `undefined` when the request carries no
 * credentials, or throws when it carries credentials that are not valid (never echo them).
 */
export type Authenticator = (req: AuthRequest) => Principal | undefined | Promise<Principal | undefined>;

/** What a principal wants to do. */
export type Action = 'batch.create' | 'batch.read' | 'batch.write' | 'events.dispatch' | 'stream.read' | 'counts.read' | OperatorAction;

/** The operator controls (forced transitions, dead letters): admin only under the default policy. */
export const OPERATOR_ACTIONS = ['operator.force', 'operator.dead_letters.read', 'operator.dead_letters.redrive'] as const;
export type OperatorAction = (typeof OPERATOR_ACTIONS)[number];

/** The owner of a batch: the identity it was registered with. */
export interface Owner {
  readonly user_id: string;
  readonly org_id: string | null;
}

/** What an action is about: one batch (owner null when unknown), or the system as a whole. */
export type Resource =
  | { readonly kind: 'batch'; readonly batch_id: string; readonly owner: Owner | null }
  | { readonly kind: 'system'; readonly name: 'counts' | 'stream' | 'operator' };

/** Decides whether `principal` may do `action` on `resource`. Hosts may replace it. */
export type AuthorizePolicy = (principal: Principal, action: Action, resource: Resource) => boolean | Promise<boolean>;

/** The role that may read and write everything under the default policy. */
export const ADMIN_ROLE = 'admin';

/** True when the principal may send service results and relay commands for any batch (a service, or the local demo principal). */
export function actsAsService(principal: Principal): boolean {
  return principal.kind === 'service' || principal.kind === 'local';
}

/** True when the principal owns the batch: same user, or same non-null organisation. */
export function isOwner(principal: Principal, owner: Owner | null): boolean {
  if (owner === null) return false;
  if (owner.user_id === principal.user_id) return true;
  return owner.org_id !== null && principal.org_id !== null && owner.org_id === principal.org_id;
}

/**
 * The default policy: admins may do everything, and only admins use the operator controls
 * (OPERATOR_ACTIONS); any principal may create batches, read the aggregate counts and open the
 * stream (whose rows are filtered per batch); service principals may dispatch raw events for
 * any batch; everything else needs ownership.
 */
export const defaultAuthorize: AuthorizePolicy = (principal, action, resource) => {
  if (principal.roles.includes(ADMIN_ROLE)) return true;
  if ((OPERATOR_ACTIONS as readonly string[]).includes(action)) return false;
  if (resource.kind === 'system') return true;
  if (action === 'batch.create') return true;
  if (action === 'events.dispatch' && actsAsService(principal)) return true;
  return isOwner(principal, resource.owner);
};

const PrincipalSchema = z.object({
  user_id: z.string().min(1).max(255),
  org_id: z.string().min(1).max(255).nullable(),
  roles: z.array(z.string().min(1).max(100)).max(100),
  kind: z.enum(['user', 'service']),
});

/** The open authenticator's principal may also be `local` (user and service at once, loopback only). */
const OpenPrincipalSchema = PrincipalSchema.extend({ kind: z.enum(['user', 'service', 'local']) });

/** The shortest bearer token `bearerTokenAuthenticator` accepts (guessable tokens are refused). */
export const MIN_TOKEN_LENGTH = 16;

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

function unauthenticated(message: string): LifecycleError {
  return new LifecycleError('UNAUTHENTICATED', message);
}

/** The token of an `Authorization: Bearer <token>` header; undefined when there is no header. */
function bearerOf(headers: IncomingHttpHeaders): string | undefined {
  const header = headers.authorization;
  if (header === undefined || header === '') return undefined;
  const match = /^Bearer[ ]+([A-Za-z0-9._~+/=-]+)[ ]*$/i.exec(header);
  if (match?.[1] === undefined) throw unauthenticated('the Authorization header must be "Bearer <token>"');
  return match[1];
}

/**
 * Static bearer tokens, each mapped to a principal. Tokens are compared as SHA-256 digests with
 * `crypto.timingSafeEqual`, against every configured token (no early exit), so the time taken
 * tells nothing about how close a guess was. A request without an Authorization header is
 * anonymous (undefined); a wrong or malformed one throws UNAUTHENTICATED. Throws
 * INVALID_CONFIGURATION for tokens shorter than 16 characters, duplicates or bad principals.
 */
export function bearerTokenAuthenticator(tokens: ReadonlyArray<{ readonly token: string; readonly principal: Principal }>): Authenticator {
  const entries = tokens.map(({ token, principal }, index) => {
    if (typeof token !== 'string' || token.length < MIN_TOKEN_LENGTH || !/^[A-Za-z0-9._~+/=-]+$/.test(token)) {
      throw new LifecycleError('INVALID_CONFIGURATION', `bearer token #${index} must be at least ${MIN_TOKEN_LENGTH} characters of [A-Za-z0-9._~+/=-]`, { details: { index } });
    }
    const parsed = PrincipalSchema.safeParse(principal);
    if (!parsed.success) throw new LifecycleError('INVALID_CONFIGURATION', `principal of bearer token #${index} is invalid`, { details: { index } });
    return { hash: digest(token), principal: Object.freeze({ ...parsed.data, roles: Object.freeze([...parsed.data.roles]) }) };
  });
  const hashes = new Set(entries.map((entry) => entry.hash.toString('hex')));
  if (hashes.size !== entries.length) throw new LifecycleError('INVALID_CONFIGURATION', 'bearer tokens must be distinct');
  return (req) => {
    const token = bearerOf(req.headers);
    if (token === undefined) return undefined;
    const candidate = digest(token);
    let found: Principal | undefined;
    for (const entry of entries) {
      if (timingSafeEqual(entry.hash, candidate)) found = entry.principal;
    }
    if (found === undefined) throw unauthenticated('invalid bearer token');
    return found;
  };
}

/**
 * Every request is `principal`, credentials or not. For loopback demos only: the host must
 * refuse it when listening on a non-loopback address (see `isLoopbackHost`).
 */
export function openAuthenticator(principal: Principal): Authenticator {
  const parsed = OpenPrincipalSchema.safeParse(principal);
  if (!parsed.success) throw new LifecycleError('INVALID_CONFIGURATION', 'the open principal is invalid');
  const frozen: Principal = Object.freeze({ ...parsed.data, roles: Object.freeze([...parsed.data.roles]) });
  return () => frozen;
}

/**
 * True when `host` names only the local machine: `localhost`, an IPv4 address in 127.0.0.0/8,
 * `::1` (with or without brackets) or an IPv4-mapped 127.x address. `0.0.0.0`, `::`, empty
 * strings and every other name are not loopback (they may be reachable from elsewhere).
 */
export function isLoopbackHost(host: string): boolean {
  let name = host.trim().toLowerCase();
  if (name.startsWith('[') && name.endsWith(']')) name = name.slice(1, -1);
  if (name === 'localhost') return true;
  if (name.startsWith('::ffff:')) name = name.slice('::ffff:'.length);
  switch (isIP(name)) {
    case 4:
      return name.split('.')[0] === '127';
    case 6:
      return /^(0{0,4}:){2,7}0{0,3}1$/.test(name) || name === '::1';
    default:
      return false;
  }
}
