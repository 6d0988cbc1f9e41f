/**
 * The batch-size curve (issue #20): one GUEST batch of N essays through an `nlp` pipeline
 * (registration, every content, the request, every spellcheck result, the nlp result), each event
 * dispatched and timed on its own. Every size runs in a fresh child process on a fresh store, so
 * its peak RSS is its own; each child first runs a 200-essay warm-up batch on a scratch store. Bytes per essay are read per table after a WAL checkpoint (SQLite,
 * `dbstat`) or from `pg_total_relation_size` (PostgreSQL). On SQLite the batch is then closed and
 * archived (`archiveClosedBatches`, archive window 0) and the bytes read again; archiving and then
 * restoring it each run in a fresh child process (archive-memory.ts), for their own peak RSS and time.
 *
 * Essay ids are random UUIDs, as in real data: ids like `<batch>-essay-000123` would flatter the
 * archive's compression.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LifecycleEngine } from '../../adapters/engine/engine.js';
import { INVARIANT_MODES, type InvariantMode } from '../../adapters/engine/invariants.js';
import type { SnapshotStore } from '../../adapters/store.js';
import { openSqliteStore, type SqliteStore } from '../../adapters/sqlite/store.js';
import { measureArchive, measureRestore, type ArchiveOpRun } from './archive-memory.js';
import { runBenchChild } from './child.js';
import { benchEnvelopes, type EnvelopeOf } from './envelopes.js';

/** What one size measured. */
export interface ScaleRun {
  readonly store: 'sqlite' | 'postgres';
  readonly essays: number;
  /** Mean of every content and spellcheck event (µs, wall time). */
  readonly perEssayMeanUs: number;
  /** The same in CPU time of this process (µs): steadier than wall time on a shared machine. */
  readonly perEssayCpuUs: number;
  /** Mean of the first and of the last tenth of the content events (µs). */
  readonly contentEarlyUs: number;
  readonly contentLateUs: number;
  readonly nlpResultMs: number;
  readonly nlpResultCpuMs: number;
  /** Registration to nlp result, wall time (s). */
  readonly batchSeconds: number;
  readonly peakRssMiB: number;
  /** Bytes per essay by table (indexes counted with their table), after the run. */
  readonly bytesPerEssay: Readonly<Record<string, number>>;
  /** SQLite: the same once the batch is closed and archived (archiveDays 0). */
  readonly archivedBytesPerEssay?: Readonly<Record<string, number>>;
  /** SQLite: archiving the closed batch, then restoring it, each in a fresh child process (archive-memory.ts). */
  readonly archiving?: { readonly archive: ArchiveOpRun; readonly restore: ArchiveOpRun };
}

const SELF = fileURLToPath(import.meta.url);

/** Set (to 1) in the environment of a child that skips archiving its batch (the heap-capped rerun, repeat rounds). */
const NO_ARCHIVE = 'LIFECYCLE_SCALE_BENCH_NO_ARCHIVE';

/** The events of one batch, in order, grouped by what is timed (also the grouped variant's, scale-grouped.ts). */
export function batchEvents(envelope: EnvelopeOf, batchId: string, essays: number) {
  const ids = Array.from({ length: essays }, () => randomUUID());
  return {
    registration: envelope('huleedu.batch.essays.registered.v1', {
      entity_id: batchId,
      expected_essay_count: essays,
      essay_ids: ids,
      course_code: 'ENG5',
      user_id: 'bench',
      student_prompt_ref: `prompt-${batchId}`,
    }),
    contents: ids.map((id) =>
      envelope('huleedu.file.essay.content.provisioned.v1', {
        entity_id: batchId,
        file_upload_id: `upload-${id}`,
        original_file_name: `${id}.docx`,
        raw_file_storage_id: `raw-${id}`,
        text_storage_id: `text-${id}`,
        file_size_bytes: 1234,
      }),
    ),
    request: envelope('huleedu.commands.batch.pipeline.v1', { batch_id: batchId, requested_pipeline: 'nlp', user_id: 'bench' }),
    spellchecks: ids.map((id) =>
      envelope('huleedu.batch.spellcheck.phase.completed.v1', {
        entity_id: id,
        batch_id: batchId,
        status: 'completed',
        corrected_text_storage_id: `corrected-${id}`,
        processing_duration_ms: 10,
      }),
    ),
    nlpResult: envelope('huleedu.batch.nlp.analysis.completed.v1', {
      batch_id: batchId,
      processing_summary: { successful_essay_ids: ids, failed_essay_ids: [] },
    }),
    close: envelope('huleedu.batch.close.requested.v1', { batch_id: batchId, user_id: 'bench' }),
  };
}

