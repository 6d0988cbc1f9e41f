/**
 * Simulated downstream services for the demo: the file service (content for every slot),
 * NLP student matching, spellcheck, NLP analysis, CJ assessment and AI feedback. Engine-level,
 * no HTTP: the simulator is the demo's outbox relay. It reads unpublished outbox rows, answers
 * the commands addressed to a simulated service after a random delay with the reference's
 * result event (same correlation_id) through `engine.dispatch`, and marks every row published
 * (a command only once its answer is committed, so a crash re-answers it; answer ids derive
 * from the command's event id, so a re-answer is an idempotent duplicate).
 *
 * Deterministic for a given seed when driven with `tick()` and an injected clock: the order
 * of rows is the outbox order, and every random draw happens in that order.
 *
 * Its engine must write the messages it applies itself to the outbox too (`outboxInternal: true`):
 * the simulated file service answers the tracker's EssaySlotCreated messages (the demo's stand-in
 * for a user uploading a file per slot), which an engine otherwise keeps in the audit log only.
 */
import type { Logger } from 'pino';
import { deterministicUuid } from '../adapters/engine/ids.js';
import type { LifecycleEngine } from '../adapters/engine/engine.js';
import { isLifecycleError } from '../adapters/errors.js';
import type { OutboxRecord } from '../adapters/store.js';
import { parseEnvelope } from '../machines/contracts/events.js';
import { answerFor, assignmentOf, type AnswerEnvelope, type SimulatedService } from './simulator/answers.js';
import { seededRandom, type Random } from './simulator/random.js';

export { SIMULATED_SERVICES, type SimulatedService } from './simulator/answers.js';

/** Options of a simulator. */
export interface SimulatorOptions {
  readonly engine: LifecycleEngine;
  /** PRNG seed (default: the current time, so every demo run differs). */
  readonly seed?: number;
  /** Probability that one item fails (a file, an essay's result), in [0, 1] (default 0.1). */
  readonly failureRate?: number;
  /** Per-service overrides of `failureRate`. */
  readonly failureRates?: Partial<Record<SimulatedService, number>>;
  /** Each answer comes after a delay drawn uniformly from [min, max] ms (default 300-1500). */
  readonly delayMs?: { readonly min: number; readonly max: number };
  /** The simulator's clock in ms (due times, answer timestamps). Default `Date.now`. */
  readonly now?: () => number;
  /** Pause between outbox polls when nothing happens, in `start()` mode (default 250 ms). */
  readonly pollIntervalMs?: number;
  /** Outbox rows read per poll (default 500). */
  readonly batchSize?: number;
  readonly logger?: Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;
  /**
   * Receives every outbox row the simulator relays, once it is marked published (the demo's
   * "broker": observers such as tests see BatchPipelineCompletedV1 here). Must not throw.
   */
  readonly onPublish?: (rows: readonly OutboxRecord[]) => void;
}

interface Job {
  readonly due: number;
  readonly seq: number;
  readonly row: OutboxRecord;
  readonly service: SimulatedService;
  readonly batch_id: string;
  readonly answer: AnswerEnvelope;
}

const MAX_ATTEMPTS = 3;
const PIPELINE_SERVICES: ReadonlySet<SimulatedService> = new Set(['spellcheck', 'nlp', 'cj_assessment', 'ai_feedback']);
/** Input or domain errors: retrying the same answer cannot help. */
const FINAL_ERRORS = ['INVALID_ENVELOPE', 'UNKNOWN_EVENT_TYPE', 'ENTITY_NOT_FOUND', 'EVENT_REJECTED', 'MACHINE_ERROR'] as const;

function checkRate(name: string, rate: number): number {
  if (!(rate >= 0 && rate <= 1)) throw new RangeError(`${name} must be within [0, 1], got ${rate}`);
  return rate;
}

/** The simulated services. Create with options, then `start()` (real time) or drive with `tick()`. */
export class Simulator {
  private readonly engine: LifecycleEngine;
  private readonly random: Random;
  private readonly now: () => number;
  private readonly delay: { readonly min: number; readonly max: number };
  private readonly rates: Record<SimulatedService, number>;
  private readonly pollIntervalMs: number;
  private readonly batchSize: number;
  private readonly logger: SimulatorOptions['logger'];
  private readonly onPublish: SimulatorOptions['onPublish'];
  private agenda: Job[] = [];
  private readonly inFlight = new Set<number>();
  private seq = 0;
  private chain: Promise<unknown> = Promise.resolve();
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private unsubscribe: (() => void) | undefined;

  /** Throws RangeError for a rate outside [0, 1] or a bad delay range. */
  constructor(options: SimulatorOptions) {
    this.engine = options.engine;
    this.random = seededRandom(options.seed ?? Date.now());
    this.now = options.now ?? Date.now;
    this.delay = options.delayMs ?? { min: 300, max: 1500 };
    if (!(this.delay.min >= 0 && this.delay.max >= this.delay.min)) {
      throw new RangeError(`delayMs must satisfy 0 <= min <= max, got ${this.delay.min}-${this.delay.max}`);
    }
    const base = checkRate('failureRate', options.failureRate ?? 0.1);
    this.rates = { content: base, student_matching: base, spellcheck: base, nlp: base, cj_assessment: base, ai_feedback: base };
    for (const [service, rate] of Object.entries(options.failureRates ?? {})) {
      this.rates[service as SimulatedService] = checkRate(`failureRates.${service}`, rate);
    }
    this.pollIntervalMs = options.pollIntervalMs ?? 250;
    this.batchSize = options.batchSize ?? 500;
    this.logger = options.logger;
    this.onPublish = options.onPublish;
  }

  /** Answers scheduled and not yet dispatched. */
  get pending(): number {
    return this.agenda.length;
  }

