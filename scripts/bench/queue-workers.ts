/**
 * One deployment of the queue bench: 1, 2 or 4 worker PROCESSES (scripts/worker.ts) on a fresh
 * PostgreSQL schema and NATS stream, 4 partitions split evenly over them (`--owned`), and what it
 * costs in CPU-seconds of the processes a real deployment runs:
 *  - `workers`: the worker processes;
 *  - `postgres`: the server processes serving them (their backends, found by the application_name
 *    the bench gives their connection string, plus the server's background processes: WAL writer,
 *    checkpointer, background writer), but not the bench's own connections;
 *  - `nats`: the NATS server process (shared with whatever else uses it on this machine).
 * The deployment is driven in steps (a burst of envelopes, an idle window), each measured on its own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { LifecycleEngine } from '../../adapters/engine/engine.js';
import { countersOfAll, cpuAccountingAvailable, cpuBetween, pidsNamed, sampleCpu, type CpuSample, type ProcessCounters } from './cpu.js';
import type { EnvelopeOf } from './envelopes.js';
import { seedReadyBatches } from './envelopes.js';

const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const WORKER = join(PROJECT_ROOT, 'scripts', 'worker.ts');
export const PARTITIONS = 4;
export const BATCHES = 200;
export const PROMPT_ATTACHED = 'huleedu.batch.prompt.attached.v1';

/** Where the servers are, and how envelopes are made. */
export interface DeploymentOptions {
  readonly postgresUrl: string;
  readonly natsUrl: string;
  /** Names this deployment's schema, stream and connections (unique per run and deployment). */
  readonly id: string;
  readonly envelope: EnvelopeOf;
  /** When set, each worker writes a V8 CPU profile (`node --cpu-prof`) into this folder on exit. */
  readonly cpuProfileDir?: string;
  /** More `lifecycle-worker` flags (e.g. `--no-relay` to see what the relay costs). */
  readonly workerArgs?: readonly string[];
}

/** CPU-seconds by process group (workers, postgres, nats). */
export type GroupSeconds = Readonly<Record<string, number>>;

/** What one measured burst cost. */
export interface BurstCost {
  readonly events: number;
  /** First publish to the last commit in the store (the workers' clocks). */
  readonly seconds: number;
  readonly cpu: GroupSeconds;
  /** Of the worker processes, during the burst: system calls and main-thread context switches. */
  readonly workerCounters: ProcessCounters;
}

/** What the workers said when they stopped. */
export interface DeploymentSummary {
  /** Groups (transactions, for groups holding messages of the partition) of all workers. */
  readonly groups: number;
  /** NATS messages received and sent by all workers' connections (undefined when a worker did not say). */
  readonly natsMessages: number | undefined;
  /** Index and table scans plus rows written in the deployment's schema (pg_stat_user_tables) over its whole life. */
  readonly statements: number;
}

interface WorkerChild {
  readonly process: ChildProcess;
  readonly lines: string[];
  readonly exited: Promise<void>;
}

/** The id of the b-th seeded batch. */
export const batchId = (b: number): string => `bench-queue-batch-${b}`;

function spawnWorker(args: readonly string[], profileDir: string | undefined): WorkerChild {
  const profile = profileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', profileDir];
  const child = spawn(process.execPath, [...profile, '--import', 'tsx', WORKER, ...args], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_NO_WARNINGS: '1' } });
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

