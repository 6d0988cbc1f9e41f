/**
 * A test harness for the HTTP layer: an in-memory store and engine, the app with the bearer
 * authenticator and five principals, a pino logger writing into an array, and helpers that
 * drive a batch over HTTP and fingerprint the store (to prove a refusal changed nothing).
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import request from 'supertest';
import { expect } from 'vitest';
import { LifecycleEngine } from '../../adapters/engine/engine.js';
import { LifecycleQueries } from '../../adapters/engine/queries.js';
import { bearerTokenAuthenticator, type Authenticator, type AuthorizePolicy, type Principal } from '../../adapters/http/auth.js';
import type { EnginePort } from '../../adapters/http/context.js';
import type { HttpLimits } from '../../adapters/http/limits.js';
import { createMemoryStore } from '../../adapters/memory/store.js';
import type { DeadLetterQueue } from '../../adapters/queue/dead-letters.js';
import { openSqliteStore } from '../../adapters/sqlite/store.js';
import type { SnapshotStore } from '../../adapters/store.js';
import { createApp } from '../../server/app.js';
import { content, envelope } from '../support/envelopes.js';

/** The principals of the tests. */
export const PRINCIPALS = {
  owner: { user_id: 'teacher-1', org_id: 'school-a', roles: [], kind: 'user' },
  colleague: { user_id: 'teacher-3', org_id: 'school-a', roles: [], kind: 'user' },
  other: { user_id: 'teacher-2', org_id: 'school-b', roles: [], kind: 'user' },
  service: { user_id: 'svc-pipeline', org_id: null, roles: [], kind: 'service' },
  admin: { user_id: 'ops-1', org_id: null, roles: ['admin'], kind: 'user' },
} as const satisfies Record<string, Principal>;
export type Who = keyof typeof PRINCIPALS;

/** Their bearer tokens (each at least 16 characters). */
export const TOKENS: Record<Who, string> = {
  owner: 'owner-token-0123456789abcdef',
  colleague: 'colleague-token-0123456789ab',
  other: 'other-token-0123456789abcdef',
  service: 'service-token-0123456789abcd',
  admin: 'admin-token-0123456789abcdef',
};

/** A token nobody has. */
export const WRONG_TOKEN = 'wrong-token-0123456789abcdef';

/** Authorization header of a principal. */
export function bearer(who: Who): Record<string, string> {
  return { Authorization: `Bearer ${TOKENS[who]}` };
}

export interface HarnessOptions {
  /** Build the engine with `acceptInternalEvents` (a test that plays a sibling machine's role). */
  readonly acceptInternalEvents?: boolean;
  readonly limits?: Partial<HttpLimits>;
  readonly authenticate?: Authenticator;
  readonly authorize?: AuthorizePolicy;
  /** Wraps the engine (e.g. to slow dispatch down). */
  readonly wrapEngine?: (engine: LifecycleEngine) => EnginePort;
  readonly staticDir?: string;
  /** The store behind the engine (default memory; `sqlite` opens `:memory:`). */
  readonly store?: 'memory' | 'sqlite';
  /** The dead-letter queues the app serves, built on the harness's store and engine. */
  readonly deadLetters?: (store: SnapshotStore, engine: LifecycleEngine) => DeadLetterQueue[];
}

/** Everything a test needs. */
export interface Harness {
  readonly app: ReturnType<typeof createApp>;
  readonly store: SnapshotStore;
  readonly engine: LifecycleEngine;
  readonly queries: LifecycleQueries;
  /** Every log line the app wrote (JSON text). */
  readonly logs: string[];
}

/** A fresh store, engine and app. */
export function makeHarness(options: HarnessOptions = {}): Harness {
  const store = options.store === 'sqlite' ? openSqliteStore({ path: ':memory:' }) : createMemoryStore();
  const engine = new LifecycleEngine({ store, invariants: 'refuse', acceptInternalEvents: options.acceptInternalEvents === true });
  const queries = new LifecycleQueries(store);
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      logs.push(chunk.toString('utf8'));
      callback();
    },
  });
  const logger = pino({ level: 'debug' }, sink);
  const authenticate = options.authenticate ?? bearerTokenAuthenticator(Object.entries(PRINCIPALS).map(([who, principal]) => ({ token: TOKENS[who as Who], principal })));
  const app = createApp({
    engine: options.wrapEngine?.(engine) ?? engine,
    queries,
    logger,
    authenticate,
    ...(options.authorize === undefined ? {} : { authorize: options.authorize }),
    ...(options.limits === undefined ? {} : { limits: options.limits }),
    ...(options.staticDir === undefined ? {} : { staticDir: options.staticDir }),
    ...(options.deadLetters === undefined ? {} : { deadLetters: options.deadLetters(store, engine) }),
  });
  return { app, store, engine, queries, logs };
}

/** What the store holds, in numbers: equal fingerprints mean nothing was written. */
export async function fingerprint(store: SnapshotStore): Promise<{ counts: unknown; outbox: number; audit: number }> {
  let audit = 0;
  for (let page = await store.auditSince(0, 1000); page.length > 0; page = await store.auditSince(page.at(-1)?.position ?? 0, 1000)) audit += page.length;
  return { counts: await store.countByStatus(), outbox: await store.outboxCount(), audit };
}

/** Registers a GUEST (or REGULAR with class_id) batch over HTTP as `who`; returns its ids. */
export async function registerBatch(h: Harness, who: Who = 'owner', body: Record<string, unknown> = {}): Promise<{ batch_id: string; essay_ids: string[] }> {
  const res = await request(h.app).post('/batches').set(bearer(who)).send({ expected_essay_count: 2, course_code: 'ENG5', student_prompt_ref: 'prompt-1', ...body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { batch_id: res.body.batch_id as string, essay_ids: res.body.essay_ids as string[] };
}

/** Provisions content for `count` essays of a batch as the service principal (one group commit). */
export async function provisionContent(h: Harness, batchId: string, count = 2): Promise<void> {
  const events = Array.from({ length: count }, (_, index) => content(batchId, `text-${batchId}-${index}`));
  const res = await request(h.app).post('/events').set(bearer('service')).send({ events });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(res.body.summary).toEqual({ accepted: count, refused: 0, duplicate: 0, invalid: 0, deferred: 0 });
}

/** A GUEST batch registered by `who` and ready for a pipeline. */
export async function readyBatch(h: Harness, who: Who = 'owner'): Promise<{ batch_id: string; essay_ids: string[] }> {
  const batch = await registerBatch(h, who);
  await provisionContent(h, batch.batch_id, batch.essay_ids.length);
  return batch;
}

/** A raw BatchEssaysRegistered envelope owned by `user_id`/`org_id`. */
export function rawRegistration(batchId: string, essayIds: readonly string[], owner: { user_id: string; org_id?: string | null }): Record<string, unknown> {
  return envelope('huleedu.batch.essays.registered.v1', {
    entity_id: batchId,
    expected_essay_count: essayIds.length,
    essay_ids: [...essayIds],
    course_code: 'ENG5',
    user_id: owner.user_id,
    ...(owner.org_id === undefined ? {} : { org_id: owner.org_id }),
  });
}

/** The `key` of every item of a JSON array from a response body. */
export function pluck(list: unknown, key: string): unknown[] {
  if (!Array.isArray(list)) throw new Error(`expected an array, got ${JSON.stringify(list)}`);
  return (list as Array<Record<string, unknown>>).map((item) => item[key]);
}