/** Dispatches one event and returns its wall and CPU time in µs; throws unless the event was accepted. */
async function timed(engine: LifecycleEngine, raw: unknown): Promise<{ wall: number; cpu: number }> {
  const cpuBefore = process.cpuUsage();
  const started = process.hrtime.bigint();
  const answer = await engine.dispatch(raw);
  const wall = Number(process.hrtime.bigint() - started) / 1e3;
  const cpuUsed = process.cpuUsage(cpuBefore);
  if (answer.outcome !== 'accepted') throw new Error(`scale bench: ${String((raw as { event_type: string }).event_type)} was ${answer.outcome}`);
  return { wall, cpu: cpuUsed.user + cpuUsed.system };
}

/** The engine's invariant mode for the scale runs (BENCH_INVARIANTS, default the engine's default). */
function invariantModeOf(raw: string | undefined): InvariantMode {
  if (raw === undefined || raw === '') return 'log';
  if (!(INVARIANT_MODES as readonly string[]).includes(raw)) throw new Error(`BENCH_INVARIANTS must be one of ${INVARIANT_MODES.join(', ')}, got "${raw}"`);
  return raw as InvariantMode;
}

const mean = (values: readonly number[]): number => values.reduce((sum, v) => sum + v, 0) / Math.max(1, values.length);

/** Runs one batch of `essays` on `store` and returns the timings. */
async function runBatch(store: SnapshotStore, essays: number) {
  const engine = new LifecycleEngine({ store, invariants: invariantModeOf(process.env.BENCH_INVARIANTS) });
  const { envelope, run } = benchEnvelopes(`scale-${essays}`);
  const batchId = `scale-${run}-${essays}`;
  const events = batchEvents(envelope, batchId, essays);
  const started = process.hrtime.bigint();
  await timed(engine, events.registration);
  const contents: Array<{ wall: number; cpu: number }> = [];
  for (const raw of events.contents) contents.push(await timed(engine, raw));
  await timed(engine, events.request);
  const spellchecks: Array<{ wall: number; cpu: number }> = [];
  for (const raw of events.spellchecks) spellchecks.push(await timed(engine, raw));
  const nlp = await timed(engine, events.nlpResult);
  const batchSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  const close = async (): Promise<void> => {
    await timed(engine, events.close);
  };
  const tenth = Math.max(1, Math.floor(contents.length / 10));
  const perEssay = [...contents, ...spellchecks];
  return {
    perEssayMeanUs: mean(perEssay.map((t) => t.wall)),
    perEssayCpuUs: mean(perEssay.map((t) => t.cpu)),
    contentEarlyUs: mean(contents.slice(0, tenth).map((t) => t.wall)),
    contentLateUs: mean(contents.slice(-tenth).map((t) => t.wall)),
    nlpResultMs: nlp.wall / 1e3,
    nlpResultCpuMs: nlp.cpu / 1e3,
    batchSeconds,
    batchId,
    close,
  };
}

/** Bytes per table of a SQLite file (indexes counted with their table), after a checkpoint. */
export function sqliteTableBytes(store: SqliteStore): Record<string, number> {
  store.db.pragma('wal_checkpoint(TRUNCATE)');
  const rows = store.db
    .prepare<[], { table_name: string; bytes: number }>(
      `SELECT m.tbl_name AS table_name, SUM(s.pgsize) AS bytes FROM dbstat s JOIN sqlite_master m ON m.name = s.name
       WHERE m.tbl_name NOT LIKE 'sqlite_%' GROUP BY m.tbl_name ORDER BY bytes DESC`,
    )
    .all();
  return Object.fromEntries(rows.map((row) => [row.table_name, row.bytes]));
}

function perEssay(bytes: Record<string, number>, essays: number): Record<string, number> {
  return Object.fromEntries(Object.entries(bytes).map(([table, n]) => [table, n / essays]));
}

