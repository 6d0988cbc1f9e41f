/**
 * Queue throughput: the embedded SQLite queue drained in the engine's transaction, and 1, 2 and 4
 * worker PROCESSES (scripts/worker.ts) on PostgreSQL + NATS JetStream. Anchor: the PostgreSQL
 * server's own single-row UPDATE transaction rate, measured in the same run (pgbench when it is
 * installed, else the `pg` driver doing the same; the row says which).
 *
 * Worker runs: a fresh schema seeded with BATCHES ready batches (in this process, outbox marked
 * published so the relays start idle), a fresh stream with 4 partitions split evenly over the
 * workers (`--owned`: each holds its partitions' leases from the start), then N `prompt.attached`
 * envelopes (one transition each) published in one pipelined burst; each holder applies what has
 * arrived as one group per transaction. Measured from the first publish to the last commit in the store (the latest
 * inbox `received_at` of those envelopes, written by the workers' clocks on this machine).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LifecycleEngine } from '../../adapters/engine/engine.js';
import { benchEnvelopes, seedReadyBatches } from './envelopes.js';
import { drainOnce, EmbeddedQueue } from '../../adapters/queue/embedded.js';
import { openSqliteStore } from '../../adapters/sqlite/store.js';
import type { Rate } from './engine.js';
import { cpuAccountingAvailable, cpuBetween, pidsNamed, sampleCpu, type CpuSample } from './cpu.js';

/** Where the servers are (bench.ts reads the environment). */
export interface QueueBenchOptions {
  readonly postgresUrl: string;
  readonly natsUrl: string;
}

/** CPU cost per event of one worker run: milliseconds of CPU per event, by process group. */
export interface CpuPerEvent {
  readonly name: string;
  readonly workers: number;
  /** Group name (workers, postgres, nats) -> CPU milliseconds per event. */
  readonly msPerEvent: Readonly<Record<string, number>>;
}

/** What the section measured. */
export interface QueueBench {
  readonly rates: Rate[];
  /** CPU per event of each worker run (empty where /proc cannot be read). */
  readonly cpu: CpuPerEvent[];
  /** The PostgreSQL single-row UPDATE rate (undefined when PostgreSQL is unreachable). */
  readonly anchor: Rate | undefined;
  /** Why rows were skipped, and how they were measured. */
  readonly notes: string[];
}

const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const WORKER = join(PROJECT_ROOT, 'scripts', 'worker.ts');
const BATCHES = 200;
const PARTITIONS = 4;
const PROMPT_ATTACHED = 'huleedu.batch.prompt.attached.v1';
/** Envelopes applied before the measured burst of each worker run. */
const WARM_UP = 2000;

const bench = benchEnvelopes('bench-queue');
const envelope = bench.envelope;
const RUN = bench.run;

const batchId = (b: number): string => `bench-queue-batch-${b}`;

function promptAttached(n: number): Record<string, unknown> {
  return envelope(PROMPT_ATTACHED, { batch_id: batchId(n % BATCHES), user_id: 'bench', student_prompt_ref: `prompt-${n}` });
}

async function seed(engine: LifecycleEngine): Promise<void> {
  await seedReadyBatches(engine, envelope, batchId, BATCHES);
}

function rateOf(name: string, events: number, seconds: number): Rate {
  return { name, events, seconds, perSecond: events / seconds };
}

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

// -------------------------------------------------------------------------------------------
// Embedded queue
// -------------------------------------------------------------------------------------------

