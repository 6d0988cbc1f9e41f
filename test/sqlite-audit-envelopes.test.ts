/**
 * Audit envelopes kept once (issue #20, SQLite schema 7): a row's envelope does not repeat its
 * columns, and the rows of one event share one envelope. Every reader returns exactly what it
 * returned before: the same scenario on a store that writes envelopes whole (the layout before) and
 * on one that keeps them once gives byte-identical feeds, histories, rebuilt entities and what-if
 * reports; and a file made by the code before (test/fixtures/audit-v6, built by its build.ts from
 * 6df2ff3) reads exactly as that code read it, migrates, and carries on like a file made today.
 */
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fc, test as propertyTest } from '@fast-check/vitest';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeEnvelope, encodeEnvelope } from '../adapters/audit-envelopes.js';
import { defaultMachines } from '../adapters/engine/registry.js';
import { rebuildEntity } from '../adapters/engine/rebuild.js';
import { whatIf } from '../adapters/engine/what-if/index.js';
import { migrations } from '../adapters/sqlite/migrations.js';
import { openSqliteStore, type SqliteStore } from '../adapters/sqlite/store.js';
import type { Json } from '../adapters/store.js';
import { readsOf, type AuditReads } from './fixtures/audit-v6/reads.js';
import { allEvents, fixtureEvents, remainingEvents } from './fixtures/audit-v6/scenario.js';
import { engineOn, FIXED_NOW, openFileStore, PROJECT_ROOT, removeTempDirs, tempDir, type Raw } from './support/reliability-kit.js';

const FIXTURES = join(PROJECT_ROOT, 'test', 'fixtures', 'audit-v6');

afterAll(removeTempDirs);

async function applied(store: SqliteStore, raws: readonly Raw[]): Promise<SqliteStore> {
  const engine = engineOn(store);
  for (const raw of raws) expect((await engine.dispatch(raw)).outcome, String(raw.event_type)).toBe('accepted');
  return store;
}

const memoryStore = (compactAuditEnvelopes: boolean): SqliteStore => openSqliteStore({ path: ':memory:', now: () => new Date(FIXED_NOW), compactAuditEnvelopes });

/** Everything the audit readers give for a store, as JSON text: feed, histories, rebuilt entities, a what-if report. */
async function everyReading(store: SqliteStore): Promise<string> {
  const reads = await readsOf(store);
  const machines = defaultMachines();
  const rebuilt: unknown[] = [];
  for (const key of Object.keys(reads.histories)) {
    const [machine, entity] = key.split('/') as [string, string];
    rebuilt.push(await rebuildEntity(store, machines, machine, entity));
  }
  const report = await whatIf({ store, changed: machines });
  return JSON.stringify({ reads, rebuilt, report });
}

function isAuditRow(value: unknown): value is { position: number; machine: string; machine_version: number | null } {
  return typeof value === 'object' && value !== null && typeof (value as { position?: unknown }).position === 'number' && typeof (value as { machine?: unknown }).machine === 'string';
}