export async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string, intervalMs = 50): Promise<void> {
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

const isReady = (child: WorkerChild): boolean => child.lines.some((l) => /ready: store postgres:/.test(l));

/** A running deployment; see the module comment. */
export class Deployment {
  private readonly children: WorkerChild[] = [];
  private published = 0;
  /** CPU-seconds the worker processes used from spawn to ready (start-up: loading, JIT, connections). */
  startupSeconds = 0;

  private constructor(
    readonly workers: number,
    private readonly options: DeploymentOptions,
    private readonly pool: pg.Pool,
    private readonly nats: { close(): Promise<void>; publish(event: Record<string, unknown>): Promise<unknown>; cleanup(): Promise<void> },
  ) {}

  private get schema(): string {
    return `lifecycle_bench_${this.options.id}`;
  }

  /** Seeds a fresh schema and stream, spawns the workers and waits until each is ready. */
  static async start(options: DeploymentOptions, workers: number): Promise<Deployment> {
    const { default: pgModule } = await import('pg');
    const { connect } = await import('@nats-io/transport-node');
    const { jetstream, jetstreamManager } = await import('@nats-io/jetstream');
    const { deadLetterStreamOf, ensurePartitionConsumers, ensureStream, leaseStreamOf, publishEnvelope } = await import('../../adapters/queue/nats.js');
    const { openPostgresStore } = await import('../../adapters/postgres/store.js');
    const stream = `LCBENCH_${options.id}`;
    const subjectPrefix = `lcbench.${options.id}.`;
    const durable = `bench-${options.id}`;
    const pool = new pgModule.Pool({ connectionString: options.postgresUrl, max: 2 });
    const nc = await connect({ servers: options.natsUrl });
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    const nats = {
      publish: (event: Record<string, unknown>) => publishEnvelope(js, event, { subjectPrefix }),
      close: () => nc.drain().catch(() => undefined),
      cleanup: async () => {
        for (const name of [stream, deadLetterStreamOf(stream), leaseStreamOf(stream)]) await jsm.streams.delete(name).catch(() => undefined);
      },
    };
    const deployment = new Deployment(workers, options, pool, nats);
    try {
      const store = await openPostgresStore({ connectionString: options.postgresUrl, schema: deployment.schema });
      await seedReadyBatches(new LifecycleEngine({ store }), options.envelope, batchId, BATCHES);
      await store.close();
      await pool.query(`UPDATE "${deployment.schema}".outbox SET published_at = $1`, [new Date().toISOString()]);
      await ensureStream(jsm, { name: stream, subjectPrefix });
      await ensurePartitionConsumers(jsm, { stream, durable, partitions: PARTITIONS, subjectPrefix });
      const args = ['--store', deployment.workerUrl(), '--schema', deployment.schema, '--queue', options.natsUrl, '--partitions', String(PARTITIONS), '--stream', stream, '--durable', durable, '--subject-prefix', subjectPrefix, ...(options.workerArgs ?? [])];
      await deployment.spawnAll(args);
      return deployment;
    } catch (error) {
      await deployment.close();
      throw error;
    }
  }

  /** The workers' connection string: the bench's, with an application_name that finds their backends. */
  private workerUrl(): string {
    const url = new URL(this.options.postgresUrl);
    url.searchParams.set('application_name', this.applicationName());
    return url.toString();
  }

  private applicationName(): string {
    return `lcbench-${this.options.id}`;
  }

  private async spawnAll(args: readonly string[]): Promise<void> {
    let profileDir: string | undefined;
    if (this.options.cpuProfileDir !== undefined) {
      profileDir = join(this.options.cpuProfileDir, `${this.workers}-workers-${this.options.id}`);
      mkdirSync(profileDir, { recursive: true });
    }
    for (const owned of ownedSets(this.workers)) this.children.push(spawnWorker([...args, '--owned', owned], profileDir));
    await Promise.all(
      this.children.map((child) =>
        waitUntil(() => isReady(child) || child.process.exitCode !== null, 60_000, 'a worker to be ready').then(() => {
          if (!isReady(child)) throw new Error(`a worker did not start:\n${child.lines.join('\n')}`);
        }),
      ),
    );
    if (cpuAccountingAvailable()) this.startupSeconds = [...((await this.sample()).get('workers')?.values() ?? [])].reduce((a, b) => a + b, 0);
  }

  private workerPids(): number[] {
    return this.children.flatMap((child) => (child.process.pid === undefined ? [] : [child.process.pid]));
  }

  /** CPU of the deployment's processes now. */
  private async sample(): Promise<CpuSample> {
    const backends = await this.pool.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE application_name = $1 OR backend_type <> 'client backend'`, [this.applicationName()]);
    const local = new Set(pidsNamed(['postgres']));
    return sampleCpu({
      workers: this.workerPids(),
      postgres: backends.rows.map((row) => row.pid).filter((pid) => local.has(pid)),
      nats: pidsNamed(['nats-server']),
    });
  }

  /** Scans and rows written in the schema so far (a proxy for the statements the workers ran). */
  private async statementCount(): Promise<number> {
    const { rows } = await this.pool.query<{ n: string }>(
      `SELECT COALESCE(SUM(COALESCE(seq_scan, 0) + COALESCE(idx_scan, 0) + n_tup_ins + n_tup_upd + n_tup_del), 0) AS n FROM pg_stat_user_tables WHERE schemaname = $1`,
      [this.schema],
    );
    return Number(rows[0]?.n ?? 0);
  }

  private async committed(): Promise<number> {
    const { rows } = await this.pool.query<{ n: string }>(`SELECT COUNT(*) AS n FROM "${this.schema}".inbox WHERE event_type = $1`, [PROMPT_ATTACHED]);
    return Number(rows[0]?.n ?? 0);
  }

  /**
   * Publishes `size` prompt.attached envelopes and waits until all are committed: in one pipelined
   * burst, or at `perSecond` (chunks of 1/20 s) when given.
   */
  async burst(size: number, perSecond?: number): Promise<BurstCost> {
    const from = this.published;
    this.published += size;
    const inputs = Array.from({ length: size }, (_, i) =>
      this.options.envelope(PROMPT_ATTACHED, { batch_id: batchId((from + i) % BATCHES), user_id: 'bench', student_prompt_ref: `prompt-${from + i}` }),
    );
    const countersBefore = countersOfAll(this.workerPids());
    const before = await this.sample();
    const started = Date.now();
    const chunk = perSecond === undefined ? 500 : Math.max(1, Math.round(perSecond / 20));
    for (let i = 0; i < inputs.length; i += chunk) {
      if (perSecond !== undefined) await new Promise((r) => setTimeout(r, Math.max(0, started + (1000 * i) / perSecond - Date.now())));
      await Promise.all(inputs.slice(i, i + chunk).map((event) => this.nats.publish(event)));
    }
    await waitUntil(async () => (await this.committed()) >= this.published, 600_000, `${size} envelopes committed by ${this.workers} workers`, 50);
    const cpu = cpuBetween(before, await this.sample());
    const countersAfter = countersOfAll(this.workerPids());
    const workerCounters: ProcessCounters = {
      syscalls: countersAfter.syscalls - countersBefore.syscalls,
      voluntarySwitches: countersAfter.voluntarySwitches - countersBefore.voluntarySwitches,
      involuntarySwitches: countersAfter.involuntarySwitches - countersBefore.involuntarySwitches,
    };
    const last = (await this.pool.query<{ at: string }>(`SELECT MAX(received_at) AS at FROM "${this.schema}".inbox WHERE event_type = $1`, [PROMPT_ATTACHED])).rows[0]?.at;
    return { events: size, seconds: (Date.parse(last ?? '') - started) / 1000, cpu, workerCounters };
  }

  /** CPU used while nothing is published for `ms` (after `settleMs` for the last burst's tail). */
  async idle(ms: number, settleMs = 1000): Promise<GroupSeconds> {
    await new Promise((r) => setTimeout(r, settleMs));
    const before = await this.sample();
    await new Promise((r) => setTimeout(r, ms));
    return cpuBetween(before, await this.sample());
  }

  /** Checks every envelope was accepted, stops the workers and reports what they said. */
  async stop(): Promise<DeploymentSummary> {
    const accepted = Number(
      (await this.pool.query<{ n: string }>(`SELECT COUNT(*) AS n FROM "${this.schema}".audit WHERE event_type = $1 AND outcome = 'accepted'`, [PROMPT_ATTACHED])).rows[0]?.n ?? 0,
    );
    if (accepted !== this.published) throw new Error(`${accepted} of ${this.published} envelopes accepted`);
    await stopWorkers(this.children);
    const summaries = this.children.map((child) => child.lines.find((l) => /consumed: /.test(l)) ?? '');
    const sum = (pattern: RegExp): number | undefined => {
      const values = summaries.map((line) => Number(pattern.exec(line)?.[1]));
      return values.every((v) => Number.isFinite(v)) ? values.reduce((a, b) => a + b, 0) : undefined;
    };
    const natsIn = sum(/nats: in (\d+) msgs/);
    const natsOut = sum(/, out (\d+) msgs/);
    // A backend reports its table statistics when it exits (and at most once a second before): wait for the workers' to end.
    await waitUntil(async () => (await this.pool.query(`SELECT 1 FROM pg_stat_activity WHERE application_name = $1`, [this.applicationName()])).rowCount === 0, 10_000, 'the workers\' backends to exit');
    await this.pool.query('SELECT pg_stat_clear_snapshot()');
    return {
      groups: sum(/in (\d+) groups/) ?? Number.NaN,
      natsMessages: natsIn === undefined || natsOut === undefined ? undefined : natsIn + natsOut,
      statements: await this.statementCount(),
    };
  }

  /** Stops what still runs and drops the schema and streams. */
  async close(): Promise<void> {
    await stopWorkers(this.children);
    await this.nats.cleanup();
    await this.nats.close();
    await this.pool.query(`DROP SCHEMA IF EXISTS "${this.schema}" CASCADE`).catch(() => undefined);
    await this.pool.end();
  }
}
