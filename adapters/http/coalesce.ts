/**
 * Group commit across requests. Dispatches that arrive in the same turn of the event loop (the
 * envelopes of concurrent `POST /events` and batch-route requests, already validated and
 * authorized) are committed together in one `engine.dispatchMany` transaction, in arrival
 * order, and each request gets exactly the answer it would have got on its own: its own result,
 * or its own error (an item answered `invalid` becomes the LifecycleError `dispatch` throws).
 *
 * - A lone dispatch goes straight to `engine.dispatch` (no added latency, nothing changes at
 *   low load).
 * - A request's own group (`{ "events": [...] }`) stays in one transaction: groups are never
 *   split, at most `maxEvents` events are merged unless a single group is larger.
 * - If the merged commit fails as a whole (store failure, an unexpected error in one item),
 *   nothing of it was committed, and each request is retried on its own, so one request's
 *   failure never becomes another's.
 * - An answer is given only after the transaction holding the request's events committed.
 */
import type { BatchItemResult, DeferredItemResult, DispatchResult, InvalidItemResult } from '../engine/results.js';
import { ErrorCode, LifecycleError } from '../errors.js';
import type { EnginePort } from './context.js';

type Engine = Pick<EnginePort, 'dispatch' | 'dispatchMany'>;

interface Entry {
  readonly raws: readonly unknown[];
  /** True for a single dispatch (answered with a DispatchResult or an error). */
  readonly single: boolean;
  readonly resolve: (results: readonly BatchItemResult[]) => void;
  readonly reject: (error: unknown) => void;
}

/** The error `engine.dispatch` throws for an item `dispatchMany` answered `invalid` or `deferred`. */
export function errorOfInvalid(item: InvalidItemResult | DeferredItemResult): Error {
  if (Object.hasOwn(ErrorCode, item.code)) return new LifecycleError(item.code as ErrorCode, item.message, { details: item.details });
  return new Error(`${item.code}: ${item.message}`);
}

function singleAnswer(results: readonly BatchItemResult[]): DispatchResult {
  const [result] = results;
  if (result === undefined) throw new LifecycleError('STORE_FAILURE', 'dispatch produced no result');
  if (result.outcome === 'invalid' || result.outcome === 'deferred') throw errorOfInvalid(result);
  return result;
}

/** Merges concurrent dispatches into group commits (see the module comment). */
export class DispatchCoalescer {
  private queue: Entry[] = [];
  private queuedEvents = 0;
  private scheduled = false;

  /** `maxEvents` 1 turns merging off: every call goes to the engine on its own. */
  constructor(
    private readonly engine: Engine,
    private readonly maxEvents: number,
  ) {}

  /** Like `engine.dispatch`. */
  async dispatch(raw: unknown): Promise<DispatchResult> {
    if (this.maxEvents <= 1) return this.engine.dispatch(raw);
    return singleAnswer(await this.enqueue([raw], true));
  }

  /** Like `engine.dispatchMany` (indexes of `invalid` items are positions in `raws`). */
  async dispatchMany(raws: readonly unknown[]): Promise<BatchItemResult[]> {
    if (this.maxEvents <= 1 || raws.length === 0) return this.engine.dispatchMany(raws);
    return [...(await this.enqueue(raws, false))];
  }

  private enqueue(raws: readonly unknown[], single: boolean): Promise<readonly BatchItemResult[]> {
    return new Promise((resolve, reject) => {
      if (this.queue.length > 0 && this.queuedEvents + raws.length > this.maxEvents) this.flush();
      this.queue.push({ raws, single, resolve, reject });
      this.queuedEvents += raws.length;
      if (this.queuedEvents >= this.maxEvents) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.flush();
        });
      }
    });
  }

  private flush(): void {
    const entries = this.queue;
    if (entries.length === 0) return;
    this.queue = [];
    this.queuedEvents = 0;
    if (entries.length === 1) {
      void this.alone(entries[0] as Entry);
      return;
    }
    void this.together(entries);
  }

  /** One request: exactly what it would do without this class. */
  private async alone(entry: Entry): Promise<void> {
    try {
      if (entry.single) entry.resolve([await this.engine.dispatch(entry.raws[0])]);
      else entry.resolve(await this.engine.dispatchMany(entry.raws));
    } catch (error) {
      entry.reject(error);
    }
  }

  private async together(entries: readonly Entry[]): Promise<void> {
    let results: BatchItemResult[];
    try {
      results = await this.engine.dispatchMany(entries.flatMap((entry) => entry.raws));
    } catch {
      // Nothing of the merged transaction committed: each request on its own.
      for (const entry of entries) void this.alone(entry);
      return;
    }
    let offset = 0;
    for (const entry of entries) {
      const own = results.slice(offset, offset + entry.raws.length).map((item) => (item.outcome === 'invalid' || item.outcome === 'deferred' ? { ...item, index: item.index - offset } : item));
      offset += entry.raws.length;
      entry.resolve(own);
    }
  }
}
