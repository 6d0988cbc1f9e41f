/**
 * The dead letters of the embedded queue: its rows set aside with outcome `dead` (failed
 * maxAttempts times) or `invalid` (the engine answered invalid: not an envelope, unknown type,
 * missing entity, machine error). See ../dead-letters.ts for what listing and redriving mean.
 */
import type Database from 'better-sqlite3';
import {
  countDeadLetters,
  eventOf,
  jsonOrText,
  listLimit,
  redriveOne,
  redrivePending,
  unknownDeadLetter,
  withApplied,
  type DeadLetterQueue,
  type RawDeadLetter,
  type RedriveEngine,
} from '../dead-letters.js';
import type { EmbeddedQueue } from './queue.js';
import { settle } from './statements.js';
import type { QueueRow } from './types.js';

const DEAD = "outcome IN ('dead', 'invalid')";

interface DeadStatements {
  readonly list: Database.Statement<[number, number], QueueRow>;
  readonly one: Database.Statement<[number], QueueRow>;
}

function prepareDead(db: Database.Database): DeadStatements {
  return {
    list: db.prepare<[number, number], QueueRow>(`SELECT * FROM queue WHERE ${DEAD} AND id > ? ORDER BY id LIMIT ?`),
    one: db.prepare<[number], QueueRow>(`SELECT * FROM queue WHERE ${DEAD} AND id = ?`),
  };
}

/** A row as a dead letter: the code is the `CODE: ` prefix the queue writes into last_error. */
function letterOf(row: QueueRow): RawDeadLetter {
  const envelope = jsonOrText(row.envelope);
  const code = row.last_error === null ? null : (/^([A-Z][A-Z_]+): /.exec(row.last_error)?.[1] ?? null);
  return {
    queue: 'embedded',
    id: String(row.id),
    ...eventOf(envelope),
    partition_key: row.partition_key,
    code,
    error: row.last_error,
    dead_at: row.done_at,
    attempts: row.attempts,
    source: null,
    envelope,
  };
}

function rowId(id: string): number | undefined {
  return /^[1-9]\d{0,15}$/.test(id) ? Number(id) : undefined;
}

/** The dead letters of `queue`, redriven through `engine`. */
export function embeddedDeadLetters(queue: EmbeddedQueue, engine: RedriveEngine): DeadLetterQueue {
  const s = prepareDead(queue.db);
  const raw = async (id: string): Promise<RawDeadLetter> => {
    const number = rowId(id);
    const row = number === undefined ? undefined : await settle('dead letter', () => s.one.get(number));
    if (row === undefined) throw unknownDeadLetter('embedded', id);
    return letterOf(row);
  };
  const source: DeadLetterQueue = {
    kind: 'embedded',
    list: async (options = {}) => {
      const rows = await settle('dead letters', () => s.list.all(Math.max(0, Math.floor(options.after ?? 0)), listLimit(options.limit)));
      return withApplied(engine, rows.map(letterOf));
    },
    show: async (id) => (await withApplied(engine, [await raw(id)]))[0]!,
    counts: () => countDeadLetters(source),
    redrive: async (id) => redriveOne(engine, await raw(id)),
    redriveAll: () => redrivePending(source, (letter) => redriveOne(engine, letter)),
  };
  return source;
}
