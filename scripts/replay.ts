#!/usr/bin/env node
/**
 * replay: dispatches a JSONL file of envelopes into a database (or an in-memory one) and
 * prints, as JSON, the final state of every entity and every refusal. With --rebuild it
 * prints one entity's state at an audit position, re-derived from its history.
 *
 *   replay events.jsonl [--db ./data/replay.db] [--group 500]
 *   replay --db ./data/lifecycle.db --rebuild batch:<id> [--position 42]
 */
import { createReadStream, existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { LifecycleEngine } from '../adapters/engine/engine.js';
import { rebuildEntity } from '../adapters/engine/rebuild.js';
import type { BatchItemResult } from '../adapters/engine/results.js';
import { isLifecycleError } from '../adapters/errors.js';
import { openSqliteStore } from '../adapters/sqlite/store.js';
import type { EntityRecord, SnapshotStore } from '../adapters/store.js';

const USAGE = `usage: replay <events.jsonl> [--db <path>|:memory:] [--group <n>]
       replay --db <path> --rebuild <machine>:<entity_id> [--position <n>]`;

class UsageError extends Error {}

interface Options {
  file: string | undefined;
  db: string;
  group: number;
  rebuild: { machine: string; entity_id: string } | undefined;
  position: number | undefined;
}

function positiveInt(name: string, raw: string | undefined, fallback: number | undefined): number | undefined {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 1) throw new UsageError(`--${name} must be a positive integer, got "${raw}"`);
  return Number(raw);
}

function parseOptions(argv: string[]): Options {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { db: { type: 'string' }, group: { type: 'string' }, rebuild: { type: 'string' }, position: { type: 'string' }, help: { type: 'boolean' } } });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const { values, positionals } = parsed;
  if (values.help === true) throw new UsageError('');
  if (positionals.length > 1) throw new UsageError(`expected one JSONL file, got ${positionals.length}: ${positionals.join(' ')}`);
  const file = positionals[0];
  let rebuild: Options['rebuild'];
  if (values.rebuild !== undefined) {
    const at = values.rebuild.indexOf(':');
    if (at <= 0 || at === values.rebuild.length - 1) throw new UsageError(`--rebuild must be <machine>:<entity_id>, got "${values.rebuild}"`);
    rebuild = { machine: values.rebuild.slice(0, at), entity_id: values.rebuild.slice(at + 1) };
  }
  if (file === undefined && rebuild === undefined) throw new UsageError('missing the JSONL file of envelopes');
  if (file !== undefined && !existsSync(file)) throw new UsageError(`no such file: ${file}`);
  return { file, db: values.db ?? ':memory:', group: positiveInt('group', values.group, 500) ?? 500, rebuild, position: positiveInt('position', values.position, undefined) };
}

function progress(done: number, total: number | undefined): void {
  if (!process.stderr.isTTY) return;
  const width = 30;
  const bar = total === undefined || total === 0 ? '' : '#'.repeat(Math.round((done / total) * width)).padEnd(width, '.');
  process.stderr.write(`\r[${bar}] ${done}${total === undefined ? '' : `/${total}`} events`);
}

async function countLines(file: string): Promise<number> {
  let n = 0;
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) if (line.trim() !== '') n += 1;
  return n;
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

async function replay(engine: LifecycleEngine, file: string, group: number): Promise<Tally> {
  const tally: Tally = { accepted: 0, refused: 0, duplicate: 0, deferred: [], invalid: [], refusals: [] };
  const total = await countLines(file);
  let chunk: unknown[] = [];
  let lines: number[] = [];
  let lineNo = 0;
  let done = 0;
  const flush = async (): Promise<void> => {
    record(tally, await engine.dispatchMany(chunk), lines);
    done += chunk.length;
    progress(done, total);
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
  if (process.stderr.isTTY) process.stderr.write('\n');
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

async function main(): Promise<number> {
  let options: Options;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    if (error.message !== '') process.stderr.write(`replay: ${error.message}\n`);
    process.stderr.write(`${USAGE}\n`);
    return error.message === '' ? 0 : 2;
  }
  const store = openSqliteStore({ path: options.db });
  try {
    const engine = new LifecycleEngine({ store });
    if (options.rebuild !== undefined) {
      const rebuilt = await rebuildEntity(store, engine.machines, options.rebuild.machine, options.rebuild.entity_id, options.position === undefined ? {} : { position: options.position });
      process.stdout.write(`${JSON.stringify(rebuilt, null, 2)}\n`);
      return 0;
    }
    const tally = await replay(engine, options.file ?? '', options.group);
    const entities = await allEntities(store, Object.keys(engine.machines));
    process.stdout.write(`${JSON.stringify({ ...tally, invalid_count: tally.invalid.length, entities }, null, 2)}\n`);
    return 0;
  } catch (error) {
    process.stderr.write(`replay: ${isLifecycleError(error) ? `${error.code}: ${error.message}` : String(error)}\n`);
    return 1;
  } finally {
    await store.close();
  }
}

process.exitCode = await main();
