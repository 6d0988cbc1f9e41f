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

/** A running loop that can also tell when it ran out of work. */
export interface PollingWorker extends Worker {
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

/** Starts `round` (how much work it did; 0 = nothing to do) in a loop until stopped. */
export function startPolling(round: () => Promise<number>, options: PollingOptions): PollingWorker {
  const afterFailure = options.afterFailure ?? (() => options.intervalMs);
  let stopped = false;
  let failures = 0;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> = Promise.resolve();
  let idleWaiters: Array<() => void> = [];
  const wakeIdle = (): void => {
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const resolve of waiters) resolve();
  };
  const tick = (): void => {
    if (stopped) return;
    current = round()
      .then(
        (done) => {
          failures = 0;
          if (done > 0) return 0;
          wakeIdle();
          return options.intervalMs;
        },
        (error: unknown) => {
          failures += 1;
          try {
            options.onError?.(error);
          } catch {
            // A failing error handler must not stop the loop (nor leave a rejection unobserved).
          }
          return afterFailure(failures);
        },
      )
      .then((delay) => {
        if (!stopped) timer = setTimeout(tick, delay);
      });
  };
  tick();
  return {
    async stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      await current;
      wakeIdle();
    },
    idle() {
      return stopped ? Promise.resolve() : new Promise((resolve) => idleWaiters.push(resolve));
    },
  };
}
