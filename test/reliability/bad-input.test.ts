/**
 * Bad input: thousands of generated malformed envelopes (seeded) are refused with
 * INVALID_ENVELOPE / UNKNOWN_EVENT_TYPE naming the offending field, and write NOTHING: the
 * database file is byte-for-byte unchanged (WAL checkpointed before and after). Events for a
 * missing entity are refused with ENTITY_NOT_FOUND and change nothing either. dispatchMany
 * answers `invalid` for the same items and still commits the valid ones of the group.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { LifecycleEngine } from '../../adapters/engine/engine.js';
import { deterministicUuid } from '../../adapters/engine/ids.js';
import { LifecycleError } from '../../adapters/errors.js';
import type { SqliteStore } from '../../adapters/sqlite/store.js';
import { definitionOf, parseEnvelope, TOPICS, type ContractIssue } from '../../machines/contracts/events.js';
import { batchResult, content, envelope, pipelineRequest, registration, spellchecked } from '../support/envelopes.js';
import {
  checkpointAndHash,
  engineOn,
  guestBatch,
  openFileStore,
  regularBatchUntilSuggestions,
  removeTempDirs,
  Rng,
  suggestions,
  tempDir,
  validated,
  type Raw,
} from '../support/reliability-kit.js';

const SEED = 0xbad1;
const HUGE = 'x'.repeat(100 * 1024);
const HEADER_REQUIRED = ['event_id', 'event_type', 'event_timestamp', 'source_service', 'correlation_id', 'data'] as const;

type Code = 'INVALID_ENVELOPE' | 'UNKNOWN_EVENT_TYPE';

/** One malformed input and what the engine must say about it. */
interface Case {
  readonly label: string;
  readonly raw: unknown;
  readonly code: Code;
  /** Every issue must be at this path or below it (targeted mutations). */
  readonly path?: string;
  /** These paths must all be among the issues' paths (or have issues below them). */
  readonly includes?: readonly string[];
}

afterAll(removeTempDirs);

// ---------------------------------------------------------------------------------------------
// The database: a GUEST batch in a pipeline and a REGULAR batch waiting for validation.
// ---------------------------------------------------------------------------------------------

let dbPath: string;
let store: SqliteStore;
let engine: LifecycleEngine;

beforeAll(async () => {
  dbPath = join(tempDir('reliability-bad-input-'), 'db.sqlite');
  store = openFileStore(dbPath);
  engine = engineOn(store);
  const guest = guestBatch('bad-input', 'bad-guest', 3);
  for (const raw of guest.slice(0, 5)) expect((await engine.dispatch(raw)).outcome).toBe('accepted');
  for (const raw of regularBatchUntilSuggestions('bad-input', 'bad-regular', 3)) expect((await engine.dispatch(raw)).outcome).toBe('accepted');
});

afterAll(async () => {
  await store.close();
});

// ---------------------------------------------------------------------------------------------
// Valid bases (one per kind of event the scenarios use) and the schema of their data.
// ---------------------------------------------------------------------------------------------

function bases(): Raw[] {
  return [
    registration('new-guest', ['n1', 'n2']),
    registration('new-regular', ['r1'], { class_id: 'class-9', student_prompt_ref: 'p-9' }),
    content('bad-guest', 'text-new'),
    pipelineRequest('bad-guest', 'nlp', { prompt_payload: { cms_prompt_ref: 'prompt-7' } }),
    spellchecked('bad-guest', 'bad-guest-essay-0', true),
    spellchecked('bad-guest', 'bad-guest-essay-1', false),
    batchResult('nlp', 'bad-guest', ['bad-guest-essay-0'], ['bad-guest-essay-1']),
    batchResult('cj_assessment', 'bad-guest', ['bad-guest-essay-0']),
    batchResult('ai_feedback', 'bad-guest', ['bad-guest-essay-0']),
    suggestions('bad-regular', 'class-bad-regular', ['bad-regular-essay-0']),
    validated('bad-regular', ['bad-regular-essay-0']),
    envelope('huleedu.batch.cancel.requested.v1', { batch_id: 'bad-guest', user_id: 'teacher-1', reason: 'no' }),
  ];
}