/** Enqueues `events` one-transition envelopes in a SQLite file and drains them (rows per transaction = `batch`). */
async function embeddedDrain(events: number, batch: number): Promise<Rate> {
  const dir = mkdtempSync(join(tmpdir(), 'lifecycle-bench-queue-'));
  const store = openSqliteStore({ path: join(dir, 'queue.db') });
  try {
    const engine = new LifecycleEngine({ store });
    await seed(engine);
    const queue = new EmbeddedQueue(store);
    await queue.enqueue(Array.from({ length: events }, (_, i) => promptAttached(i)));
    const started = process.hrtime.bigint();
    let accepted = 0;
    for (let report = await drainOnce(engine, queue, batch); report.taken > 0; report = await drainOnce(engine, queue, batch)) accepted += report.accepted;
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (accepted !== events) throw new Error(`embedded drain accepted ${accepted} of ${events}`);
    return rateOf(`embedded queue drain (SQLite file, ${batch} rows/tx)`, events, seconds);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

// -------------------------------------------------------------------------------------------
// Reachability and the PostgreSQL anchor
// -------------------------------------------------------------------------------------------

async function postgresReachable(url: string): Promise<string | undefined> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (error) {
    return messageOf(error);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function natsReachable(url: string): Promise<string | undefined> {
  try {
    const { connect } = await import('@nats-io/transport-node');
    const { jetstreamManager } = await import('@nats-io/jetstream');
    const nc = await connect({ servers: url, timeout: 3000, maxReconnectAttempts: 0, reconnect: false });
    try {
      await (await jetstreamManager(nc)).getAccountInfo();
    } finally {
      await nc.close();
    }
    return undefined;
  } catch (error) {
    return messageOf(error);
  }
}

/**
 * The anchor: single-row UPDATE transactions on one connection against a scratch table.
 * `pgbench -n -c 1 -T 5 -f <script>` when pgbench is on the PATH, else the same loop with `pg`.
 */
async function postgresAnchor(url: string): Promise<{ rate: Rate; note: string }> {
  const { default: pg } = await import('pg');
  const schema = `lifecycle_bench_anchor_${RUN}`;
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  const dir = mkdtempSync(join(tmpdir(), 'lifecycle-bench-pgbench-'));
  try {
    await pool.query(`CREATE SCHEMA "${schema}"`);
    await pool.query(`CREATE TABLE "${schema}".anchor (id integer PRIMARY KEY, v bigint NOT NULL)`);
    await pool.query(`INSERT INTO "${schema}".anchor VALUES (1, 0)`);
    const statement = `UPDATE "${schema}".anchor SET v = v + 1 WHERE id = 1;`;
    const version = spawnSync('pgbench', ['--version'], { encoding: 'utf8' });
    if (version.status === 0) {
      const script = join(dir, 'update.sql');
      writeFileSync(script, `${statement}\n`);
      const run = spawnSync('pgbench', ['-n', '-c', '1', '-T', '5', '-f', script, url], { encoding: 'utf8', timeout: 30_000 });
      const tps = /tps = ([\d.]+)/.exec(run.stdout)?.[1];
      const processed = /number of transactions actually processed: (\d+)/.exec(run.stdout)?.[1];
      if (run.status === 0 && tps !== undefined) {
        const perSecond = Number(tps);
        const events = Number(processed ?? Math.round(perSecond * 5));
        return {
          rate: { name: 'PostgreSQL UPDATE 1 row/tx (pgbench -c 1 -T 5)', events, seconds: events / perSecond, perSecond },
          note: `anchor: ${version.stdout.trim()} -n -c 1 -T 5 -f <UPDATE one row of a scratch table>`,
        };
      }
      console.log(`(pgbench failed, exit ${run.status}: ${(run.stderr || run.stdout).trim().split('\n').at(-1) ?? ''}; measuring with pg instead)`);
    }
    const client = await pool.connect();
    try {
      const deadline = process.hrtime.bigint() + 5_000_000_000n;
      const started = process.hrtime.bigint();
      let count = 0;
      while (process.hrtime.bigint() < deadline) {
        await client.query(statement);
        count += 1;
      }
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      return {
        rate: rateOf('PostgreSQL UPDATE 1 row/tx (pg driver, 1 conn)', count, seconds),
        note: 'anchor: pgbench is not installed; the same single-row UPDATE transactions measured with the pg driver on one connection for 5 s',
      };
    } finally {
      client.release();
    }
  } finally {
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    await pool.end();
    rmSync(dir, { recursive: true, force: true });
  }
}

// -------------------------------------------------------------------------------------------
// Worker processes on PostgreSQL + NATS
// -------------------------------------------------------------------------------------------

interface WorkerChild {
  readonly process: ChildProcess;
  readonly lines: string[];
  readonly exited: Promise<void>;
}

function spawnWorker(args: readonly string[]): WorkerChild {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER, ...args], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_NO_WARNINGS: '1' } });
  const lines: string[] = [];
  let partial = '';
  const onData = (chunk: Buffer): void => {
    const parts = (partial + chunk.toString('utf8')).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
    if (lines.length > 200) lines.splice(0, lines.length - 200);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
  return { process: child, lines, exited };
}

