/**
 * The one polling loop behind every background worker (timer scheduler, outbox relay, embedded
 * queue worker): a round runs, and the next starts at once when it found work, after the
 * interval when it found none, and after `afterFailure` when it threw. Every failure goes to
 * `onError` (never an unobserved rejection); `stop()` waits for the round in flight.
 */

/** A running loop. `stop()` resolves when the current round has finished. */
export interface Worker {
  /** Stops the loop; resolves when the current round has finished (nothing is cut off mid-commit). */
  stop(): Promise<void>;
}

/** A loop that can be told there is work now, instead of waiting out its idle interval. */
export interface WakeableWorker extends Worker {
  /**
   * Starts the next round at once when the loop is waiting out its interval; during a round, the
   * next one starts as soon as it ends. The interval stays the fallback (and the pace while idle);
   * a loop backing off after failures keeps its back-off.
   */
  wake(): void;
}

/** A running loop that can also tell when it ran out of work. */
export interface PollingWorker extends WakeableWorker {
  /** Resolves when a round finds nothing to do (or at once when stopped). */
  idle(): Promise<void>;
}

/** How one polling loop runs. */
export interface PollingOptions {
  /** Pause after a round that found nothing to do (ms). */
  readonly intervalMs: number;
  /** Receives every failure; the loop goes on after it. */
  readonly onError?: ((error: unknown) => void) | undefined;
  /** Pause after the `failures`-th failure in a row (ms; default: the interval). */
  readonly afterFailure?: (failures: number) => number;
}

/** The state of one loop (see startPolling). */
class PollingLoop implements PollingWorker {
  private stopped = false;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private current: Promise<void> = Promise.resolve();
  private idleWaiters: Array<() => void> = [];
  private running = false;
  private woken = false;

  constructor(
    private readonly round: () => Promise<number>,
    private readonly options: PollingOptions,
  ) {
    this.tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.current;
    this.wakeIdle();
  }

  idle(): Promise<void> {
    return this.stopped ? Promise.resolve() : new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  wake(): void {
    // A failing loop keeps its back-off: being woken is no news of recovery.
    if (this.stopped || this.failures > 0) return;
    if (this.running) {
      this.woken = true;
      return;
    }
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.tick();
  }

  private tick(): void {
    if (this.stopped) return;
    this.timer = undefined;
    this.running = true;
    this.woken = false;
    this.current = this.round()
      .then(
        (done) => this.afterRound(done),
        (error: unknown) => this.afterFailure(error),
      )
      .then((delay) => {
        this.running = false;
        // A wake between the round's end and here (a failing loop keeps its back-off) is not lost.
        const pause = this.woken && this.failures === 0 ? 0 : delay;
        if (!this.stopped) this.timer = setTimeout(() => this.tick(), pause);
      });
  }

  /** The pause after a round that did `done` units of work. */
  private afterRound(done: number): number {
    this.failures = 0;
    if (done > 0 || this.woken) return 0;
    this.wakeIdle();
    return this.options.intervalMs;
  }

  /** The pause after a failed round (its error reported). */
  private afterFailure(error: unknown): number {
    this.failures += 1;
    try {
      this.options.onError?.(error);
    } catch {
      // A failing error handler must not stop the loop (nor leave a rejection unobserved).
    }
    return (this.options.afterFailure ?? (() => this.options.intervalMs))(this.failures);
  }

  private wakeIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

/** Starts `round` (how much work it did; 0 = nothing to do) in a loop until stopped. */
export function startPolling(round: () => Promise<number>, options: PollingOptions): PollingWorker {
  return new PollingLoop(round, options);
}
