/**
 * lifecycle-replay: dispatches a JSONL file of envelopes into a database (or an in-memory one), or
 * rebuilds one entity from its history, or replays the stored histories against changed machines
 * (--what-if, replay-what-if.ts). See REPLAY_USAGE.
 */
import { createReadStream, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { LifecycleEngine } from '../../adapters/engine/engine.js';
import { rebuildEntity } from '../../adapters/engine/rebuild.js';
import type { BatchItemResult } from '../../adapters/engine/results.js';
import { isLifecycleError } from '../../adapters/errors.js';
import { openSqliteStore } from '../../adapters/sqlite/store.js';
import type { EntityRecord, SnapshotStore } from '../../adapters/store.js';
import { EXIT_USAGE, UsageError, type CliIo } from './cli.js';
import { runWhatIf, type WhatIfArgs } from './replay-what-if.js';

/** Usage of lifecycle-replay (every flag with its default). */
export const REPLAY_USAGE = `usage: lifecycle-replay <events.jsonl> [--db <path>|:memory:] [--group <n>] [--summary]
       lifecycle-replay --db <path> --rebuild <machine>:<entity_id> [--position <n>]
       lifecycle-replay --db <path> --what-if <machines module> [--entity <machine>:<id>]... [--since <time>] [--json]

  <events.jsonl>  envelopes, one per line, dispatched in order; prints every entity's final state
                  and every refusal as JSON. Exits 1 when a line was not JSON or not a valid
                  envelope (invalid), or could not be applied (deferred)
  --db            the SQLite database (default :memory:); --rebuild and --what-if read an existing
                  file, so there it is required
  --group         envelopes per transaction (default 500)
  --summary       counts only: outcomes, invalid and deferred lines, entities per machine and status
                  (default off: every entity and every refusal)
  --rebuild       one entity's state re-derived from its history (default off: dispatch the file)
  --position      with --rebuild: the audit position to stop at (default: all of the history)
  --what-if       re-runs every stored history (accepted and refused events) against the machines the
                  module exports ("machines", the default export, or every LifecycleMachine export;
                  machines/index.ts is the unchanged baseline) and reports each entity that diverges:
                  first differing step, old and new state, refusals appearing or disappearing,
                  emitted messages that differ. Exits 1 on any divergence, 0 on none (default off)
  --entity        with --what-if: only this entity and its children, e.g. batch:<id> (repeatable;
                  default: every entity)
  --since         with --what-if: only entities with audit rows recorded at or after this ISO time
                  (default: from the first row)
  --json          with --what-if: the report as JSON (default: text)
  --help, -h      this text`;

/** The flags of lifecycle-replay (each is in REPLAY_USAGE with its default). */
export const REPLAY_FLAGS = {
  db: { type: 'string' },
  group: { type: 'string' },
  summary: { type: 'boolean' },
  rebuild: { type: 'string' },
  position: { type: 'string' },
  'what-if': { type: 'string' },
  entity: { type: 'string', multiple: true },
  since: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Mode =
  | { readonly kind: 'help' }
  | { readonly kind: 'dispatch'; readonly file: string; readonly db: string; readonly group: number; readonly summary: boolean }
  | { readonly kind: 'rebuild'; readonly db: string; readonly machine: string; readonly entity_id: string; readonly position: number | undefined }
  | ({ readonly kind: 'what-if' } & WhatIfArgs);

function positiveInt(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) < 1) throw new UsageError(`--${name} must be a positive integer, got "${raw}"`);
  return Number(raw);
}

function entityRef(flag: string, raw: string): { machine: string; entity_id: string } {
  const at = raw.indexOf(':');
  if (at <= 0 || at === raw.length - 1) throw new UsageError(`--${flag} must be <machine>:<entity_id>, got "${raw}"`);
  return { machine: raw.slice(0, at), entity_id: raw.slice(at + 1) };
}

function isoTime(raw: string): string {
  const time = new Date(raw);
  if (Number.isNaN(time.getTime())) throw new UsageError(`--since must be a time (ISO 8601, e.g. 2026-01-31 or 2026-01-31T12:00:00Z), got "${raw}"`);
  return time.toISOString();
}