function shapeOf(topic: string): Record<string, z.ZodType> {
  const data = definitionOf(topic)?.data;
  if (!(data instanceof z.ZodObject)) throw new Error(`data of ${topic} is not an object schema`);
  return data.shape;
}

const isRequired = (schema: z.ZodType): boolean => !schema.safeParse(undefined).success;

function without(record: Record<string, unknown>, key: string): Record<string, unknown> {
  const { [key]: _removed, ...rest } = record;
  return rest;
}

/** Deeply nested junk: objects in arrays in objects, with odd keys and values. */
function garbage(rng: Rng, depth = 4): unknown {
  const leaf = (): unknown => rng.pick([null, 0, -1, 1e308, true, false, '', rng.string(rng.int(1, 20)), '\u0000\uffff', '🙃']);
  if (depth === 0) return leaf();
  switch (rng.int(0, 3)) {
    case 0:
      return Array.from({ length: rng.int(1, 4) }, () => garbage(rng, depth - 1));
    case 1:
      return Object.fromEntries(Array.from({ length: rng.int(1, 4) }, () => [rng.pick(['__proto__x', 'constructor', '$', '', rng.string(5)]), garbage(rng, depth - 1)]));
    default:
      return { nested: { deeper: [garbage(rng, depth - 1), { x: garbage(rng, depth - 1) }] } };
  }
}

/** A string that is certainly not a UUID. */
function notUuid(rng: Rng): string {
  const valid = deterministicUuid(rng.string(8));
  return rng.pick([
    `z${rng.string(rng.int(0, 40))}`,
    valid.slice(0, -1),
    `${valid}0`,
    `{${valid}}`,
    valid.replace(/-/g, ''),
    valid.replace('-', '_'),
    `${valid.slice(0, 9)}g${valid.slice(10)}`,
    ` ${valid}`,
    '',
    HUGE,
  ]);
}

function badTimestamp(rng: Rng): unknown {
  return rng.pick<unknown>([
    '2026-13-01T00:00:00Z',
    '2026-01-32T00:00:00Z',
    '2026-01-01T25:00:00Z',
    '2026-01-01T10:61:00Z',
    '2026-01-01',
    '2026-01-01T10:00:00',
    '2026-01-01 10:00:00Z',
    '01/01/2026 10:00',
    'yesterday',
    'Thu, 01 Jan 2026 10:00:00 GMT',
    `T${rng.string(rng.int(1, 30))}`,
    '',
    HUGE,
    1767261600000,
    true,
    {},
    [],
    null,
  ]);
}

/** Wrong values for a header field (each is invalid for that field). */
function wrongHeaderValues(field: string, rng: Rng): unknown[] {
  const types = [123, -1.5, true, {}, [], garbage(rng)];
  switch (field) {
    case 'event_id':
    case 'correlation_id':
      return [...types, null, notUuid(rng), notUuid(rng), notUuid(rng), HUGE];
    case 'event_type':
      return [...types, null, '', 'x'.repeat(201), HUGE];
    case 'event_timestamp':
      return [...types, null, badTimestamp(rng), badTimestamp(rng), badTimestamp(rng), '2026-02-30T10:00:00Z'];
    case 'source_service':
      return [...types, null, '', 'x'.repeat(201), HUGE];
    case 'schema_version':
      return [2, 0, '1', true, null, [], {}];
    case 'data_schema_uri':
      return [123, true, {}, [], 'u'.repeat(2001), HUGE];
    case 'metadata':
      return [123, true, 'metadata', [1, 2], HUGE, [garbage(rng)]];
    default:
      throw new Error(field);
  }
}

/** Candidate wrong values for a data field; only those its schema rejects are used. */
function wrongDataValues(schema: z.ZodType, rng: Rng): unknown[] {
  const candidates: unknown[] = [123456, -1.5, 2.5, true, 'zz-not-valid', '', [], {}, null, garbage(rng), HUGE, [HUGE], { a: HUGE }, ['x', 1, null]];
  return candidates.filter((value) => !schema.safeParse(value).success);
}

