/**
 * The parent's side of worker.ts: a child process (`node --import tsx`, the reliability suite's
 * kit) with an engine on a SQLite file, told what to open and which commands to apply, answering
 * each applied command with its outcome. A worker that kills itself at its crash point answers
 * the commands it confirmed before, and how it ended.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT, spawnScript, waitForExit, type Child } from '../support/reliability-kit.js';
import type { Command } from './commands.js';
import type { StepOutcome } from './steps.js';
import type { CrashPoint, WorkerRequest } from './worker.js';

const WORKER = join(PROJECT_ROOT, 'test', 'property', 'worker.ts');
/** Bound of one wait for a worker's answer (start-up under load included). */
const ANSWER_MS = 60_000;

/** Confirmed outcomes of a `run`, and whether the worker was still alive at its end. */
export interface RunAnswer {
  readonly confirmed: ReadonlyArray<readonly [index: number, outcome: StepOutcome]>;
  /** `idle`: every command was applied; otherwise the signal or exit code that ended the worker. */
  readonly end: 'idle' | { readonly signal: NodeJS.Signals | null; readonly code: number | null };
}

/** A running worker process. */
export class PropertyWorker {
  private readonly queue: string[] = [];
  private wake: (() => void) | undefined;
  private exit: { signal: NodeJS.Signals | null; code: number | null } | undefined;

  private constructor(private readonly child: Child) {
    child.onLine((line) => {
      this.queue.push(line);
      this.wake?.();
    });
    void child.exited.then((exit) => {
      this.exit = exit;
      this.wake?.();
    });
  }

  /** Starts a worker and waits until it can take requests. */
  static async start(): Promise<PropertyWorker> {
    const worker = new PropertyWorker(spawnScript(WORKER, []));
    if ((await worker.until((line) => line === 'ready')) === undefined) throw new Error(`property worker did not start: ${worker.child.stderr()}`);
    return worker;
  }

  /** Opens `db` with `commands` (written beside it as JSON), optionally with a crash point. */
  async open(options: { db: string; commands: readonly Command[]; crash?: CrashPoint; acceptInternalEvents?: boolean }): Promise<void> {
    const commandsFile = `${options.db}.commands.json`;
    writeFileSync(commandsFile, JSON.stringify(options.commands));
    const { db, crash, acceptInternalEvents } = options;
    this.send({ open: { db, commands: commandsFile, ...(crash === undefined ? {} : { crash }), ...(acceptInternalEvents === true ? { acceptInternalEvents } : {}) } });
    if ((await this.until((line) => line === 'opened')) === undefined) throw new Error(`property worker ended while opening ${db}: ${this.child.stderr()}`);
  }

  /** Applies the commands at `indices` in order; answers when all are done or the worker has ended. */
  async run(indices: readonly number[]): Promise<RunAnswer> {
    const confirmed: Array<readonly [number, StepOutcome]> = [];
    this.send({ run: indices });
    const last = await this.until((line) => {
      const ok = /^ok (\d+) (\S+)$/.exec(line);
      if (ok !== null) confirmed.push([Number(ok[1]), ok[2] as StepOutcome]);
      return line === 'idle';
    });
    return { confirmed, end: last === 'idle' ? 'idle' : this.exit! };
  }

  /** Closes the open file; the worker stays for the next `open`. */
  async close(): Promise<void> {
    this.send({ close: true });
    if ((await this.until((line) => line === 'closed')) === undefined) throw new Error(`property worker ended while closing: ${this.child.stderr()}`);
  }

  /** Closes the open file and ends the process. */
  async stop(): Promise<void> {
    if (this.exit !== undefined) return;
    this.child.process.stdin.end();
    await waitForExit(this.child, ANSWER_MS);
  }

  /** Whether the process still runs. */
  get alive(): boolean {
    return this.exit === undefined;
  }

  /** Ends the process at once (a test that failed half way). */
  kill(): void {
    if (this.exit === undefined) this.child.process.kill('SIGKILL');
  }

  private send(request: WorkerRequest): void {
    this.child.send(JSON.stringify(request));
  }

  /**
   * Consumes output lines until one satisfies `done` (answered) or the worker exits (answered
   * `undefined`); an `err` line or silence beyond ANSWER_MS fails.
   */
  private async until(done: (line: string) => boolean): Promise<string | undefined> {
    const deadline = Date.now() + ANSWER_MS;
    for (;;) {
      const line = this.queue.shift();
      if (line !== undefined) {
        if (line.startsWith('err ')) throw new Error(`property worker failed: ${line}\n${this.child.stderr()}`);
        if (done(line)) return line;
        continue;
      }
      if (this.exit !== undefined) return undefined;
      if (Date.now() > deadline) throw new Error(`property worker silent for ${ANSWER_MS} ms; stderr:\n${this.child.stderr()}`);
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, 1000);
      });
      this.wake = undefined;
    }
  }
}

/**
 * Workers for runs that use one up each (a crash kills it): the next one starts while the current
 * run goes on, so a run does not wait for a process start. `close` ends the spare.
 */
export class WorkerSupply {
  private spare: Promise<PropertyWorker> | undefined;

  /** A started worker; another one starts in the background. */
  take(): Promise<PropertyWorker> {
    const next = this.spare ?? PropertyWorker.start();
    this.spare = PropertyWorker.start();
    // A spare that fails to start fails the run that takes it, not an unobserved promise.
    void this.spare.catch(() => undefined);
    return next;
  }

  /** Ends the spare worker. */
  async close(): Promise<void> {
    const spare = this.spare;
    this.spare = undefined;
    if (spare !== undefined) await (await spare).stop();
  }
}

/**
 * Two workers that serve run after run; a pair that failed half way (a worker ended, or output of
 * an unfinished run may still come) is killed and replaced by the next `get`.
 */
export class WorkerPair {
  private workers: Promise<readonly [PropertyWorker, PropertyWorker]> | undefined;

  /** Two live workers. */
  async get(): Promise<readonly [PropertyWorker, PropertyWorker]> {
    const current = await this.workers?.catch(() => undefined);
    if (current?.every((worker) => worker.alive) === true) return current;
    current?.forEach((worker) => worker.kill());
    this.workers = Promise.all([PropertyWorker.start(), PropertyWorker.start()]);
    return this.workers;
  }

  /** Kills both workers (after a run that failed half way); the next `get` starts new ones. */
  discard(): void {
    void this.workers?.then((workers) => workers.forEach((worker) => worker.kill())).catch(() => undefined);
    this.workers = undefined;
  }

  /** Ends both workers. */
  async close(): Promise<void> {
    const workers = (await this.workers?.catch(() => undefined)) ?? [];
    this.workers = undefined;
    for (const worker of workers) await worker.stop();
  }
}
