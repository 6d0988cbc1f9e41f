/**
 * Shared helpers of the reliability suite (test/reliability): a seeded PRNG, temp files,
 * deterministic workloads and scenarios, database dumps for comparing two runs, and a
 * small harness for child processes (spawn, line-by-line output, bounded waits).
 */
import { SqliteParts, type StoredEntityRow } from '../../adapters/sqlite/parts.js';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LifecycleEngine } from '../../adapters/engine/engine.js';
import { deterministicUuid } from '../../adapters/engine/ids.js';
import type { MachineRegistry } from '../../adapters/engine/registry.js';
import { openSqliteStore, type SqliteStore } from '../../adapters/sqlite/store.js';
import { batchResult, content, envelope, pipelineRequest, registration, spellchecked } from './envelopes.js';

/** Root of the project (children run with this cwd so `--import tsx` resolves). */
export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The producer child script. */
export const PRODUCER = join(PROJECT_ROOT, 'test', 'support', 'reliability-producer.ts');
/** Default clock of every engine and store of the suite. */
export const FIXED_NOW = '2026-01-01T12:00:00.000Z';

export type Raw = Record<string, unknown>;

// ---------------------------------------------------------------------------------------------
// Seeded randomness
// ---------------------------------------------------------------------------------------------

/** A small deterministic PRNG (mulberry32). */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [lo, hi] (both inclusive). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.int(0, items.length - 1)]!;
  }

  /** A shuffled copy (Fisher-Yates). */
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i -= 1) {
      const j = this.int(0, i);
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }

  /** A random string of `length` characters from `alphabet`. */
  string(length: number, alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789-_.'): string {
    let s = '';
    for (let i = 0; i < length; i += 1) s += alphabet[this.int(0, alphabet.length - 1)];
    return s;
  }
}

// ---------------------------------------------------------------------------------------------
// Temp files and stores
// ---------------------------------------------------------------------------------------------

const tempDirs: string[] = [];