describe('audit envelopes kept once', () => {
  it('every reader returns byte for byte what it returns from envelopes written whole, with less envelope text and shared rows', async () => {
    const whole = await applied(memoryStore(false), allEvents());
    const compact = await applied(memoryStore(true), allEvents());
    expect(await everyReading(compact)).toBe(await everyReading(whole));
    const size = (store: SqliteStore): number => (store.db.prepare('SELECT SUM(length(envelope)) AS n FROM audit').get() as { n: number }).n;
    expect(size(compact)).toBeLessThan(size(whole) * 0.85);
    const shared = compact.db.prepare(`SELECT event_type FROM audit WHERE envelope_of IS NOT NULL`).all() as Array<{ event_type: string }>;
    expect(shared.map((row) => row.event_type)).toContain('huleedu.class.student.associations.confirmed.v1');
    expect(whole.db.prepare('SELECT COUNT(*) AS n FROM audit WHERE envelope_of IS NOT NULL').get()).toEqual({ n: 0 });
  });

  it('a schema-6 file reads exactly as the code that made it read it, migrates, and ends where a file made today ends', async () => {
    const dir = tempDir('audit-v6-');
    const path = join(dir, 'migrated.sqlite');
    copyFileSync(join(FIXTURES, 'schema6.sqlite'), path);
    const migrated = openFileStore(path);
    expect(migrated.db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get()).toEqual({ v: migrations.at(-1)?.version });
    expect(JSON.stringify(await readsOf(migrated))).toBe(readFileSync(join(FIXTURES, 'schema6-reads.json'), 'utf8').trim());
    const upgradedAt = (migrated.db.prepare('SELECT MAX(position) AS p FROM audit').get() as { p: number }).p;
    await applied(migrated, remainingEvents());
    const fresh = await applied(openFileStore(join(dir, 'fresh.sqlite')), [...fixtureEvents(), ...remainingEvents()]);
    // The file's rows keep the machine versions that wrote them; a file made today records today's.
    const today = new Map(Object.values(defaultMachines()).map((machine) => [machine.id, machine.version]));
    const asToday = (reads: AuditReads): AuditReads => JSON.parse(JSON.stringify(reads), (key, value: unknown) =>
      key !== '' && isAuditRow(value) && value.position <= upgradedAt ? { ...value, machine_version: today.get(value.machine) ?? value.machine_version } : value,
    ) as AuditReads;
    expect(JSON.stringify(asToday(await readsOf(migrated)))).toBe(JSON.stringify(await readsOf(fresh)));
    await migrated.close();
    await fresh.close();
  });
});

const columns = fc.record({ event_id: fc.string(), event_type: fc.string(), correlation_id: fc.string(), causation_id: fc.option(fc.string(), { nil: null }) });
/** Envelopes whose repeated fields are sometimes their columns, sometimes other values (0 among them). */
const envelopeFor = (row: { event_id: string; event_type: string; correlation_id: string; causation_id: string | null }) =>
  fc.record(
    {
      event_id: fc.oneof(fc.constant(row.event_id), fc.jsonValue()),
      event_type: fc.oneof(fc.constant(row.event_type), fc.constant(0)),
      data: fc.jsonValue(),
      correlation_id: fc.oneof(fc.constant(row.correlation_id), fc.string()),
      metadata: fc.oneof(fc.record({ causation_id: fc.oneof(fc.constant(row.causation_id), fc.constant(0), fc.string()) }, { requiredKeys: [] }), fc.jsonValue()),
    },
    { requiredKeys: [] },
  );

describe('the envelope codec', () => {
  propertyTest.prop([columns.chain((row) => fc.tuple(fc.constant(row), fc.oneof(envelopeFor(row), fc.jsonValue()))), fc.nat()])(
    'decoding what was encoded gives the same JSON text, key order included',
    ([row, envelope], position) => {
      const text = encodeEnvelope(envelope as Json, row);
      expect(JSON.stringify(decodeEnvelope(text, { ...row, position }))).toBe(JSON.stringify(envelope));
    },
  );

  it('an envelope whose fields are its columns is kept without them; one whose fields differ is kept whole', () => {
    const row = { event_id: 'e-1', event_type: 'huleedu.x.v1', correlation_id: 'c-1', causation_id: 'p-1' };
    const envelope = { event_id: 'e-1', event_type: 'huleedu.x.v1', correlation_id: 'c-1', data: { a: 1 }, metadata: { causation_id: 'p-1', hop: 2 } };
    expect(encodeEnvelope(envelope, row)).toBe('={"event_id":0,"event_type":0,"correlation_id":0,"data":{"a":1},"metadata":{"causation_id":0,"hop":2}}');
    expect(encodeEnvelope({ ...envelope, event_id: 'other' }, row)).toBe(JSON.stringify({ ...envelope, event_id: 'other' }));
  });
});