function refuseWith(mode: string, values: Readonly<Record<string, unknown>>, flags: readonly string[]): void {
  const stray = flags.filter((flag) => values[flag] !== undefined);
  if (stray.length > 0) throw new UsageError(`${stray.map((f) => `--${f}`).join(', ')} cannot be used ${mode}`);
}

/** The mode and its arguments from the command line; UsageError when they do not fit. */
export function parseReplayArgs(argv: readonly string[]): Mode {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: REPLAY_FLAGS, strict: true, allowPositionals: true });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const { values, positionals: files } = parsed;
  if (values.help === true) return { kind: 'help' };
  if (files.length > 1) throw new UsageError(`expected one JSONL file, got ${files.length}: ${files.join(' ')}`);
  const [file] = files;
  if (values['what-if'] !== undefined) {
    refuseWith('with --what-if', { ...values, file }, ['rebuild', 'position', 'group', 'summary', 'file']);
    if (values.db === undefined) throw new UsageError('--what-if needs --db <path> (the database whose histories to replay)');
    const selection = {
      ...(values.entity === undefined ? {} : { entities: values.entity.map((raw) => entityRef('entity', raw)) }),
      ...(values.since === undefined ? {} : { since: isoTime(values.since) }),
    };
    return { kind: 'what-if', module: values['what-if'], db: values.db, selection, json: values.json === true };
  }
  refuseWith('without --what-if', values, ['entity', 'since', 'json']);
  if (values.rebuild !== undefined) {
    refuseWith('with --rebuild', { ...values, file }, ['group', 'summary', 'file']);
    if (values.db === undefined || values.db === ':memory:') throw new UsageError('--rebuild needs --db <path> (an existing database)');
    return { kind: 'rebuild', db: values.db, ...entityRef('rebuild', values.rebuild), position: positiveInt('position', values.position) };
  }
  if (file === undefined) throw new UsageError('missing the JSONL file of envelopes');
  refuseWith('without --rebuild', values, ['position']);
  return { kind: 'dispatch', file, db: values.db ?? ':memory:', group: positiveInt('group', values.group) ?? 500, summary: values.summary === true };
}

interface Tally {
  accepted: number;
  refused: number;
  duplicate: number;
  deferred: Array<{ line: number; code: string; message: string }>;
  invalid: Array<{ line: number; code: string; message: string }>;
  refusals: Array<{ line: number; event_id: string; event_type: string; entity: unknown; state: string | null; reason: string | undefined }>;
}

function record(tally: Tally, results: readonly BatchItemResult[], lines: readonly number[]): void {
  results.forEach((result, i) => {
    const line = lines[i] ?? 0;
    if (result.outcome === 'invalid') tally.invalid.push({ line, code: result.code, message: result.message });
    else if (result.outcome === 'deferred') tally.deferred.push({ line, code: result.code, message: result.message });
    else if (result.outcome === 'refused') {
      tally.refused += 1;
      tally.refusals.push({ line, event_id: result.event_id, event_type: result.event_type, entity: result.entity, state: result.from, reason: result.reason });
    } else tally[result.outcome] += 1;
  });
}

async function countLines(file: string): Promise<number> {
  let n = 0;
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) if (line.trim() !== '') n += 1;
  return n;
}

async function dispatchFile(engine: LifecycleEngine, file: string, group: number, io: CliIo): Promise<Tally> {
  const tally: Tally = { accepted: 0, refused: 0, duplicate: 0, deferred: [], invalid: [], refusals: [] };
  const total = await countLines(file);
  let chunk: unknown[] = [];
  let lines: number[] = [];
  let lineNo = 0;
  let done = 0;
  const flush = async (): Promise<void> => {
    record(tally, await engine.dispatchMany(chunk), lines);
    done += chunk.length;
    io.progress(`[${'#'.repeat(total === 0 ? 0 : Math.round((done / total) * 30)).padEnd(30, '.')}] ${done}/${total} events`);
    chunk = [];
    lines = [];
  };
  for await (const text of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
    lineNo += 1;
    if (text.trim() === '') continue;
    try {
      chunk.push(JSON.parse(text) as unknown);
      lines.push(lineNo);
    } catch (error) {
      tally.invalid.push({ line: lineNo, code: 'INVALID_JSON', message: error instanceof Error ? error.message : String(error) });
    }
    if (chunk.length >= group) await flush();
  }
  if (chunk.length > 0) await flush();
  io.progress(undefined);
  return tally;
}

