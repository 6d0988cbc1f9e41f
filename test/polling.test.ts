/**
 * The polling loop behind the timer scheduler, the outbox relay and the embedded queue worker,
 * on fake timers (no test sleeps).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { startPolling } from '../adapters/engine/polling.js';

/** A round that answers the given amounts (then 0) or throws where the script says `Error`. */
function scripted(script: ReadonlyArray<number | Error>) {
  const calls: number[] = [];
  let at = 0;
  const round = (): Promise<number> => {
    // "At once" is a zero-delay timer, which runs a millisecond later: times are kept to 10 ms.
    calls.push(Math.round(Date.now() / 10) * 10);
    const next = script[at];
    at += 1;
    if (next instanceof Error) return Promise.reject(next);
    return Promise.resolve(next ?? 0);
  };
  return { round, calls };
}

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('startPolling', () => {
  it('runs again at once while rounds find work, and waits the interval after one that found none', async () => {
    const { round, calls } = scripted([3, 2, 0, 1, 0]);
    const worker = startPolling(round, { intervalMs: 100 });
    await vi.advanceTimersByTimeAsync(250);
    await worker.stop();
    expect(calls).toEqual([0, 0, 0, 100, 100, 200]);
  });

  it('reports each failure to onError and waits afterFailure(failures in a row), which a success resets', async () => {
    const boom = new Error('store down');
    const { round, calls } = scripted([boom, boom, 1, boom]);
    const errors: unknown[] = [];
    const worker = startPolling(round, { intervalMs: 100, onError: (e) => errors.push(e), afterFailure: (n) => n * 1000 });
    await vi.advanceTimersByTimeAsync(5000);
    await worker.stop();
    expect(errors).toEqual([boom, boom, boom]);
    expect(calls.slice(0, 5)).toEqual([0, 1000, 3000, 3000, 4000]);
  });

  it('goes on when onError itself throws, and waits the interval after a failure by default', async () => {
    const { round, calls } = scripted([new Error('x'), new Error('y'), 1]);
    const worker = startPolling(round, {
      intervalMs: 50,
      onError: () => {
        throw new Error('handler broke');
      },
    });
    await vi.advanceTimersByTimeAsync(120);
    await worker.stop();
    expect(calls).toEqual([0, 50, 100, 100]);
  });

  it('stop waits for the round in flight and no round starts after it; idle resolves when a round finds nothing, and at once once stopped', async () => {
    let finish: (n: number) => void = () => undefined;
    let rounds = 0;
    const worker = startPolling(() => {
      rounds += 1;
      return rounds === 1 ? new Promise<number>((resolve) => (finish = resolve)) : Promise.resolve(0);
    }, { intervalMs: 10 });
    const idle = worker.idle();
    let stopped = false;
    const stopping = worker.stop().then(() => (stopped = true));
    await vi.advanceTimersByTimeAsync(100);
    expect(stopped).toBe(false);
    finish(5);
    await stopping;
    await idle;
    await vi.advanceTimersByTimeAsync(100);
    expect(rounds).toBe(1);
    await expect(worker.idle()).resolves.toBeUndefined();
  });

  it('idle resolves after the first round that finds nothing to do', async () => {
    const { round } = scripted([2, 1, 0]);
    const worker = startPolling(round, { intervalMs: 1000 });
    let idleAt = -1;
    void worker.idle().then(() => (idleAt = Date.now()));
    await vi.advanceTimersByTimeAsync(10);
    expect(idleAt).toBeGreaterThanOrEqual(0);
    expect(idleAt).toBeLessThan(10);
    await worker.stop();
  });

  it('wake starts the next round at once while the loop waits out its interval', async () => {
    const { round, calls } = scripted([0, 0, 0]);
    const worker = startPolling(round, { intervalMs: 1000 });
    await vi.advanceTimersByTimeAsync(300);
    worker.wake();
    await vi.advanceTimersByTimeAsync(200);
    await worker.stop();
    expect(calls).toEqual([0, 300]);
  });

  it('woken during a round (a commit while the relay publishes), the loop runs the next round right after it, not after the interval', async () => {
    const finishers: Array<(done: number) => void> = [];
    const worker = startPolling(() => new Promise<number>((resolve) => finishers.push(resolve)), { intervalMs: 1000 });
    worker.wake();
    finishers[0]?.(0);
    await vi.advanceTimersByTimeAsync(10);
    expect(finishers).toHaveLength(2);
    finishers[1]?.(0);
    await vi.advanceTimersByTimeAsync(500);
    expect(finishers).toHaveLength(2);
    const stopping = worker.stop();
    await stopping;
  });

  it('a wake that lands after a round has ended but before its pause is set is not lost', async () => {
    const finishers: Array<(done: number) => void> = [];
    const worker = startPolling(() => new Promise<number>((resolve) => finishers.push(resolve)), { intervalMs: 1000 });
    finishers[0]?.(0);
    // Runs after the round's result is handled and before the loop sets its pause.
    queueMicrotask(() => worker.wake());
    await vi.advanceTimersByTimeAsync(10);
    expect(finishers).toHaveLength(2);
    finishers[1]?.(0);
    await worker.stop();
  });

  it('wake does not cut short the back-off of a failing loop', async () => {
    const { round, calls } = scripted([new Error('down'), 0]);
    const worker = startPolling(round, { intervalMs: 1000, onError: () => undefined, afterFailure: () => 500 });
    await vi.advanceTimersByTimeAsync(100);
    worker.wake();
    await vi.advanceTimersByTimeAsync(450);
    await worker.stop();
    expect(calls).toEqual([0, 500]);
  });
});