// ---------------------------------------------------------------------------------------------
// The generated cases.
// ---------------------------------------------------------------------------------------------

function generateCases(baseList: readonly Raw[]): Case[] {
  const rng = new Rng(SEED);
  const cases: Case[] = [];
  for (const base of baseList) {
    const parsed = parseEnvelope(base);
    if (!parsed.ok) throw new Error(`base ${String(base.event_type)} is not valid: ${JSON.stringify(parsed.issues)}`);
  }

  // 1. Not an object at all.
  const roots: unknown[] = [null, undefined, true, false, 0, -0, 1, -1, NaN, Infinity, 1e300, '', '{}', JSON.stringify(baseList[0]), [], [baseList[0]], [[[]]], HUGE];
  for (let i = 0; i < 300; i += 1) {
    roots.push(
      rng.pick<unknown>([rng.int(-1e9, 1e9), rng.next() * 1e6, rng.string(rng.int(0, 80)), [garbage(rng)], Array.from({ length: rng.int(0, 5) }, () => rng.int(0, 9))]),
    );
  }
  for (const raw of roots) cases.push({ label: `non-object ${typeof raw}`, raw, code: 'INVALID_ENVELOPE', path: '(root)' });

  for (const base of baseList) {
    const topic = String(base.event_type);
    const data = base.data as Record<string, unknown>;
    // 2. Each required header field removed.
    for (const field of HEADER_REQUIRED) cases.push({ label: `${topic} without ${field}`, raw: without(base, field), code: 'INVALID_ENVELOPE', path: field });
    // 3. Wrong types, bad uuids, bad timestamps, huge strings in the header.
    for (const field of ['event_id', 'correlation_id', 'event_type', 'event_timestamp', 'source_service', 'schema_version', 'data_schema_uri', 'metadata']) {
      for (const value of wrongHeaderValues(field, rng)) {
        cases.push({ label: `${topic} with ${field}=${JSON.stringify(value)?.slice(0, 40)}`, raw: { ...base, [field]: value }, code: 'INVALID_ENVELOPE', path: field });
      }
    }
    // 4. Not an object as data.
    for (const value of [null, 42, 'data', [], true, [data]]) {
      cases.push({ label: `${topic} with data=${JSON.stringify(value).slice(0, 40)}`, raw: { ...base, data: value }, code: 'INVALID_ENVELOPE', path: 'data' });
    }
    // 5. Each required data field removed; wrong, huge and nested values in every data field.
    const shape = shapeOf(topic);
    for (const key of Object.keys(data)) {
      const schema = shape[key];
      if (schema === undefined) continue;
      if (isRequired(schema)) {
        cases.push({ label: `${topic} without data.${key}`, raw: { ...base, data: without(data, key) }, code: 'INVALID_ENVELOPE', path: `data.${key}` });
      }
      for (const value of wrongDataValues(schema, rng)) {
        cases.push({
          label: `${topic} with data.${key}=${JSON.stringify(value).slice(0, 40)}`,
          raw: { ...base, data: { ...data, [key]: value } },
          code: 'INVALID_ENVELOPE',
          path: `data.${key}`,
        });
      }
    }
    // 6. Unknown event types on an otherwise valid envelope.
    for (const type of [`${topic}x`, topic.replace('.v1', '.v9'), topic.toUpperCase(), ` ${topic}`, `${topic} `, 'huleedu', 'x']) {
      cases.push({ label: `unknown type ${type}`, raw: { ...base, event_type: type }, code: 'UNKNOWN_EVENT_TYPE', path: 'event_type' });
    }
  }
  for (let i = 0; i < 300; i += 1) {
    const type = `huleedu.${rng.string(rng.int(1, 150))}.v${rng.int(0, 99)}`;
    cases.push({ label: `unknown type ${type.slice(0, 40)}`, raw: { ...rng.pick(baseList), event_type: type }, code: 'UNKNOWN_EVENT_TYPE', path: 'event_type' });
  }

  // 7. Every topic: a valid header with invalid data.
  for (const topic of TOPICS) {
    const shape = shapeOf(topic);
    const required = Object.keys(shape).filter((key) => isRequired(shape[key]!));
    const header = envelope(topic, {});
    for (const value of [null, 42, 'data', [], true, garbage(rng, 2)]) {
      if (value !== null && typeof value === 'object' && !Array.isArray(value)) continue;
      cases.push({ label: `${topic} with data=${JSON.stringify(value).slice(0, 40)}`, raw: { ...header, data: value }, code: 'INVALID_ENVELOPE', path: 'data' });
    }
    cases.push({ label: `${topic} without data`, raw: without(header, 'data'), code: 'INVALID_ENVELOPE', path: 'data' });
    cases.push({ label: `${topic} with empty data`, raw: header, code: 'INVALID_ENVELOPE', includes: required.map((key) => `data.${key}`) });
    for (const key of required) {
      for (const value of wrongDataValues(shape[key]!, rng).slice(0, 4)) {
        cases.push({ label: `${topic} with only data.${key}=${JSON.stringify(value).slice(0, 30)}`, raw: { ...header, data: { [key]: value } }, code: 'INVALID_ENVELOPE', includes: [`data.${key}`] });
      }
    }
  }

  // 8. Seeded fuzz: one random targeted mutation of a random base, until there are enough.
  while (cases.length < 3600) {
    const base = rng.pick(baseList);
    const topic = String(base.event_type);
    const data = base.data as Record<string, unknown>;
    const shape = shapeOf(topic);
    switch (rng.int(0, 4)) {
      case 0: {
        const field = rng.pick(['event_id', 'correlation_id']);
        cases.push({ label: `fuzz ${field}`, raw: { ...base, [field]: notUuid(rng) }, code: 'INVALID_ENVELOPE', path: field });
        break;
      }
      case 1:
        cases.push({ label: 'fuzz event_timestamp', raw: { ...base, event_timestamp: badTimestamp(rng) }, code: 'INVALID_ENVELOPE', path: 'event_timestamp' });
        break;
      case 2: {
        const key = rng.pick(Object.keys(data).filter((k) => shape[k] !== undefined));
        const values = wrongDataValues(shape[key]!, rng);
        if (values.length > 0) cases.push({ label: `fuzz data.${key}`, raw: { ...base, data: { ...data, [key]: rng.pick(values) } }, code: 'INVALID_ENVELOPE', path: `data.${key}` });
        break;
      }
      case 3:
        cases.push({ label: 'fuzz metadata', raw: { ...base, metadata: rng.pick<unknown>([[garbage(rng)], rng.string(5), rng.int(0, 9)]) }, code: 'INVALID_ENVELOPE', path: 'metadata' });
        break;
      default:
        cases.push({ label: 'fuzz root', raw: garbage(rng, 3), code: 'INVALID_ENVELOPE' });
    }
  }
  return cases;
}

