/**
 * Dead letters, whichever queue holds them: the embedded queue's rows set aside (`dead`: given up
 * after maxAttempts failures; `invalid`: an input the engine answered invalid) and the messages of
 * the NATS dead-letter stream `<stream>_DEAD`. Both queues answer the same small port, so the worker
 * CLI and the HTTP routes list, show and redrive them the same way.
 *
 * REDRIVE goes through the engine like any other input (`dispatchMany` of the stored envelope), so
 * idempotency holds: a dead letter whose event already took effect (applied before it was set aside,
 * or redriven before) answers `duplicate` and changes nothing. A dead letter itself is a record of
 * a failure and is never changed or deleted by a redrive; whether it has taken effect since is read
 * from the engine's inbox (`applied`), and `redriveAll` takes only those that have not.
 */
import type { BatchItemResult } from '../engine/results.js';
import type { LifecycleEngine } from '../engine/engine.js';
import { LifecycleError } from '../errors.js';
import type { Json } from '../store.js';

/** Which queue holds a dead letter. */
export type DeadLetterQueueKind = 'embedded' | 'nats';

/** One dead letter as both queues show it. */
export interface DeadLetter {
  readonly queue: DeadLetterQueueKind;
  /** The embedded queue's row id, or the sequence in the NATS dead-letter stream (as text). */
  readonly id: string;
  /** The envelope's event id and type (null when the input was not an envelope). */
  readonly event_id: string | null;
  readonly event_type: string | null;
  /** The batch id it was ordered by, when known. */
  readonly partition_key: string | null;
  /** The error code and message that set it aside. */
  readonly code: string | null;
  readonly error: string | null;
  /** When it was set aside (embedded: done_at; NATS: the dead letter's publish time). */
  readonly dead_at: string | null;
  /** Embedded: processing attempts; NATS: null (the source sequence is in `source`). */
  readonly attempts: number | null;
  /** NATS: where the message came from. */
  readonly source: { readonly stream: string | null; readonly subject: string | null; readonly sequence: number | null } | null;
  /** True when the engine's inbox holds `event_id`: the event has taken effect (redriven, or applied before). */
  readonly applied: boolean;
  /** The stored input: the parsed JSON, or the raw text when it is not JSON. */
  readonly envelope: Json;
}

/** Dead-letter counts of one queue. */
export interface DeadLetterCounts {
  readonly queue: DeadLetterQueueKind;
  /** Every dead letter held. */
  readonly total: number;
  /** Those whose event has not taken effect (what `redriveAll` takes). */
  readonly pending: number;
}

/** What a redrive answered. */
export interface RedriveResult {
  readonly queue: DeadLetterQueueKind;
  readonly id: string;
  /** The engine's answer (`duplicate` when it had already taken effect; `invalid` when the cause is not fixed). */
  readonly result: BatchItemResult;
}

/** The part of the engine a redrive needs. */
export type RedriveEngine = Pick<LifecycleEngine, 'dispatchMany' | 'store'>;

/** Listing options: ascending id, only ids after `after`, at most `limit` (default 100, max 1000). */
export interface DeadLetterListOptions {
  readonly after?: number;
  readonly limit?: number;
}

/** The dead letters of one queue. */
export interface DeadLetterQueue {
  readonly kind: DeadLetterQueueKind;
  /** Dead letters in ascending id. */
  list(options?: DeadLetterListOptions): Promise<DeadLetter[]>;
  /** One dead letter; throws ENTITY_NOT_FOUND when there is none with this id. */
  show(id: string): Promise<DeadLetter>;
  counts(): Promise<DeadLetterCounts>;
  /** Sends the dead letter's input through the engine; throws ENTITY_NOT_FOUND for an unknown id. */
  redrive(id: string): Promise<RedriveResult>;
  /** Redrives every dead letter that has not taken effect, in id order. */
  redriveAll(): Promise<RedriveResult[]>;
}

/** A dead letter as a source reads it, before the inbox says whether it took effect. */
export type RawDeadLetter = Omit<DeadLetter, 'applied'>;

/** Clamps a listing limit. */
export function listLimit(limit: number | undefined): number {
  return Math.min(Math.max(Math.floor(limit ?? 100), 1), 1000);
}

/** Parses stored text as JSON, or keeps it as text. */
export function jsonOrText(text: string): Json {
  try {
    return JSON.parse(text) as Json;
  } catch {
    return text;
  }
}

/** The event id and type of a stored input, when it is an object that has them. */
export function eventOf(value: Json): { event_id: string | null; event_type: string | null } {
  const record = typeof value === 'object' && value !== null && !Array.isArray(value) ? value : {};
  return {
    event_id: typeof record.event_id === 'string' ? record.event_id : null,
    event_type: typeof record.event_type === 'string' ? record.event_type : null,
  };
}

/** The dead letters with `applied` read from the engine's inbox in one query. */
export async function withApplied(engine: RedriveEngine, raws: readonly RawDeadLetter[]): Promise<DeadLetter[]> {
  const ids = raws.flatMap((raw) => (raw.event_id === null ? [] : [raw.event_id]));
  const seen = ids.length === 0 ? new Map<string, Json>() : await engine.store.findInbox(ids);
  return raws.map((raw) => ({ ...raw, applied: raw.event_id !== null && seen.has(raw.event_id) }));
}

/** Sends one dead letter's input through the engine. */
export async function redriveOne(engine: RedriveEngine, letter: RawDeadLetter): Promise<RedriveResult> {
  const [result] = await engine.dispatchMany([letter.envelope]);
  if (result === undefined) throw new LifecycleError('STORE_FAILURE', `the engine gave no answer for dead letter ${letter.queue} ${letter.id}`);
  return { queue: letter.queue, id: letter.id, result };
}

/** ENTITY_NOT_FOUND for an unknown dead-letter id. */
export function unknownDeadLetter(queue: DeadLetterQueueKind, id: string): LifecycleError {
  return new LifecycleError('ENTITY_NOT_FOUND', `no dead letter ${id.slice(0, 100)} in the ${queue} queue`, { details: { queue, id: id.slice(0, 100) } });
}

/** Counts the dead letters of `source` page by page, and those not taken effect. */
export async function countDeadLetters(source: Pick<DeadLetterQueue, 'kind' | 'list'>): Promise<DeadLetterCounts> {
  let total = 0;
  let pending = 0;
  let after = 0;
  for (let page = await source.list({ after, limit: 1000 }); page.length > 0; page = await source.list({ after, limit: 1000 })) {
    total += page.length;
    pending += page.filter((letter) => !letter.applied).length;
    after = Number(page.at(-1)?.id ?? after);
  }
  return { queue: source.kind, total, pending };
}

/** Redrives, in order, every listed dead letter that has not taken effect (pages of 1000). */
export async function redrivePending(source: Pick<DeadLetterQueue, 'list'>, redrive: (letter: DeadLetter) => Promise<RedriveResult>): Promise<RedriveResult[]> {
  const results: RedriveResult[] = [];
  let after = 0;
  for (let page = await source.list({ after, limit: 1000 }); page.length > 0; page = await source.list({ after, limit: 1000 })) {
    for (const letter of page) if (!letter.applied) results.push(await redrive(letter));
    after = Number(page.at(-1)?.id ?? after);
  }
  return results;
}