async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string, intervalMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** SIGTERM to every worker still running, SIGKILL after 15 s; resolves once all have exited. */
async function stopWorkers(children: readonly WorkerChild[]): Promise<void> {
  for (const child of children) if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGTERM');
  await Promise.all(
    children.map(async (child) => {
      const timer = setTimeout(() => child.process.kill('SIGKILL'), 15_000);
      await child.exited;
      clearTimeout(timer);
    }),
  );
}

/** The `--owned` sets of `workers` workers over PARTITIONS partitions (disjoint, as even as possible). */
function ownedSets(workers: number): string[] {
  return Array.from({ length: workers }, (_, w) =>
    Array.from({ length: PARTITIONS }, (_, k) => k)
      .filter((k) => k % workers === w)
      .join(','),
  );
}

/** Spawns `workers` worker processes (disjoint `--owned` sets) into `children` and waits until each is ready. */
async function startWorkers(children: WorkerChild[], args: readonly string[], workers: number): Promise<void> {
  for (const owned of ownedSets(workers)) children.push(spawnWorker([...args, '--owned', owned]));
  await Promise.all(
    children.map((child) =>
      waitUntil(() => child.lines.some((l) => /ready: store postgres:/.test(l)) || child.process.exitCode !== null, 60_000, 'a worker to be ready').then(() => {
        if (!child.lines.some((l) => /ready: store postgres:/.test(l))) throw new Error(`a worker did not start:\n${child.lines.join('\n')}`);
      }),
    ),
  );
}

/** The processes whose CPU a worker run is charged: the workers, PostgreSQL's and NATS's. */
function runProcesses(children: readonly WorkerChild[]): CpuSample {
  return sampleCpu({
    workers: children.flatMap((child) => (child.process.pid === undefined ? [] : [child.process.pid])),
    postgres: pidsNamed(['postgres']),
    nats: pidsNamed(['nats-server']),
  });
}