/**
 * Cross-field rules of the contracts: a bad value at the key may also (rightly) be reported at
 * the companion (registration: essay_ids must hold exactly expected_essay_count ids).
 */
const CROSS_FIELD: Readonly<Record<string, readonly string[]>> = {
  'data.expected_essay_count': ['data.essay_ids'],
};

/**
 * The engine's answer for a case: the expected code, and issues naming the targeted field
 * (reported, and nothing else blamed besides its cross-field companions). Fuzzed roots may be
 * objects: then any issue is fine, as long as there is one.
 */
function checkIssues(c: Case, code: string, reported: unknown): string | undefined {
  if (code !== c.code) return `${c.label}: code ${code}, expected ${c.code}`;
  if (!Array.isArray(reported) || reported.length === 0) return `${c.label}: no issues`;
  const issues = reported as ContractIssue[];
  const under = (path: string, prefix: string): boolean => path === prefix || path.startsWith(`${prefix}.`);
  if (c.path !== undefined) {
    const allowed = [c.path, ...(CROSS_FIELD[c.path] ?? [])];
    if (!issues.some((issue) => under(issue.path, c.path!)) || !issues.every((issue) => allowed.some((a) => under(issue.path, a)))) {
      return `${c.label}: issues at ${JSON.stringify(issues.map((i) => i.path))}, expected ${c.path}`;
    }
  }
  for (const expected of c.includes ?? []) {
    if (!issues.some((issue) => under(issue.path, expected))) return `${c.label}: issues ${JSON.stringify(issues.map((i) => i.path))} lack ${expected}`;
  }
  return undefined;
}