  /** When the earliest scheduled answer is due (ms), or undefined when none is. */
  nextDueAt(): number | undefined {
    return this.agenda[0]?.due;
  }

  /**
   * One round: reads the outbox (scheduling answers, publishing rows no simulated service
   * consumes), then dispatches every answer due at the clock's now. Rounds never overlap.
   * Resolves to the amount of work done (0 = nothing happened).
   */
  tick(): Promise<number> {
    const run = this.chain.then(() => this.round());
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Runs in real time: polls the outbox, wakes on every engine commit, dispatches answers when due. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.unsubscribe = this.engine.subscribe(() => this.wake(0));
    this.wake(0);
  }

  /**
   * Stops the loop and resolves once the round in progress (an answer being dispatched) has
   * finished. Answers scheduled but not yet due are dropped: their outbox rows stay unpublished,
   * so the next start answers them.
   */
  async stop(): Promise<void> {
    this.running = false;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    await this.chain;
    this.agenda = [];
    this.inFlight.clear();
  }

  private wake(delayMs: number): void {
    if (!this.running) return;
    const at = Date.now() + delayMs;
    if (this.timer !== undefined && this.timerAt <= at) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Number.POSITIVE_INFINITY;
      this.tick().then(
        (done) => this.afterRound(done),
        (error: unknown) => {
          this.logger?.error({ err: error }, 'simulator round failed');
          this.afterRound(0);
        },
      );
    }, delayMs);
  }

  private afterRound(done: number): void {
    const next = this.nextDueAt();
    const untilDue = next === undefined ? Number.POSITIVE_INFINITY : Math.max(0, next - this.now());
    this.wake(done > 0 ? 0 : Math.min(this.pollIntervalMs, untilDue));
  }

  private async round(): Promise<number> {
    const polled = await this.poll();
    let answered = 0;
    for (let job = this.agenda[0]; job !== undefined && job.due <= this.now(); job = this.agenda[0]) {
      this.agenda.shift();
      await this.answer(job);
      answered += 1;
    }
    return polled + answered;
  }

  /** Reads pending outbox rows once; returns how many rows it scheduled or published. */
  private async poll(): Promise<number> {
    const rows = await this.engine.store.pendingOutbox(this.batchSize);
    const publish: OutboxRecord[] = [];
    let scheduled = 0;
    for (const row of rows) {
      if (this.inFlight.has(row.id)) continue;
      if (this.schedule(row)) scheduled += 1;
      else publish.push(row);
    }
    await this.publish(publish);
    return scheduled + publish.length;
  }

  /** Schedules the answer to `row` when a simulated service consumes it; false otherwise. */
  private schedule(row: OutboxRecord): boolean {
    const parsed = parseEnvelope(row.envelope);
    if (!parsed.ok) return false;
    if (parsed.envelope.event_type === 'huleedu.batch.phase.cancel.command.v1') {
      this.dropPipelineAnswers(parsed.envelope.data.batch_id);
      return false;
    }
    const assignment = assignmentOf(parsed.envelope);
    if (assignment === undefined) return false;
    const due = this.now() + this.random.int(this.delay.min, this.delay.max);
    const answer = answerFor(parsed.envelope, {
      random: this.random,
      failureRate: this.rates[assignment.service],
      eventId: deterministicUuid(`simulator:${row.event_id}`),
      at: new Date(due).toISOString(),
    });
    if (answer === undefined) return false;
    this.inFlight.add(row.id);
    this.seq += 1;
    const job: Job = { due, seq: this.seq, row, service: assignment.service, batch_id: assignment.batch_id, answer };
    const index = this.agenda.findIndex((other) => other.due > due);
    this.agenda.splice(index === -1 ? this.agenda.length : index, 0, job);
    return true;
  }

  /** A cancelled batch: its in-flight phase answers are never sent (their commands count as delivered). */
  private dropPipelineAnswers(batchId: string): void {
    const dropped = this.agenda.filter((job) => job.batch_id === batchId && PIPELINE_SERVICES.has(job.service));
    if (dropped.length === 0) return;
    this.agenda = this.agenda.filter((job) => !dropped.includes(job));
    for (const job of dropped) this.inFlight.delete(job.row.id);
    this.logger?.info({ batch_id: batchId, dropped: dropped.length }, 'simulator: batch cancelled, answers dropped');
    void this.publish(dropped.map((job) => job.row)).catch((error: unknown) => this.logger?.error({ err: error }, 'simulator publish failed'));
  }

  /** Dispatches one answer, then marks its command published (or failed, to be retried). */
  private async answer(job: Job): Promise<void> {
    try {
      const result = await this.engine.dispatch(job.answer);
      this.logger?.debug(
        { service: job.service, batch_id: job.batch_id, event_type: job.answer.event_type, outcome: result.outcome, to: result.to },
        'simulated answer',
      );
    } catch (error) {
      const retry = !isLifecycleError(error, ...FINAL_ERRORS) && job.row.attempts + 1 < MAX_ATTEMPTS;
      this.logger?.warn({ err: error, service: job.service, event_type: job.answer.event_type, retry }, 'simulated answer failed');
      if (retry) {
        this.inFlight.delete(job.row.id);
        await this.engine.store.markPublishFailed(job.row.id, error instanceof Error ? error.message.slice(0, 2000) : String(error));
        return;
      }
    }
    this.inFlight.delete(job.row.id);
    await this.publish([job.row]);
  }

  private async publish(rows: readonly OutboxRecord[]): Promise<void> {
    if (rows.length === 0) return;
    await this.engine.store.markPublished(
      rows.map((row) => row.id),
      new Date(this.now()).toISOString(),
    );
    this.onPublish?.(rows);
  }
}