/** Essays of the warm-up batch each child runs first, on a scratch store (JIT and caches warm, as in a server). */
export const WARM_UP_ESSAYS = 200;

async function warmUp(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'lifecycle-scale-warm-'));
  const store = openSqliteStore({ path: join(dir, 'warm.db') });
  try {
    await runBatch(store, WARM_UP_ESSAYS);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function childSqlite(essays: number): Promise<ScaleRun> {
  const dir = mkdtempSync(join(tmpdir(), 'lifecycle-scale-'));
  const path = join(dir, 'scale.db');
  const store = openSqliteStore({ path });
  try {
    const { close, batchId, ...timings } = await runBatch(store, essays);
    const peakRssMiB = process.resourceUsage().maxRSS / 1024;
    const bytesPerEssay = perEssay(sqliteTableBytes(store), essays);
    await close();
    // The heap-capped rerun and the repeat rounds measure the batch, not the archiving.
    if (process.env[NO_ARCHIVE] === '1') return { store: 'sqlite', essays, ...timings, peakRssMiB, bytesPerEssay };
    // Archive, then restore, each in a fresh child process on this file (their peak RSS is their own).
    const archive = measureArchive(path);
    const archivedBytesPerEssay = perEssay(sqliteTableBytes(store), essays);
    const restore = measureRestore(path, batchId);
    return { store: 'sqlite', essays, ...timings, peakRssMiB, bytesPerEssay, archivedBytesPerEssay, archiving: { archive, restore } };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function childPostgres(essays: number, url: string): Promise<ScaleRun> {
  const { openPostgresStore } = await import('../../adapters/postgres/store.js');
  const pg = (await import('pg')).default;
  const schema = `lifecycle_scale_${process.pid}_${essays}`;
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  const store = await openPostgresStore({ connectionString: url, schema });
  try {
    const { close: _close, batchId: _batchId, ...timings } = await runBatch(store, essays);
    const peakRssMiB = process.resourceUsage().maxRSS / 1024;
    await pool.query(`VACUUM`);
    const sizes = await pool.query<{ table_name: string; bytes: string }>(
      `SELECT c.relname AS table_name, pg_total_relation_size(c.oid) AS bytes FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = $1 AND c.relkind = 'r' ORDER BY 2 DESC`,
      [schema],
    );
    const bytes = Object.fromEntries(sizes.rows.map((row) => [row.table_name, Number(row.bytes)]));
    return { store: 'postgres', essays, ...timings, peakRssMiB, bytesPerEssay: perEssay(bytes, essays) };
  } finally {
    await store.close();
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    await pool.end();
  }
}

/** How a size is run: V8's old space capped (`--max-old-space-size`), and whether the closed batch is archived and restored after. */
export interface ScaleSizeOptions {
  readonly heapCapMiB?: number;
  /** Default true (SQLite); a capped run or a repeat round skips it. */
  readonly archive?: boolean;
}

/**
 * Runs one size in a child process (a clean heap and its own peak RSS). `heapCapMiB` caps V8's
 * old space: the run then shows the memory the batch really needs, not how far V8's lazy heap
 * growth lets it spread; such a run does not archive.
 */
export function runScaleSize(store: 'sqlite' | 'postgres', essays: number, postgresUrl?: string, options: ScaleSizeOptions = {}): ScaleRun {
  const { heapCapMiB } = options;
  const archive = (options.archive ?? true) && heapCapMiB === undefined;
  const heapCap = heapCapMiB === undefined ? [] : [`--max-old-space-size=${heapCapMiB}`];
  return runBenchChild<ScaleRun>(SELF, [store, String(essays), ...(postgresUrl === undefined ? [] : [postgresUrl])], `scale bench child (${store}, ${essays} essays)`, {
    nodeFlags: heapCap,
    env: archive ? {} : { [NO_ARCHIVE]: '1' },
  });
}

async function childMain(argv: readonly string[]): Promise<void> {
  const [, store, essays, url] = argv;
  const n = Number(essays);
  await warmUp();
  const run = store === 'postgres' && url !== undefined ? await childPostgres(n, url) : await childSqlite(n);
  process.stdout.write(`${JSON.stringify(run)}\n`);
}

if (process.argv[1] === SELF && process.argv[2] === 'child') {
  childMain(process.argv.slice(2)).catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