/** Valid events for entities that do not exist (none of them can create one). */
function missingEntityEvents(): Array<{ raw: Raw; machine: string; entity_id: string }> {
  return [
    { raw: pipelineRequest('no-such-batch', 'nlp'), machine: 'batch', entity_id: 'no-such-batch' },
    { raw: pipelineRequest('no-such-batch-2', 'cj_assessment'), machine: 'batch', entity_id: 'no-such-batch-2' },
    { raw: spellchecked('no-such-batch', 'no-such-essay', true), machine: 'essay', entity_id: 'no-such-essay' },
    { raw: batchResult('nlp', 'no-such-batch', ['e1']), machine: 'batch_tracker', entity_id: 'no-such-batch' },
    { raw: batchResult('cj_assessment', 'no-such-batch', ['e1']), machine: 'batch_tracker', entity_id: 'no-such-batch' },
    { raw: batchResult('ai_feedback', 'no-such-batch', ['e1']), machine: 'batch_tracker', entity_id: 'no-such-batch' },
    { raw: validated('no-such-batch', ['e1']), machine: 'associations', entity_id: 'no-such-batch' },
    { raw: envelope('huleedu.batch.cancel.requested.v1', { batch_id: 'no-such-batch', user_id: 'u' }), machine: 'batch', entity_id: 'no-such-batch' },
    { raw: envelope('huleedu.batch.close.requested.v1', { batch_id: 'no-such-batch', user_id: 'u' }), machine: 'batch', entity_id: 'no-such-batch' },
    { raw: envelope('huleedu.batch.prompt.attached.v1', { batch_id: 'no-such-batch', user_id: 'u', student_prompt_ref: 'p' }), machine: 'batch', entity_id: 'no-such-batch' },
  ];
}

const BASES = bases();
const CASES = generateCases(BASES);

