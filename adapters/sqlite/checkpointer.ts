/**
 * WAL checkpoints on a background thread. Earns 1.22x on `dispatch` (synchronous NORMAL; the same
 * CPU, the event loop no longer waits for the checkpoint's fsyncs) and nothing on `dispatchMany`
 * x200 FULL (0.96x: FULL fsyncs every commit anyway) (`BENCH_ONLY=ablation`, quiet 2-core machine,
 * 2026-12-08); a 2,000-essay batch's events 19-23% less wall time.
 *
 * With SQLite's default, the commit that takes the WAL past 1,000 pages copies them into the
 * database file itself, with two fsyncs, while the event loop waits: every ~50 essay events (or
 * ~170 small ones) one commit stalls for several milliseconds (fsync is ~3 ms on the bench
 * machine). Here a worker thread with its own connection runs `PRAGMA wal_checkpoint(PASSIVE)`
 * instead: it copies what it can without blocking the writer, and the writer's own automatic
 * checkpoint stays as a safety net at SAFETY_NET_PAGES, should the thread fall behind.
 *
 * Durability is unchanged: a commit is as durable as `synchronous` makes it, whoever copies it
 * into the database file later. The thread starts only once a store has committed
 * START_AFTER_COMMITS times, so short-lived stores (CLIs, tests) never pay its start (~30-150 ms).
 * If it fails, the error is reported once (`onError`, by default a process warning) and the
 * writer checkpoints inline again, as SQLite does by default.
 */
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';

/** How a file store copies its WAL into the database file. */
export const CHECKPOINT_MODES = ['background', 'inline'] as const;
export type CheckpointMode = (typeof CHECKPOINT_MODES)[number];

/** Commits before the thread starts. */
export const START_AFTER_COMMITS = 256;
/** The writer's automatic checkpoint while the thread runs (pages), and SQLite's default without it. */
const SAFETY_NET_PAGES = 10_000;
const INLINE_PAGES = 1000;
/**
 * The thread's pause between checkpoints (ms): scaled so that a round finds about INLINE_PAGES new
 * frames, as SQLite's own checkpoints would (no more copying of hot pages than inline), doubling
 * while nothing is written.
 */
const MIN_PAUSE_MS = 10;
const MAX_PAUSE_MS = 250;
/** How long `stop` waits for the thread to finish its checkpoint before terminating it (ms). */
const STOP_GRACE_MS = 2000;

/** The worker's source (CommonJS, evaluated): no file to ship, the driver comes by its resolved path. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true, timeout: workerData.busyTimeoutMs });
let timer;
let pause = workerData.minPauseMs;
let lastLog = 0;
function round() {
  try {
    const [result] = db.pragma('wal_checkpoint(PASSIVE)');
    // Frames written since the last round (the writer restarts the WAL once it was all copied).
    const added = result.log >= lastLog ? result.log - lastLog : result.log;
    lastLog = result.log;
    // Aim at the next round when about targetFrames are new: SQLite's own cadence, off the writer's thread.
    const next = added === 0 ? pause * 2 : (pause * workerData.targetFrames) / added;
    pause = Math.min(workerData.maxPauseMs, Math.max(workerData.minPauseMs, next));
  } catch (error) {
    parentPort.postMessage({ failed: String((error && error.message) || error) });
    db.close();
    parentPort.close();
    return;
  }
  timer = setTimeout(round, pause);
}
parentPort.on('message', (message) => {
  if (message !== 'stop') return;
  clearTimeout(timer);
  db.close();
  parentPort.close();
});
round();
`;

function defaultOnError(error: Error): void {
  process.emitWarning(error.message, { code: 'LIFECYCLE_SQLITE_CHECKPOINTER' });
}

/** Starts and stops the background checkpoint thread of one store's connection. */
export class WalCheckpointer {
  private commits = 0;
  private worker: Worker | undefined;
  private state: 'waiting' | 'running' | 'failed' | 'stopped' = 'waiting';
  /** The file, resolved now: the thread opens it later, whatever the process's directory is by then. */
  private readonly path: string;

  constructor(
    private readonly db: Database.Database,
    private readonly busyTimeoutMs: number,
    private readonly onError: (error: Error) => void = defaultOnError,
  ) {
    this.path = db.name.startsWith('file:') ? db.name : resolve(db.name);
  }

  /** True while the thread runs. */
  get running(): boolean {
    return this.state === 'running';
  }

  /** Counts a commit; starts the thread at START_AFTER_COMMITS. */
  committed(): void {
    if (this.state !== 'waiting') return;
    this.commits += 1;
    if (this.commits >= START_AFTER_COMMITS) this.start();
  }

  /** Starts the thread now (the bench's hand-written floors write around `commit`). */
  start(): void {
    if (this.state !== 'waiting') return;
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    const workerData = { driver, path: this.path, busyTimeoutMs: this.busyTimeoutMs, minPauseMs: MIN_PAUSE_MS, maxPauseMs: MAX_PAUSE_MS, targetFrames: INLINE_PAGES };
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData });
    worker.unref();
    worker.on('message', (message: { failed?: string }) => this.fail(`checkpoint failed: ${message.failed ?? 'unknown error'}`));
    worker.on('error', (error) => this.fail(error.message));
    worker.on('exit', (code) => {
      if (this.state === 'running') this.fail(`the thread exited (code ${code})`);
    });
    this.worker = worker;
    this.state = 'running';
    this.db.pragma(`wal_autocheckpoint = ${SAFETY_NET_PAGES}`);
  }

  /** Stops the thread (letting its checkpoint in progress finish) and restores inline checkpoints. */
  async stop(): Promise<void> {
    const worker = this.worker;
    const wasRunning = this.state === 'running';
    this.state = 'stopped';
    if (worker === undefined || !wasRunning) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage('stop');
    const grace = setTimeout(() => void worker.terminate(), STOP_GRACE_MS);
    await exited;
    clearTimeout(grace);
    if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${INLINE_PAGES}`);
  }

  private fail(reason: string): void {
    if (this.state !== 'running') return;
    this.state = 'failed';
    void this.worker?.terminate();
    if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${INLINE_PAGES}`);
    this.onError(new Error(`lifecycle sqlite store ${this.db.name}: the background WAL checkpointer stopped (${reason}); checkpoints run inline again`));
  }
}
