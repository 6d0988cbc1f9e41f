/**
 * The dead letters of the NATS transport: the messages of the dead-letter stream `<stream>_DEAD`
 * (subjects `lifecycle.dead.<topic>`), each with the error and its source in headers (see
 * DEAD_LETTER_HEADERS). The id of a dead letter is its sequence in that stream. See
 * ../dead-letters.ts for what listing and redriving mean; a redrive never republishes to the
 * lifecycle stream, it hands the stored envelope to the engine.
 */
import { jetstreamManager, type JetStreamManager, type StoredMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
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
import { messageOf } from '../support.js';
import { DEAD_LETTER_HEADERS, deadLetterStreamOf, DEFAULT_STREAM, PARTITION_KEY_HEADER } from './names.js';

/** Options of `natsDeadLetters`. */
export interface NatsDeadLetterOptions {
  /** The lifecycle stream whose dead letters these are (default LIFECYCLE). */
  readonly stream?: string;
}

function isNotFound(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === 10037 || code === 10059 || code === 404 || /not found/i.test(messageOf(error));
}

function letterOf(msg: StoredMsg): RawDeadLetter {
  const header = (name: string): string | null => {
    const value = msg.header?.get(name);
    return value === undefined || value === '' ? null : value;
  };
  const envelope = jsonOrText(msg.string());
  const sequence = header(DEAD_LETTER_HEADERS.sequence);
  return {
    queue: 'nats',
    id: String(msg.seq),
    ...eventOf(envelope),
    partition_key: header(PARTITION_KEY_HEADER),
    code: header(DEAD_LETTER_HEADERS.code),
    error: header(DEAD_LETTER_HEADERS.error),
    dead_at: msg.time.toISOString(),
    attempts: null,
    source: { stream: header(DEAD_LETTER_HEADERS.stream), subject: header(DEAD_LETTER_HEADERS.subject), sequence: sequence === null ? null : Number(sequence) },
    envelope,
  };
}

async function messageAt(jsm: JetStreamManager, stream: string, seq: number): Promise<StoredMsg | null> {
  try {
    return await jsm.streams.getMessage(stream, { seq });
  } catch (error) {
    if (isNotFound(error)) return null;
    throw error;
  }
}

/** The dead letters after `after`; none while the dead-letter stream does not exist yet (no worker has run). */
async function readRaw(jsm: JetStreamManager, stream: string, after: number, limit: number): Promise<RawDeadLetter[]> {
  let state;
  try {
    ({ state } = await jsm.streams.info(stream));
  } catch (error) {
    if (isNotFound(error)) return [];
    throw error;
  }
  const letters: RawDeadLetter[] = [];
  for (let seq = Math.max(state.first_seq, after + 1); seq <= state.last_seq && letters.length < limit; seq += 1) {
    const msg = await messageAt(jsm, stream, seq);
    if (msg !== null) letters.push(letterOf(msg));
  }
  return letters;
}

/**
 * The dead letters of the NATS dead-letter stream of `options.stream`, read over `nc` and redriven
 * through `engine`. A worker creates the stream (`ensureStream`); until then there are none.
 */
export async function natsDeadLetters(nc: NatsConnection, engine: RedriveEngine, options: NatsDeadLetterOptions = {}): Promise<DeadLetterQueue> {
  const jsm = await jetstreamManager(nc);
  const stream = deadLetterStreamOf(options.stream ?? DEFAULT_STREAM);
  const raw = async (id: string): Promise<RawDeadLetter> => {
    const msg = /^[1-9]\d{0,15}$/.test(id) ? await messageAt(jsm, stream, Number(id)) : null;
    if (msg === null) throw unknownDeadLetter('nats', id);
    return letterOf(msg);
  };
  const source: DeadLetterQueue = {
    kind: 'nats',
    list: async (listOptions = {}) => withApplied(engine, await readRaw(jsm, stream, Math.max(0, Math.floor(listOptions.after ?? 0)), listLimit(listOptions.limit))),
    show: async (id) => (await withApplied(engine, [await raw(id)]))[0]!,
    counts: () => countDeadLetters(source),
    redrive: async (id) => redriveOne(engine, await raw(id)),
    redriveAll: () => redrivePending(source, (letter) => redriveOne(engine, letter)),
  };
  return source;
}