const counts = (s: SqliteStore): Record<string, number> =>
  Object.fromEntries(
    ['entities', 'audit', 'outbox', 'inbox', 'timers'].map((table) => [table, (s.db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n]),
  );

describe('malformed input', () => {
  it(`generates >= 3,000 malformed envelopes covering every topic (${CASES.length})`, () => {
    expect(CASES.length).toBeGreaterThanOrEqual(3000);
    const topicsCovered = new Set(CASES.map((c) => (c.raw as { event_type?: unknown } | null)?.event_type));
    for (const topic of TOPICS) expect(topicsCovered.has(topic), topic).toBe(true);
  });

  it('dispatch rejects every one with INVALID_ENVELOPE / UNKNOWN_EVENT_TYPE naming the field, and the file stays byte-for-byte unchanged', async () => {
    const before = checkpointAndHash(store, dbPath);
    const countsBefore = counts(store);
    expect(statSync(`${dbPath}-wal`).size).toBe(0);
    const problems: string[] = [];
    for (const c of CASES) {
      const error: unknown = await engine.dispatch(c.raw).then(
        () => new Error('resolved'),
        (e: unknown) => e,
      );
      if (!(error instanceof LifecycleError)) {
        problems.push(`${c.label}: ${error instanceof Error ? error.message : String(error)}`);
        continue;
      }
      const problem = checkIssues(c, error.code, error.details.issues);
      if (problem !== undefined) problems.push(problem);
      // The error stays small whatever the input (no 100 KB values echoed back).
      if (error.message.length > 4000) problems.push(`${c.label}: message of ${error.message.length} characters`);
    }
    for (const missing of missingEntityEvents()) {
      const error: unknown = await engine.dispatch(missing.raw).then(
        () => new Error('resolved'),
        (e: unknown) => e,
      );
      if (!(error instanceof LifecycleError) || error.code !== 'ENTITY_NOT_FOUND') {
        problems.push(`${String(missing.raw.event_type)} for a missing entity: ${String(error)}`);
      } else if (error.details.machine !== missing.machine || error.details.entity_id !== missing.entity_id) {
        problems.push(`${String(missing.raw.event_type)}: ENTITY_NOT_FOUND names ${JSON.stringify(error.details)}`);
      }
    }
    expect(problems.slice(0, 20)).toEqual([]);
    // Nothing was even written to the WAL; the checkpointed file is identical.
    expect(statSync(`${dbPath}-wal`).size).toBe(0);
    expect(counts(store)).toEqual(countsBefore);
    expect(checkpointAndHash(store, dbPath)).toBe(before);
  });

  it('dispatchMany answers invalid for the same items (same code and path) and commits the valid items of each group', async () => {
    const rng = new Rng(SEED + 1);
    const missing = missingEntityEvents();
    const problems: string[] = [];
    const validIds: string[] = [];
    const before = counts(store);
    let group = 0;
    for (let start = 0; start < CASES.length; start += 60, group += 1) {
      const slice = CASES.slice(start, start + 60);
      const batchId = `many-${group}`;
      const valid = guestBatch('bad-input-many', batchId, 1).slice(0, 2);
      const notFound = missing[group % missing.length]!;
      type Item = { kind: 'case'; c: Case } | { kind: 'valid'; raw: Raw } | { kind: 'missing'; raw: Raw };
      const items: Item[] = rng.shuffle<Item>([...slice.map((c) => ({ kind: 'case' as const, c })), { kind: 'missing', raw: notFound.raw }]);
      // Valid items keep their order (registration before content) at seeded places.
      const first = rng.int(0, items.length);
      items.splice(rng.int(first, items.length), 0, { kind: 'valid', raw: valid[1]! });
      items.splice(first, 0, { kind: 'valid', raw: valid[0]! });
      const answers = await engine.dispatchMany(items.map((item) => (item.kind === 'case' ? item.c.raw : item.raw)));
      items.forEach((item, index) => {
        const answer = answers[index];
        if (answer === undefined) return void problems.push(`group ${group} #${index}: no answer`);
        if (item.kind === 'valid') {
          if (answer.outcome !== 'accepted') problems.push(`group ${group} #${index}: valid item answered ${JSON.stringify(answer).slice(0, 300)}`);
          validIds.push(String(item.raw.event_id));
          return;
        }
        if (answer.outcome !== 'invalid' || answer.index !== index) return void problems.push(`group ${group} #${index}: answered ${answer.outcome}`);
        if (item.kind === 'missing') {
          if (answer.code !== 'ENTITY_NOT_FOUND') problems.push(`group ${group} #${index}: missing entity answered ${answer.code}`);
          return;
        }
        const problem = checkIssues(item.c, answer.code, answer.details.issues);
        if (problem !== undefined) problems.push(`group ${group}: ${problem}`);
      });
    }
    expect(problems.slice(0, 20)).toEqual([]);
    // The valid items committed (each group's batch registered and its single essay provisioned) ...
    const batches = store.db.prepare("SELECT entity_id, status FROM entities WHERE machine = 'batch' AND entity_id LIKE 'many-%'").all() as Array<{ status: string }>;
    expect(batches).toHaveLength(group);
    expect(batches.every((b) => b.status === 'ready_for_pipeline_execution')).toBe(true);
    const inbox = store.db.prepare('SELECT event_id FROM inbox').all() as Array<{ event_id: string }>;
    const inboxIds = new Set(inbox.map((r) => r.event_id));
    expect(validIds.filter((id) => !inboxIds.has(id))).toEqual([]);
    // ... and nothing of the invalid or missing-entity items did.
    const refusedIds = new Set([...BASES, ...missing.map((m) => m.raw)].map((raw) => String(raw.event_id)));
    expect([...refusedIds].filter((id) => inboxIds.has(id))).toEqual([]);
    const after = counts(store);
    expect(after.timers).toBe(before.timers);
    expect(store.db.prepare("SELECT COUNT(*) AS n FROM audit WHERE entity_id LIKE 'no-such-%'").get()).toEqual({ n: 0 });
  });
});
