/**
 * Queue throughput: the embedded SQLite queue drained in the engine's transaction, and 1, 2 and 4
 * worker PROCESSES (scripts/worker.ts) on PostgreSQL + NATS JetStream. Anchor: the PostgreSQL
 * server's own single-row UPDATE transaction rate, measured in the same run (pgbench when it is
 * installed, else the `pg` driver doing the same; the row says which).
 *
 * Worker deployments (queue-workers.ts): 1, 2 and 4 worker processes on a fresh schema seeded with
 * BATCHES ready batches and a fresh stream with 4 partitions split evenly over them (`--owned`),
 * driven through a warm-up burst, an idle window and two measured bursts; throughput is the larger
 * burst's, first publish to last commit (the latest inbox `received_at`, the workers' clocks on this
 * machine), and its cost per event the marginal CPU between the bursts (queue-cost.ts).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LifecycleEngine } from '../../adapters/engine/engine.js';
import { benchEnvelopes, seedReadyBatches } from './envelopes.js';
import { drainOnce, EmbeddedQueue } from '../../adapters/queue/embedded.js';
import { openSqliteStore } from '../../adapters/sqlite/store.js';
import type { Rate } from './engine.js';
import { cpuAccountingAvailable } from './cpu.js';
import type { Figure } from './figures.js';
import { throughputFigures, type RoundCost } from './queue-cost.js';
import { BATCHES, batchId, Deployment, PARTITIONS, PROMPT_ATTACHED } from './queue-workers.js';

/** Where the servers are, and how the worker rounds run (bench.ts reads the environment). */
export interface QueueBenchOptions {
  readonly postgresUrl: string;
  readonly natsUrl: string;
  /** Rounds of the 1, 2 and 4 worker deployments. */
  readonly rounds: number;
  /** When set, every worker writes a V8 CPU profile here (BENCH_CPU_PROF). */
  readonly cpuProfileDir?: string;
}

/** What the section measured. */
export interface QueueBench {
  readonly rates: Rate[];
  /** Throughput of each worker deployment size (median and spread over rounds). */
  readonly workers: Figure[];
  /** What each round of each deployment cost (empty where /proc cannot be read). */
  readonly costs: RoundCost[];
  /** The PostgreSQL single-row UPDATE rate (undefined when PostgreSQL is unreachable). */
  readonly anchor: Rate | undefined;
  /** Why rows were skipped, and how they were measured. */
  readonly notes: string[];
}

/**
 * Envelopes each worker process applies before anything is measured (a deployment of W workers
 * gets W times as many): V8 optimizes a process's hot code after it ran it enough times, so a fixed
 * warm-up would leave 4 processes that each applied a quarter of it colder than 1 process.
 */
const WARM_UP_PER_PROCESS = 5000;
/** The rate of the paced bursts (events/s): under what this machine sustains with 4 workers, so no process waits for a core long. */
const PACED_PER_SECOND = 800;

const bench = benchEnvelopes('bench-queue');
const envelope = bench.envelope;
const RUN = bench.run;

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

/** Seconds of the idle window of each deployment. */
const IDLE_SECONDS = 2;

/**
 * One round of one deployment: start, warm up, idle, a burst of `burst` and one of 3 x `burst` as
 * fast as they go (saturated), then `burst` / 2 and 3 x `burst` / 2 published at PACED_PER_SECOND.
 */
async function deploymentRound(options: QueueBenchOptions, workers: number, burst: number, round: number): Promise<RoundCost> {
  const deployment = await Deployment.start(
    { postgresUrl: options.postgresUrl, natsUrl: options.natsUrl, id: `${RUN}_${round}_${workers}`, envelope, ...(options.cpuProfileDir === undefined ? {} : { cpuProfileDir: options.cpuProfileDir }) },
    workers,
  );
  try {
    const startupSecondsPerProcess = deployment.startupSeconds / workers;
    const warmUp = await deployment.burst(WARM_UP_PER_PROCESS * workers);
    const idle = { cpu: await deployment.idle(IDLE_SECONDS * 1000), seconds: IDLE_SECONDS };
    const saturated = { small: await deployment.burst(burst), large: await deployment.burst(3 * burst) };
    const half = Math.max(50, Math.round(burst / 2));
    const paced = { small: await deployment.burst(half, PACED_PER_SECOND), large: await deployment.burst(3 * half, PACED_PER_SECOND) };
    const summary = await deployment.stop();
    return { workers, startupSecondsPerProcess, warmUp, idle, saturated, paced, summary };
  } finally {
    await deployment.close();
  }
}

/** `rounds` rounds of the 1, 2 and 4 worker deployments, interleaved (the order turns each round). */
async function workerRounds(options: QueueBenchOptions, burst: number, rounds: number): Promise<RoundCost[]> {
  const sizes = [1, 2, 4];
  const measured: RoundCost[] = [];
  for (let round = 0; round < rounds; round += 1) {
    for (let i = 0; i < sizes.length; i += 1) measured.push(await deploymentRound(options, sizes[(i + round) % sizes.length]!, burst, round));
  }
  return measured;
}

/** Every queue measurement of the run. */
export async function benchQueue(scale: number, options: QueueBenchOptions): Promise<QueueBench> {
  const rates: Rate[] = [];
  const notes: string[] = [];
  const n = Math.max(100, Math.round(3000 * scale));
  rates.push(await embeddedDrain(n * 5, 100));
  const none = { rates, workers: [], costs: [] };

  const pgProblem = await postgresReachable(options.postgresUrl);
  if (pgProblem !== undefined) {
    notes.push(`skipped the PostgreSQL rows and the anchor: PostgreSQL at ${redact(options.postgresUrl)} is unreachable (${pgProblem})`);
    return { ...none, anchor: undefined, notes };
  }
  const anchor = await postgresAnchor(options.postgresUrl);
  notes.push(anchor.note);
  const natsProblem = await natsReachable(options.natsUrl);
  if (natsProblem !== undefined) {
    notes.push(`skipped the PostgreSQL + NATS worker rows: NATS JetStream at ${options.natsUrl} is unreachable (${natsProblem})`);
    return { ...none, anchor: anchor.rate, notes };
  }
  const costs = await workerRounds(options, n, options.rounds);
  const workers = throughputFigures(costs, (count) => `PostgreSQL + NATS, ${count === 1 ? '1 worker process' : `${count} worker processes`} (${PARTITIONS} partitions)`);
  if (!cpuAccountingAvailable()) notes.push('CPU per event not measured: /proc is not readable on this system');
  notes.push(
    `workers: per round and deployment, a warm-up burst of ${WARM_UP_PER_PROCESS} per worker process, ${IDLE_SECONDS} s idle, then bursts of ${n} and ${3 * n} prompt.attached envelopes (one transition each) over ${BATCHES} ready batches as fast as they go, ` +
      `then ${Math.max(50, Math.round(n / 2))} and ${3 * Math.max(50, Math.round(n / 2))} published at ${PACED_PER_SECOND}/s; throughput of the ${3 * n}-burst, first publish to last commit; ${options.rounds} rounds, the deployments interleaved`,
  );
  if (costs.every((round) => (round.saturated.large.cpu.postgres ?? 0) === 0)) notes.push('PostgreSQL CPU not counted: its processes are not on this machine (or /proc hides them)');
  if (options.cpuProfileDir !== undefined) notes.push(`worker CPU profiles (node --cpu-prof) in ${options.cpuProfileDir}`);
  return { rates, workers, costs: cpuAccountingAvailable() ? costs : [], anchor: anchor.rate, notes };
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
