/**
 * Helpers of the PostgreSQL store tests: the opt-in switch (TEST_POSTGRES_URL) and throw-away
 * schemas. Every schema made here is named `lifecycle_test_<pid>_<random>` and is dropped by
 * `dropAllSchemas` (call it from afterAll) even when tests failed.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe } from 'vitest';

/** The database the tests use, e.g. postgres://postgres@127.0.0.1:5432/test; unset = skip. */
export const POSTGRES_URL: string | undefined = process.env.TEST_POSTGRES_URL === '' ? undefined : process.env.TEST_POSTGRES_URL;

export const SKIP_NOTICE = 'skipped: set TEST_POSTGRES_URL to run the PostgreSQL store tests';

/** `describe` when TEST_POSTGRES_URL is set; otherwise `describe.skip` with a title saying why (warned once). */
export function describePostgres(title: string, body: () => void): void {
  if (POSTGRES_URL !== undefined) {
    describe(title, body);
    return;
  }
  describe.skip(`${title} (${SKIP_NOTICE})`, body);
}
if (POSTGRES_URL === undefined) console.warn(`PostgreSQL store tests ${SKIP_NOTICE}`);

/** The URL, for code that only runs when the tests are enabled. */
export function url(): string {
  if (POSTGRES_URL === undefined) throw new Error(SKIP_NOTICE);
  return POSTGRES_URL;
}

let admin: pg.Pool | undefined;
const schemas = new Set<string>();

/** A pool for test setup and inspection (not the store under test). */
export function adminPool(): pg.Pool {
  admin ??= new pg.Pool({ connectionString: url(), max: 3 });
  return admin;
}

/** A fresh schema name, registered for dropping; created only when `create` is true (the store creates missing ones itself). */
export async function freshSchema(create = true): Promise<string> {
  const name = `lifecycle_test_${process.pid}_${randomBytes(5).toString('hex')}`;
  schemas.add(name);
  if (create) await adminPool().query(`CREATE SCHEMA ${name}`);
  return name;
}

export async function dropSchema(name: string): Promise<void> {
  await adminPool().query(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
  schemas.delete(name);
}

/** Drops every schema made by `freshSchema` and ends the admin pool. */
export async function dropAllSchemas(): Promise<void> {
  if (admin === undefined) return;
  const failures: unknown[] = [];
  for (const name of [...schemas]) {
    await dropSchema(name).catch((error: unknown) => failures.push(error));
  }
  await admin.end();
  admin = undefined;
  if (failures.length > 0) throw new AggregateError(failures, `could not drop ${failures.length} test schema(s)`);
}