async function natsWorkers(options: QueueBenchOptions, workers: number, events: number): Promise<{ rate: Rate; cpu: CpuPerEvent | undefined }> {
  const { default: pg } = await import('pg');
  const { connect } = await import('@nats-io/transport-node');
  const { jetstream, jetstreamManager } = await import('@nats-io/jetstream');
  const { deadLetterStreamOf, ensurePartitionConsumers, ensureStream, leaseStreamOf, publishEnvelope } = await import('../../adapters/queue/nats.js');
  const { openPostgresStore } = await import('../../adapters/postgres/store.js');

  const id = `${RUN}_${workers}`;
  const schema = `lifecycle_bench_${id}`;
  const stream = `LCBENCH_${id}`;
  const subjectPrefix = `lcbench.${id}.`;
  const durable = `bench-${id}`;
  const pool = new pg.Pool({ connectionString: options.postgresUrl, max: 2 });
  const nc = await connect({ servers: options.natsUrl });
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const children: WorkerChild[] = [];
  try {
    const store = await openPostgresStore({ connectionString: options.postgresUrl, schema });
    await seed(new LifecycleEngine({ store }));
    await store.close();
    await pool.query(`UPDATE "${schema}".outbox SET published_at = $1`, [new Date().toISOString()]);
    await ensureStream(jsm, { name: stream, subjectPrefix });
    await ensurePartitionConsumers(jsm, { stream, durable, partitions: PARTITIONS, subjectPrefix });

    const args = ['--store', options.postgresUrl, '--schema', schema, '--queue', options.natsUrl, '--partitions', String(PARTITIONS), '--stream', stream, '--durable', durable, '--subject-prefix', subjectPrefix, '--interval-ms', '50'];
    await startWorkers(children, args, workers);

    const count = async (): Promise<number> =>
      Number((await pool.query<{ n: string }>(`SELECT COUNT(*) AS n FROM "${schema}".inbox WHERE event_type = $1`, [PROMPT_ATTACHED])).rows[0]?.n ?? 0);
    const burst = async (from: number, size: number): Promise<void> => {
      const inputs = Array.from({ length: size }, (_, i) => promptAttached(from + i));
      for (let i = 0; i < inputs.length; i += 500) await Promise.all(inputs.slice(i, i + 500).map((event) => publishEnvelope(js, event, { subjectPrefix })));
    };
    // Warm-up (not measured): every worker has applied a few groups (JIT, prepared statements, leases).
    await burst(0, WARM_UP);
    await waitUntil(async () => (await count()) >= WARM_UP, 120_000, `the warm-up burst committed by ${workers} workers`, 50);
    const accounting = cpuAccountingAvailable();
    const cpuBefore = accounting ? runProcesses(children) : undefined;
    const started = Date.now();
    await burst(WARM_UP, events);
    await waitUntil(async () => (await count()) >= WARM_UP + events, 600_000, `${events} envelopes committed by ${workers} workers`, 100);
    const used = cpuBefore === undefined ? undefined : cpuBetween(cpuBefore, runProcesses(children));
    const last = (await pool.query<{ at: string }>(`SELECT MAX(received_at) AS at FROM "${schema}".inbox WHERE event_type = $1`, [PROMPT_ATTACHED])).rows[0]?.at;
    const accepted = Number(
      (await pool.query<{ n: string }>(`SELECT COUNT(*) AS n FROM "${schema}".audit WHERE event_type = $1 AND outcome = 'accepted'`, [PROMPT_ATTACHED])).rows[0]?.n ?? 0,
    );
    if (accepted !== WARM_UP + events) throw new Error(`${accepted} of ${WARM_UP + events} envelopes accepted`);
    const seconds = (Date.parse(last ?? '') - started) / 1000;
    const label = workers === 1 ? '1 worker process' : `${workers} worker processes`;
    await stopWorkers(children);
    const groups = children.map((child) => /in (\d+) groups/.exec(child.lines.find((l) => /consumed: /.test(l)) ?? '')?.[1]).map(Number);
    if (groups.every((g) => Number.isFinite(g))) console.log(`(${label}: ${groups.reduce((a, b) => a + b, 0)} groups for ${WARM_UP + events} envelopes x ${PARTITIONS} partition consumers)`);
    const name = `PostgreSQL + NATS, ${label} (${PARTITIONS} partitions)`;
    const msPerEvent = used === undefined ? undefined : Object.fromEntries(Object.entries(used).map(([group, cpu]) => [group, (cpu * 1000) / events]));
    return { rate: rateOf(name, events, seconds), cpu: msPerEvent === undefined ? undefined : { name, workers, msPerEvent } };
  } finally {
    await stopWorkers(children);
    for (const name of [stream, deadLetterStreamOf(stream), leaseStreamOf(stream)]) await jsm.streams.delete(name).catch(() => undefined);
    await nc.drain().catch(() => undefined);
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    await pool.end();
  }
}

/** Every queue measurement of the run. */
export async function benchQueue(scale: number, options: QueueBenchOptions): Promise<QueueBench> {
  const rates: Rate[] = [];
  const cpu: CpuPerEvent[] = [];
  const notes: string[] = [];
  const n = Math.max(100, Math.round(3000 * scale));
  rates.push(await embeddedDrain(n * 5, 100));

  const pgProblem = await postgresReachable(options.postgresUrl);
  if (pgProblem !== undefined) {
    notes.push(`skipped the PostgreSQL rows and the anchor: PostgreSQL at ${redact(options.postgresUrl)} is unreachable (${pgProblem})`);
    return { rates, cpu, anchor: undefined, notes };
  }
  const anchor = await postgresAnchor(options.postgresUrl);
  notes.push(anchor.note);
  const natsProblem = await natsReachable(options.natsUrl);
  if (natsProblem !== undefined) {
    notes.push(`skipped the PostgreSQL + NATS worker rows: NATS JetStream at ${options.natsUrl} is unreachable (${natsProblem})`);
    return { rates, cpu, anchor: anchor.rate, notes };
  }
  // Three times the embedded row count's base: a run of a few seconds, so process start-up (JIT) does not dominate.
  const burst = n * 3;
  for (const workers of [1, 2, 4]) {
    const run = await natsWorkers(options, workers, burst);
    rates.push(run.rate);
    if (run.cpu !== undefined) cpu.push(run.cpu);
  }
  if (!cpuAccountingAvailable()) notes.push('CPU per event not measured: /proc is not readable on this system');
  notes.push(`workers: ${burst} prompt.attached envelopes (one transition each) over ${BATCHES} ready batches, published in one burst after a warm-up burst of ${WARM_UP}; first publish to last commit`);
  return { rates, cpu, anchor: anchor.rate, notes };
}

function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(invalid URL)';
  }
}