async function allEntities(store: SnapshotStore, machines: readonly string[]): Promise<Array<Pick<EntityRecord, 'machine' | 'entity_id' | 'status' | 'version'>>> {
  const out: Array<Pick<EntityRecord, 'machine' | 'entity_id' | 'status' | 'version'>> = [];
  for (const machine of machines) {
    for (let offset = 0; ; offset += 1000) {
      const page = await store.list({ machine, limit: 1000, offset });
      out.push(...page.map(({ entity_id, status, version }) => ({ machine, entity_id, status, version })));
      if (page.length < 1000) break;
    }
  }
  return out;
}

async function runDispatch(mode: Extract<Mode, { kind: 'dispatch' }>, io: CliIo): Promise<number> {
  const file = resolve(io.cwd, mode.file);
  if (!existsSync(file)) throw new UsageError(`no such file: ${file}`);
  const store = openSqliteStore({ path: mode.db === ':memory:' ? ':memory:' : resolve(io.cwd, mode.db) });
  try {
    const engine = new LifecycleEngine({ store });
    const tally = await dispatchFile(engine, file, mode.group, io);
    const counts = { accepted: tally.accepted, refused: tally.refused, duplicate: tally.duplicate, invalid_count: tally.invalid.length, deferred_count: tally.deferred.length };
    if (mode.summary) {
      const statuses: Record<string, Record<string, number>> = {};
      for (const row of await store.countByStatus()) (statuses[row.machine] ??= {})[row.status] = row.count;
      io.out(JSON.stringify({ ...counts, entities: statuses }, null, 2));
    } else {
      io.out(JSON.stringify({ ...tally, ...counts, entities: await allEntities(store, Object.keys(engine.machines)) }, null, 2));
    }
    if (tally.invalid.length + tally.deferred.length > 0) io.err(`replay: ${tally.invalid.length} invalid and ${tally.deferred.length} deferred line(s)${tally.invalid[0] === undefined ? '' : `; first: line ${tally.invalid[0].line} ${tally.invalid[0].code}`}`);
    return tally.invalid.length + tally.deferred.length > 0 ? 1 : 0;
  } finally {
    await store.close();
  }
}

async function runRebuild(mode: Extract<Mode, { kind: 'rebuild' }>, io: CliIo): Promise<number> {
  const db = resolve(io.cwd, mode.db);
  if (!existsSync(db)) throw new UsageError(`--db: no database at ${db}; --rebuild reads an existing one`);
  const store = openSqliteStore({ path: db });
  try {
    const engine = new LifecycleEngine({ store });
    const rebuilt = await rebuildEntity(store, engine.machines, mode.machine, mode.entity_id, mode.position === undefined ? {} : { position: mode.position });
    io.out(JSON.stringify(rebuilt, null, 2));
    return 0;
  } finally {
    await store.close();
  }
}

/** Runs lifecycle-replay with `argv`; returns the exit code. */
export async function replayCli(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    const mode = parseReplayArgs(argv);
    if (mode.kind === 'help') {
      io.out(REPLAY_USAGE);
      return 0;
    }
    if (mode.kind === 'what-if') return await runWhatIf(mode, io);
    return mode.kind === 'rebuild' ? await runRebuild(mode, io) : await runDispatch(mode, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`lifecycle-replay: ${error.message}`);
      io.err(REPLAY_USAGE);
      return EXIT_USAGE;
    }
    io.err(`lifecycle-replay: ${isLifecycleError(error) ? `${error.code}: ${error.message}` : String(error)}`);
    return 2;
  }
}