/** A fresh temp directory (fs.mkdtempSync under os.tmpdir()); removed by `removeTempDirs`. */
export function tempDir(prefix = 'reliability-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/** Removes every directory `tempDir` created in this process. */
export function removeTempDirs(): void {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** A SQLite store on `path`, synchronous FULL, with a fixed clock. */
export function openFileStore(path: string, now: string = FIXED_NOW): SqliteStore {
  return openSqliteStore({ path, synchronous: 'FULL', now: () => new Date(now) });
}

/** An engine over `store` with a fixed clock. */
export function engineOn(store: SqliteStore, now: string = FIXED_NOW, machines?: MachineRegistry): LifecycleEngine {
  return new LifecycleEngine({ store, clock: () => new Date(now), invariants: 'refuse', ...(machines === undefined ? {} : { machines }) });
}

/** Checkpoints the WAL into the main file (TRUNCATE) and returns the SHA-256 of the main file. */
export function checkpointAndHash(store: SqliteStore, path: string): string {
  store.db.pragma('wal_checkpoint(TRUNCATE)');
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Writes envelopes as JSONL. */
export function writeJsonl(path: string, items: readonly unknown[]): void {
  writeFileSync(path, `${items.map((item) => JSON.stringify(item)).join('\n')}\n`);
}

/** `iso` plus `ms` milliseconds, as ISO. */
export function plusMs(iso: string, ms: number): string {
  return new Date(new Date(iso).getTime() + ms).toISOString();
}

// ---------------------------------------------------------------------------------------------
// Workloads and scenarios (deterministic ids, valid per-batch order)
// ---------------------------------------------------------------------------------------------

const BASE_TIME = Date.parse('2026-01-01T08:00:00.000Z');

/** Gives a batch's envelopes deterministic ids, one correlation id and increasing timestamps. */
function stamp(namespace: string, batchId: string, raws: readonly Raw[]): Raw[] {
  const correlation_id = deterministicUuid(`reliability:correlation:${namespace}:${batchId}`);
  return raws.map((raw, step) => ({
    ...raw,
    event_id: deterministicUuid(`reliability:event:${namespace}:${batchId}:${step}`),
    correlation_id,
    event_timestamp: new Date(BASE_TIME + step * 60_000).toISOString(),
  }));
}

/** Essay ids of a batch. */
export function essayIdsOf(batchId: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${batchId}-essay-${i}`);
}

/**
 * A GUEST batch through the two-phase `nlp` pipeline (spellcheck, then nlp): registration,
 * one content per essay, the pipeline request, one spellcheck result per essay (the `failing`
 * ones fail) and the nlp result for the survivors.
 */
export function guestBatch(namespace: string, batchId: string, essayCount: number, failing: readonly string[] = []): Raw[] {
  const essays = essayIdsOf(batchId, essayCount);
  const survivors = essays.filter((e) => !failing.includes(e));
  return stamp(namespace, batchId, [
    registration(batchId, essays, { student_prompt_ref: `prompt-${batchId}` }),
    ...essays.map((e) => content(batchId, `text-${e}`)),
    pipelineRequest(batchId, 'nlp'),
    ...essays.map((e) => spellchecked(batchId, e, !failing.includes(e))),
    batchResult('nlp', batchId, survivors),
  ]);
}

/** BatchAuthorMatchesSuggestedV1 for a REGULAR batch (the last essay gets a low-confidence match). */
export function suggestions(batchId: string, classId: string, essays: readonly string[]): Raw {
  return envelope('huleedu.batch.author.matches.suggested.v1', {
    batch_id: batchId,
    class_id: classId,
    course_code: 'ENG5',
    match_results: essays.map((essay_id, i) => ({
      essay_id,
      suggestions: [{ student_id: `student-${essay_id}`, student_name: `Student ${i}`, confidence_score: i === essays.length - 1 ? 0.4 : 0.9 }],
    })),
  });
}

/** StudentAssociationsValidatedV1: a person confirms every essay but the `rejected` ones. */
export function validated(batchId: string, essays: readonly string[], rejected: readonly string[] = []): Raw {
  return envelope('huleedu.class.student.associations.validated.v1', {
    batch_id: batchId,
    user_id: 'teacher-1',
    associations: essays.map((essay_id) => ({ essay_id, student_id: `student-${essay_id}`, confirmed: !rejected.includes(essay_id) })),
  });
}

/**
 * The unstamped events of a REGULAR batch: registration, content, suggestions, human validation
 * (one essay rejected), then the `nlp` pipeline with every essay succeeding; and how many of them
 * reach the suggestions.
 */
function regularSteps(batchId: string, essayCount: number): { steps: Raw[]; untilSuggestions: number } {
  const essays = essayIdsOf(batchId, essayCount);
  const classId = `class-${batchId}`;
  const untilSuggestions = [
    registration(batchId, essays, { class_id: classId, student_prompt_ref: `prompt-${batchId}` }),
    ...essays.map((e) => content(batchId, `text-${e}`)),
    suggestions(batchId, classId, essays),
  ];
  const rest = [
    validated(batchId, essays, essays.slice(0, 1)),
    pipelineRequest(batchId, 'nlp'),
    ...essays.map((e) => spellchecked(batchId, e, true)),
    batchResult('nlp', batchId, essays),
  ];
  return { steps: [...untilSuggestions, ...rest], untilSuggestions: untilSuggestions.length };
}

/** A REGULAR batch up to (and including) the suggestions: the 24 h association timer is armed then. */
export function regularBatchUntilSuggestions(namespace: string, batchId: string, essayCount: number): Raw[] {
  const { steps, untilSuggestions } = regularSteps(batchId, essayCount);
  return stamp(namespace, batchId, steps.slice(0, untilSuggestions));
}

/** A REGULAR batch, start to finish (see `regularSteps`); its first events are `regularBatchUntilSuggestions`'s. */
export function regularBatch(namespace: string, batchId: string, essayCount: number): Raw[] {
  return stamp(namespace, batchId, regularSteps(batchId, essayCount).steps);
}

/**
 * Merges per-batch streams into one: at each step a random stream among the first `window`
 * unfinished ones gives its next envelope, so per-batch order holds and batches interleave.
 */
export function interleave<T>(streams: readonly (readonly T[])[], rng: Rng, window = Number.POSITIVE_INFINITY): T[] {
  const pending = streams.map((s) => ({ items: s, at: 0 })).filter((s) => s.items.length > 0);
  const out: T[] = [];
  while (pending.length > 0) {
    const slot = rng.int(0, Math.min(window, pending.length) - 1);
    const stream = pending[slot]!;
    out.push(stream.items[stream.at]!);
    stream.at += 1;
    if (stream.at === stream.items.length) pending.splice(slot, 1);
  }
  return out;
}

/**
 * The crash workload: `batches` GUEST batches of 4 essays through the nlp pipeline (every
 * 7th batch with one failing essay), interleaved in a window of 8 batches. 11 envelopes per batch.
 */
export function crashWorkload(batches: number, seed: number): Raw[] {
  const rng = new Rng(seed);
  const streams = Array.from({ length: batches }, (_, i) => {
    const batchId = `crash-${String(i).padStart(5, '0')}`;
    return guestBatch('crash', batchId, 4, i % 7 === 3 ? [`${batchId}-essay-${i % 4}`] : []);
  });
  return interleave(streams, rng, 8);
}

// ---------------------------------------------------------------------------------------------
// Database dumps
// ---------------------------------------------------------------------------------------------

export interface EntityRow {
  machine: string;
  entity_id: string;
  status: string;
  snapshot: string;
  version: number;
  machine_version: number;
}

export interface AuditRow {
  position: number;
  event_id: string;
  event_type: string;
  machine: string;
  entity_id: string;
  from_status: string | null;
  to_status: string | null;
  outcome: string;
  entity_version: number | null;
}

/** Everything two runs of one workload must agree on (timestamps and positions excluded). */
export interface DbDump {
  entities: EntityRow[];
  outbox: Array<{ event_id: string; event_type: string; envelope: string }>;
  audit: AuditRow[];
  inbox: Array<{ event_id: string; result: string }>;
  timers: Array<{ timer_id: string; due_at: string; fired: number }>;
}

/** Reads the comparable content of a database (through an open store's handle). */
export function dumpStore(store: SqliteStore): DbDump {
  const db = store.db;
  const parts = new SqliteParts(db);
  return {
    // Whole snapshots (context parts joined back in), comparable with a store that keeps one row.
    entities: (
      db
        .prepare(
          'SELECT machine, entity_id, parent_id, status, snapshot, version, machine_version, created_at, updated_at, parts AS part_count FROM entities ORDER BY machine, entity_id',
        )
        .all() as StoredEntityRow[]
    ).map((row) => {
      const { machine, entity_id, status, version, machine_version } = row;
      const snapshot = row.part_count === 0 ? row.snapshot : JSON.stringify(parts.read(row).snapshot);
      return { machine, entity_id, status, snapshot, version, machine_version };
    }),
    outbox: db.prepare('SELECT event_id, event_type, envelope FROM outbox ORDER BY event_id').all() as DbDump['outbox'],
    audit: db
      .prepare(
        'SELECT position, event_id, event_type, machine, entity_id, from_status, to_status, outcome, entity_version FROM audit ORDER BY position',
      )
      .all() as AuditRow[],
    inbox: db
      .prepare(
        `SELECT i.event_id, coalesce(i.result, a.result) AS result
         FROM inbox i LEFT JOIN audit a ON a.position = i.audit_position ORDER BY i.event_id`,
      )
      .all() as DbDump['inbox'],
    timers: db.prepare('SELECT timer_id, due_at, fired_at IS NOT NULL AS fired FROM timers ORDER BY timer_id').all() as DbDump['timers'],
  };
}

/** Opens the file, dumps it, closes it. */
export async function dumpFile(path: string): Promise<DbDump> {
  const store = openFileStore(path);
  try {
    return dumpStore(store);
  } finally {
    await store.close();
  }
}

/** Event ids that occur more than once in `ids`. */
export function repeated(ids: readonly string[]): string[] {
  const seen = new Map<string, number>();
  for (const id of ids) seen.set(id, (seen.get(id) ?? 0) + 1);
  return [...seen].filter(([, n]) => n > 1).map(([id]) => id);
}

/** (event_id, machine, entity_id) keys with more than one `accepted` audit row. */
export function doublyAccepted(audit: readonly AuditRow[]): string[] {
  return repeated(audit.filter((a) => a.outcome === 'accepted').map((a) => `${a.event_id}|${a.machine}|${a.entity_id}`));
}

const auditKey = (a: AuditRow, withVersion: boolean): string =>
  [a.event_id, a.event_type, a.machine, a.entity_id, a.from_status, a.to_status, a.outcome, withVersion ? a.entity_version : ''].join('|');

/**
 * Differences between two dumps, as readable lines (empty when they agree). Entity versions
 * and audit entity_versions are compared only when `versions` (group commits write less often).
 */
export function diffDumps(actual: DbDump, expected: DbDump, options: { versions: boolean }): string[] {
  const out: string[] = [];
  const key = (e: EntityRow): string => `${e.machine}:${e.entity_id}`;
  const want = new Map(expected.entities.map((e) => [key(e), e]));
  const got = new Map(actual.entities.map((e) => [key(e), e]));
  for (const [k, e] of want) {
    const a = got.get(k);
    if (a === undefined) out.push(`entity ${k} missing`);
    else if (a.status !== e.status) out.push(`entity ${k}: status ${a.status}, expected ${e.status}`);
    else if (a.snapshot !== e.snapshot) out.push(`entity ${k}: snapshot differs\n  got      ${a.snapshot.slice(0, 400)}\n  expected ${e.snapshot.slice(0, 400)}`);
    else if (options.versions && a.version !== e.version) out.push(`entity ${k}: version ${a.version}, expected ${e.version}`);
  }
  for (const k of got.keys()) if (!want.has(k)) out.push(`entity ${k} unexpected`);
  const outboxWant = new Map(expected.outbox.map((o) => [o.event_id, o]));
  const outboxGot = new Map(actual.outbox.map((o) => [o.event_id, o]));
  if (actual.outbox.length !== expected.outbox.length) out.push(`outbox has ${actual.outbox.length} rows, expected ${expected.outbox.length}`);
  for (const id of repeated(actual.outbox.map((o) => o.event_id))) out.push(`outbox event ${id} appears more than once`);
  for (const [id, o] of outboxWant) {
    const a = outboxGot.get(id);
    if (a === undefined) out.push(`outbox event ${id} (${o.event_type}) missing`);
    else if (a.envelope !== o.envelope) out.push(`outbox event ${id} (${o.event_type}): envelope differs`);
  }
  for (const id of outboxGot.keys()) if (!outboxWant.has(id)) out.push(`outbox event ${id} unexpected`);
  for (const k of doublyAccepted(actual.audit)) out.push(`audit: more than one accepted row for ${k}`);
  const auditWant = expected.audit.map((a) => auditKey(a, options.versions)).sort();
  const auditGot = actual.audit.map((a) => auditKey(a, options.versions)).sort();
  if (auditGot.length !== auditWant.length) out.push(`audit has ${auditGot.length} rows, expected ${auditWant.length}`);
  else if (auditGot.some((k, i) => k !== auditWant[i])) out.push(`audit rows differ, first: ${auditGot.find((k, i) => k !== auditWant[i])}`);
  if (actual.inbox.length !== expected.inbox.length) out.push(`inbox has ${actual.inbox.length} rows, expected ${expected.inbox.length}`);
  const inboxWant = new Map(expected.inbox.map((i) => [i.event_id, i.result]));
  for (const i of actual.inbox) {
    if (!inboxWant.has(i.event_id)) out.push(`inbox event ${i.event_id} unexpected`);
    else if (options.versions && inboxWant.get(i.event_id) !== i.result) out.push(`inbox event ${i.event_id}: stored answer differs`);
  }
  if (JSON.stringify(actual.timers) !== JSON.stringify(expected.timers)) out.push(`timers differ: ${JSON.stringify(actual.timers)} vs ${JSON.stringify(expected.timers)}`);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Child processes
// ---------------------------------------------------------------------------------------------

/** A running child with its output split into lines. */
export interface Child {
  readonly process: ChildProcessWithoutNullStreams;
  /** Every complete stdout line so far. */
  readonly lines: string[];
  /** stderr so far. */
  stderr(): string;
  /** Calls `listener` for every stdout line from now on. */
  onLine(listener: (line: string) => void): void;
  /** Resolves when the process has exited and its output is drained. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Writes a line to the child's stdin. */
  send(line: string): void;
}

/** Starts `node --import tsx <script> ...args` in the project root. */
export function spawnScript(script: string, args: readonly string[]): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: PROJECT_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const listeners: Array<(line: string) => void> = [];
  let partial = '';
  let err = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      for (const listener of listeners) listener(line);
    }
  });
  child.stderr.on('data', (chunk: string) => {
    err += chunk;
  });
  child.stdin.on('error', () => undefined);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) => {
    child.on('close', (code, signal) => {
      if (partial !== '') {
        lines.push(partial);
        for (const listener of listeners) listener(partial);
        partial = '';
      }
      resolveExit({ code, signal });
    });
  });
  return {
    process: child,
    lines,
    stderr: () => err,
    onLine: (listener) => listeners.push(listener),
    exited,
    send: (line) => child.stdin.write(`${line}\n`),
  };
}

/** Starts the producer child (see reliability-producer.ts for its arguments). */
export function spawnProducer(args: readonly string[]): Child {
  return spawnScript(PRODUCER, args);
}

/**
 * Waits until `predicate` holds for a line of the child's output (already seen or new),
 * failing after `timeoutMs` or when the child exits first.
 */
export function waitForLine(child: Child, predicate: (line: string) => boolean, timeoutMs: number): Promise<string> {
  const found = child.lines.find(predicate);
  if (found !== undefined) return Promise.resolve(found);
  return new Promise((resolveLine, reject) => {
    let done = false;
    const deadline = setTimeout(() => {
      if (done) return;
      done = true;
      reject(new Error(`no matching output line within ${timeoutMs} ms; stderr:\n${child.stderr()}`));
    }, timeoutMs);
    child.onLine((line) => {
      if (done || !predicate(line)) return;
      done = true;
      clearTimeout(deadline);
      resolveLine(line);
    });
    void child.exited.then(({ code, signal }) => {
      if (done) return;
      done = true;
      clearTimeout(deadline);
      reject(new Error(`child exited (code ${code}, signal ${signal}) before the expected line; stderr:\n${child.stderr()}`));
    });
  });
}

/** Waits for the child's exit, killing it (SIGKILL) and failing after `timeoutMs`. */
export async function waitForExit(child: Child, timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let deadline: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    deadline = setTimeout(() => {
      child.process.kill('SIGKILL');
      reject(new Error(`child did not exit within ${timeoutMs} ms; stderr:\n${child.stderr()}`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([child.exited, timeout]);
  } finally {
    clearTimeout(deadline);
  }
}

/** One parsed line of the producer's output. */
export type ProducerLine =
  | { kind: 'ok'; index: number; outcome: string }
  | { kind: 'err'; index: number; error: { code?: string; message: string; stack?: string; details?: unknown } }
  | { kind: 'timer'; outcome: string; event_id: string; entity_id: string | null }
  | { kind: 'stats'; stats: { conflicts: number; duplicateConflicts: number; commits: number } }
  | { kind: 'other'; line: string };

export function parseProducerLine(line: string): ProducerLine {
  const [head, a, b, ...rest] = line.split(' ');
  if (head === 'ok' && a !== undefined && b !== undefined) return { kind: 'ok', index: Number(a), outcome: b };
  if (head === 'err' && a !== undefined && b !== undefined) {
    return { kind: 'err', index: Number(a), error: JSON.parse([b, ...rest].join(' ')) as Extract<ProducerLine, { kind: 'err' }>['error'] };
  }
  if (head === 'timer' && a !== undefined && b !== undefined) return { kind: 'timer', outcome: a, event_id: b, entity_id: rest[0] ?? null };
  if (head === 'stats' && a !== undefined) return { kind: 'stats', stats: JSON.parse([a, b, ...rest].filter((x) => x !== undefined).join(' ')) as Extract<ProducerLine, { kind: 'stats' }>['stats'] };
  return { kind: 'other', line };
}
