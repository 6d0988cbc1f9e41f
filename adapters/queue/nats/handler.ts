/**
 * How the consumer settles one message (see ACKNOWLEDGEMENT in the module comment of ../nats.ts):
 * a message of another partition is acked unread; an owned one is applied with the engine, then
 * acked, nak'd with a capped exponential delay, or copied to the dead-letter subject and terminated.
 */
import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';
import { headers } from '@nats-io/transport-node';
import type { LifecycleEngine } from '../../engine/engine.js';
import type { BatchItemResult } from '../../engine/results.js';
import { LifecycleError } from '../../errors.js';
import { backoffDelay, formatDelay, isTransient, messageOf, partitionKeyOf, partitionOf, type QueueLogger } from '../support.js';
import type { ConsumerStats, JetStreamConsumerOptions, SettledMessage } from './consumer.js';
import { DEAD_LETTER_HEADERS, deadLetterSubjectOf, PARTITION_KEY_HEADER } from './names.js';

interface Decoded {
  readonly key: string | null;
  readonly value?: unknown;
  readonly parseError?: string;
  readonly parsed: boolean;
}

function decode(msg: JsMsg, full: boolean): Decoded {
  const header = msg.headers?.get(PARTITION_KEY_HEADER);
  if (!full && header !== undefined && header.length > 0) return { key: header, parsed: false };
  let value: unknown;
  try {
    value = JSON.parse(msg.string()) as unknown;
  } catch (error) {
    return { key: header !== undefined && header.length > 0 ? header : null, parseError: `invalid JSON: ${messageOf(error)}`, parsed: true };
  }
  return { key: header !== undefined && header.length > 0 ? header : partitionKeyOf(value), value, parsed: true };
}

/** Header values cannot hold line breaks and should stay short. */
function headerValue(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').slice(0, 1000);
}

/** What a handler needs of its consumer. */
export interface HandlerContext {
  readonly engine: Pick<LifecycleEngine, 'dispatchMany'>;
  readonly js: JetStreamClient;
  readonly stream: string;
  /** The subject prefix ('' when none). */
  readonly prefix: string;
  /** The number of partitions P. */
  readonly count: number;
  readonly maxDeliver: number;
  readonly logger: QueueLogger;
  /** Counted into as messages are settled. */
  readonly stats: ConsumerStats;
  /** The consumer's options (`backoff`, `onSettled`). */
  readonly options: JetStreamConsumerOptions;
}

/** Settles the messages of one consumer; see the module comment. */
export class MessageHandler {
  constructor(private readonly context: HandlerContext) {}

  private topicOf(subject: string): string {
    const prefix = this.context.prefix;
    return subject.startsWith(prefix) ? subject.slice(prefix.length) : subject;
  }

  /** Counts how `msg` was settled and reports it (`onSettled`). */
  settle(partition: number, msg: JsMsg, action: SettledMessage['action'], key: string | null, eventId?: string): void {
    const { stats, options } = this.context;
    if (action === 'applied') stats.applied += 1;
    else if (action === 'duplicate') stats.duplicates += 1;
    else if (action === 'skipped') stats.skipped += 1;
    else if (action === 'dead_lettered') stats.deadLettered += 1;
    else stats.naks += 1;
    options.onSettled?.({
      partition,
      subject: msg.subject,
      streamSequence: msg.seq,
      action,
      partitionKey: key,
      ...(eventId === undefined ? {} : { eventId }),
    });
  }

  private nak(partition: number, msg: JsMsg, key: string | null, why: string): void {
    const { logger, options } = this.context;
    const delay = backoffDelay(msg.info.deliveryCount, options.backoff);
    logger.warn(`partition ${partition}: ${why}; message ${msg.seq} on ${msg.subject} retried in ${formatDelay(delay)} (delivery ${msg.info.deliveryCount})`);
    msg.nak(delay);
    this.settle(partition, msg, 'nak', key);
  }

  private async deadLetter(partition: number, msg: JsMsg, key: string | null, code: string, error: string): Promise<void> {
    const { js, logger, prefix, stream } = this.context;
    const topic = this.topicOf(msg.subject);
    const h = headers();
    h.set(DEAD_LETTER_HEADERS.code, headerValue(code));
    h.set(DEAD_LETTER_HEADERS.error, headerValue(error));
    h.set(DEAD_LETTER_HEADERS.subject, msg.subject);
    h.set(DEAD_LETTER_HEADERS.stream, stream);
    h.set(DEAD_LETTER_HEADERS.sequence, String(msg.seq));
    if (key !== null) h.set(PARTITION_KEY_HEADER, key);
    try {
      await js.publish(deadLetterSubjectOf(topic, prefix), msg.data, { msgID: `dead:${stream}:${msg.seq}`, headers: h });
    } catch (publishError) {
      logger.error(`partition ${partition}: could not dead-letter message ${msg.seq} (${code}: ${error}): ${messageOf(publishError)}`);
      this.nak(partition, msg, key, 'dead-letter publish failed');
      return;
    }
    logger.error(`partition ${partition}: message ${msg.seq} on ${msg.subject} dead-lettered to ${deadLetterSubjectOf(topic, prefix)}: ${code}: ${error}`, {
      stream_sequence: msg.seq,
      code,
    });
    // No reason text: servers before 2.10 do not recognise "+TERM <reason>" and would redeliver.
    // The reason travels in the dead letter's headers instead.
    msg.term();
    this.settle(partition, msg, 'dead_lettered', key);
  }

  /** Applies `msg` when it belongs to `partition` (acks it unread otherwise), then acks, naks or dead-letters it. */
  async handle(partition: number, msg: JsMsg): Promise<void> {
    const { engine, count, maxDeliver } = this.context;
    const first = decode(msg, false);
    if (partitionOf(first.key, count) !== partition) {
      msg.ack();
      this.settle(partition, msg, 'skipped', first.key);
      return;
    }
    const decoded = first.parsed ? first : decode(msg, true);
    if (decoded.parseError !== undefined) {
      await this.deadLetter(partition, msg, decoded.key, 'INVALID_ENVELOPE', decoded.parseError);
      return;
    }
    const eventId = (decoded.value as { event_id?: unknown } | null)?.event_id;
    const id = typeof eventId === 'string' ? eventId : undefined;
    let answer: BatchItemResult | undefined;
    try {
      [answer] = await engine.dispatchMany([decoded.value]);
    } catch (error) {
      if (isTransient(error) || msg.info.deliveryCount < maxDeliver) {
        this.nak(partition, msg, decoded.key, `${error instanceof LifecycleError ? error.code : 'error'}: ${messageOf(error)}`);
        return;
      }
      await this.deadLetter(partition, msg, decoded.key, error instanceof LifecycleError ? error.code : 'PROCESSING_FAILED', `failed ${msg.info.deliveryCount} times: ${messageOf(error)}`);
      return;
    }
    if (answer === undefined) {
      this.nak(partition, msg, decoded.key, 'the engine gave no answer');
      return;
    }
    if (answer.outcome === 'invalid') {
      await this.deadLetter(partition, msg, decoded.key, answer.code, answer.message);
      return;
    }
    msg.ack();
    this.settle(partition, msg, answer.outcome === 'duplicate' ? 'duplicate' : 'applied', decoded.key, id);
  }
}
