/**
 * Pieces shared by the queue adapters: the injected logger, capped exponential back-off,
 * abortable sleeps, and the partition key of an envelope (its batch id).
 */
import { parseEnvelope } from '../../machines/contracts/events.js';
import { batchIdOf } from '../../machines/routing.js';
import { isLifecycleError } from '../errors.js';

/** Where the queue adapters report what they do. Library code never writes to the console. */
export interface QueueLogger {
  /** Progress worth a line: connected, ready, stopped. */
  info(message: string, details?: Readonly<Record<string, unknown>>): void;
  /** Something went wrong and is retried (waiting for the server, a failed round). */
  warn(message: string, details?: Readonly<Record<string, unknown>>): void;
  /** A failure someone should look at: an input dead-lettered or set aside as dead, a connection error. */
  error(message: string, details?: Readonly<Record<string, unknown>>): void;
}

/**
 * Logs a warning when an applied answer is a partial refusal (the event was taken, but some
 * delivery of it or of a message it caused was refused): how queue workers notice one.
 */
export function warnPartialRefusal(
  logger: QueueLogger,
  where: string,
  answer: { readonly event_id?: string; readonly event_type?: string; readonly refused_deliveries?: ReadonlyArray<{ readonly machine: string; readonly entity_id: string; readonly reason?: string }> },
): void {
  const refused = answer.refused_deliveries ?? [];
  if (refused.length === 0) return;
  const first = refused[0];
  logger.warn(`${where}: ${answer.event_type ?? 'event'} ${answer.event_id ?? ''} was applied, but ${refused.length} of its deliveries were refused (first: ${first?.machine} "${first?.entity_id}": ${first?.reason ?? 'refused'})`, {
    event_id: answer.event_id,
    refused_deliveries: refused,
  });
}

/** A logger that drops everything (the default). */
export const silentLogger: QueueLogger = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/** Capped exponential back-off. */
export interface BackoffOptions {
  /** Delay after the first failure (ms, default 500). */
  readonly initialMs?: number;
  /** Upper bound of every delay (ms, default 30,000). */
  readonly maxMs?: number;
}

/** The delay before retry number `attempt` (1-based): initial * 2^(attempt-1), capped. */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const initial = Math.max(1, options.initialMs ?? 500);
  const max = Math.max(initial, options.maxMs ?? 30_000);
  const exponent = Math.min(Math.max(0, attempt - 1), 30);
  return Math.min(max, initial * 2 ** exponent);
}

/** "4 s", "500 ms": a delay for a log line. */
export function formatDelay(ms: number): string {
  return ms >= 1000 ? `${Number.isInteger(ms / 1000) ? ms / 1000 : (ms / 1000).toFixed(1)} s` : `${ms} ms`;
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted === true) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** The message of any thrown value. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A failure worth retrying as it is (the store or a lock), as opposed to a poison input. */
export function isTransient(error: unknown): boolean {
  return isLifecycleError(error, 'STORE_FAILURE', 'VERSION_CONFLICT', 'SHUTTING_DOWN');
}

/**
 * The ordering key of raw input: the batch id for a valid envelope (the same key as the outbox's
 * aggregate_id), a best guess from `data` for an invalid one, null when there is none.
 */
export function partitionKeyOf(raw: unknown): string | null {
  const parsed = parseEnvelope(raw);
  if (parsed.ok) return batchIdOf(parsed.envelope);
  if (typeof raw !== 'object' || raw === null) return null;
  const data = (raw as { data?: unknown }).data;
  if (typeof data === 'object' && data !== null) {
    for (const key of ['batch_id', 'parent_id', 'entity_id'] as const) {
      const value = (data as Record<string, unknown>)[key];
      if (typeof value === 'string' && value.length > 0) return value;
    }
  }
  const correlation = (raw as { correlation_id?: unknown }).correlation_id;
  return typeof correlation === 'string' && correlation.length > 0 ? correlation : null;
}

/** FNV-1a (32 bit) of a string's UTF-16 code units: stable across processes and versions. */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/** The partition (0 .. count-1) of a partition key; a missing key maps to partition 0. */
export function partitionOf(key: string | null, count: number): number {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`partition count must be a positive integer, got ${count}`);
  return key === null ? 0 : fnv1a(key) % count;
}
