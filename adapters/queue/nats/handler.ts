/**
 * How the consumer settles a group of messages of one partition (see ACKNOWLEDGEMENT in the module
 * comment of ../nats.ts): messages of other partitions are acked unread; the owned ones are applied
 * IN STREAM ORDER with one `dispatchMany` (one transaction), then acked; an item the engine answers
 * `invalid` (and a message that is not JSON) is copied to the dead-letter subject and terminated;
 * an item it answers `deferred` (it cannot apply it now) is nak'd with a delay and waits, with the
 * newer messages of its batch, for a delivery to a worker that can (deferrals.ts). A
 * failing transaction is retried here, with a capped exponential delay, as long as this process
 * holds the partition: never nak'd, since a nak'd message waits while newer ones of the partition
 * would be handed out.
 */
import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';
import { headers } from '@nats-io/transport-node';
import type { LifecycleEngine } from '../../engine/engine.js';
import type { BatchItemResult } from '../../engine/results.js';
import { LifecycleError } from '../../errors.js';
import { backoffDelay, formatDelay, isTransient, messageOf, partitionKeyOf, partitionOf, sleep, warnPartialRefusal, type QueueLogger } from '../support.js';
import type { ConsumerStats, JetStreamConsumerOptions, SettledMessage } from './consumer.js';
import { Deferrals } from './deferrals.js';
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

const bySequence = (a: JsMsg, b: JsMsg): number => a.seq - b.seq;

/** An owned message to apply. */
interface Owned {
  readonly msg: JsMsg;
  readonly seq: number;
  readonly key: string | null;
  readonly value: unknown;
}

/** The answer for one owned message: the engine's, or a failure that makes it poison. */
type Answer = BatchItemResult | { readonly outcome: 'failed'; readonly code: string; readonly message: string };

/** How applying a group went. */
type Attempt = { readonly kind: 'ok'; readonly answers: BatchItemResult[] } | { readonly kind: 'poison'; readonly error: unknown } | { readonly kind: 'gave_up' };

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
  /** Aborted on stop: ends retry delays early. */
  readonly signal: AbortSignal;
}

/** Settles the messages of one consumer; see the module comment. */
export class MessageHandler {
  /** Per partition, the messages handed back to wait because the engine deferred them (deferrals.ts). */
  private readonly deferrals = new Map<number, Deferrals>();

  constructor(private readonly context: HandlerContext) {}

  /** Forgets the waiting messages of `partition`: call when this process (re)acquires its lease. */
  resetPartition(partition: number): void {
    this.deferrals.get(partition)?.clear();
  }

  private deferralsOf(partition: number): Deferrals {
    let deferrals = this.deferrals.get(partition);
    if (deferrals === undefined) this.deferrals.set(partition, (deferrals = new Deferrals()));
    return deferrals;
  }

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
    else if (action === 'deferred') stats.deferred += 1;
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

  /**
   * Settles `msgs` (one partition, stream order): acks foreign ones, applies the owned ones in one
   * transaction (retrying while `live()`), then acks or dead-letters each. Returns the messages left
   * unsettled because `live()` turned false (stopping, or the partition's lease lost), in order.
   */
  async handleGroup(partition: number, msgs: readonly JsMsg[], live: () => boolean): Promise<JsMsg[]> {
    const owned: Owned[] = [];
    const unsettled: JsMsg[] = [];
    for (const msg of msgs) {
      const first = decode(msg, false);
      if (partitionOf(first.key, this.context.count) !== partition) {
        msg.ack();
        this.settle(partition, msg, 'skipped', first.key);
        continue;
      }
      const decoded = first.parsed ? first : decode(msg, true);
      if (decoded.parseError === undefined) owned.push({ msg, seq: msg.seq, key: decoded.key, value: decoded.value });
      else if (!(await this.deadLetter(partition, msg, decoded.key, 'INVALID_ENVELOPE', decoded.parseError, live))) unsettled.push(msg);
    }
    if (owned.length > 0) this.context.stats.groups += 1;
    const deferrals = this.deferralsOf(partition);
    const { apply, wait } = deferrals.split(owned);
    for (const item of wait) this.deferLater(partition, item, 'an older message of its batch waits for a worker that can apply it');
    const answers = await this.apply(partition, apply, live);
    if (answers === undefined) return [...unsettled, ...apply.map((item) => item.msg)].sort(bySequence);
    for (const [index, item] of apply.entries()) {
      const answer = answers[index]!;
      if (answer.outcome === 'deferred') {
        this.deferLater(partition, item, `${answer.code}: ${answer.message}`);
        continue;
      }
      if (answer.outcome === 'invalid' || answer.outcome === 'failed') {
        if (!(await this.deadLetter(partition, item.msg, item.key, answer.code, answer.message, live))) unsettled.push(item.msg);
        else deferrals.settled(item.key, item.seq);
        continue;
      }
      item.msg.ack();
      deferrals.settled(item.key, item.seq);
      warnPartialRefusal(this.context.logger, `partition ${partition}`, answer);
      this.settle(partition, item.msg, answer.outcome === 'duplicate' ? 'duplicate' : 'applied', item.key, answer.event_id);
    }
    return unsettled.sort(bySequence);
  }

  /**
   * Hands a message this process cannot apply now back to the server with a delay (nak), for a
   * later delivery: to this process, or to a worker running newer code once it holds the partition.
   * Never dead-lettered: nothing is wrong with the message.
   */
  private deferLater(partition: number, item: Owned, why: string): void {
    const deliveries = item.msg.info.deliveryCount;
    const delay = backoffDelay(deliveries, this.context.options.backoff);
    item.msg.nak(delay);
    this.deferralsOf(partition).defer(item.key, item.seq);
    if (deliveries === 1) {
      this.context.logger.warn(`partition ${partition}: message ${item.seq} on ${item.msg.subject} cannot be applied by this worker now; handed back for a later delivery (${why})`, {
        stream_sequence: item.seq,
      });
    }
    this.settle(partition, item.msg, 'deferred', item.key);
  }

  /** One answer per owned message, in order; undefined when given up (not live any more). */
  private async apply(partition: number, owned: readonly Owned[], live: () => boolean): Promise<Answer[] | undefined> {
    if (owned.length === 0) return [];
    const group = await this.attempt(partition, owned, live);
    if (group.kind === 'ok') return group.answers;
    if (group.kind === 'gave_up') return undefined;
    // A failure that is not the store's, for the group as a whole: find the message that causes it.
    this.context.logger.warn(`partition ${partition}: a group of ${owned.length} failed (${describe(group.error)}); applying its messages one by one`);
    const answers: Answer[] = [];
    for (const item of owned) {
      const one = await this.attempt(partition, [item], live);
      if (one.kind === 'gave_up') return undefined;
      answers.push(
        one.kind === 'ok'
          ? one.answers[0]!
          : { outcome: 'failed', code: one.error instanceof LifecycleError ? one.error.code : 'PROCESSING_FAILED', message: `failed ${this.deliveriesOf(item.msg)} times: ${messageOf(one.error)}` },
      );
    }
    return answers;
  }

  private deliveriesOf(msg: JsMsg, attempts = 0): number {
    return msg.info.deliveryCount - 1 + attempts;
  }

  /** dispatchMany of `items`, retried while transient (or, for one message, up to maxDeliver deliveries) and live. */
  private async attempt(partition: number, items: readonly Owned[], live: () => boolean): Promise<Attempt> {
    const { engine, logger, options, stats, maxDeliver, signal } = this.context;
    for (let attempt = 1; ; attempt += 1) {
      try {
        const answers = await engine.dispatchMany(items.map((item) => item.value));
        if (answers.length !== items.length) throw new LifecycleError('STORE_FAILURE', `the engine answered ${answers.length} of ${items.length} items`);
        return { kind: 'ok', answers };
      } catch (error) {
        if (!isTransient(error) && (items.length > 1 || this.deliveriesOf(items[0]!.msg, attempt) >= maxDeliver)) return { kind: 'poison', error };
        if (!live()) return { kind: 'gave_up' };
        const delay = backoffDelay(attempt, options.backoff);
        const what = items.length === 1 ? `message ${items[0]!.msg.seq}` : `${items.length} messages from ${items[0]!.msg.seq}`;
        logger.warn(`partition ${partition}: ${describe(error)}; ${what} on ${items[0]!.msg.subject} retried in ${formatDelay(delay)} (attempt ${attempt})`);
        stats.retries += 1;
        await sleep(delay, signal);
        if (!live()) return { kind: 'gave_up' };
      }
    }
  }

  /** Copies `msg` to the dead-letter subject, then terminates it; retried while live (false when given up). */
  private async deadLetter(partition: number, msg: JsMsg, key: string | null, code: string, error: string, live: () => boolean): Promise<boolean> {
    const { js, logger, prefix, stream, options, signal } = this.context;
    const subject = deadLetterSubjectOf(this.topicOf(msg.subject), prefix);
    const h = headers();
    h.set(DEAD_LETTER_HEADERS.code, headerValue(code));
    h.set(DEAD_LETTER_HEADERS.error, headerValue(error));
    h.set(DEAD_LETTER_HEADERS.subject, msg.subject);
    h.set(DEAD_LETTER_HEADERS.stream, stream);
    h.set(DEAD_LETTER_HEADERS.sequence, String(msg.seq));
    if (key !== null) h.set(PARTITION_KEY_HEADER, key);
    for (let attempt = 1; ; attempt += 1) {
      try {
        await js.publish(subject, msg.data, { msgID: `dead:${stream}:${msg.seq}`, headers: h });
        break;
      } catch (publishError) {
        const delay = backoffDelay(attempt, options.backoff);
        logger.error(`partition ${partition}: could not dead-letter message ${msg.seq} (${code}: ${error}): ${messageOf(publishError)}; retried in ${formatDelay(delay)}`);
        await sleep(delay, signal);
        if (!live()) return false;
      }
    }
    logger.error(`partition ${partition}: message ${msg.seq} on ${msg.subject} dead-lettered to ${subject}: ${code}: ${error}`, { stream_sequence: msg.seq, code });
    // No reason text: servers before 2.10 do not recognise "+TERM <reason>" and would redeliver.
    // The reason travels in the dead letter's headers instead.
    msg.term();
    this.settle(partition, msg, 'dead_lettered', key);
    return true;
  }
}

function describe(error: unknown): string {
  return `${error instanceof LifecycleError ? error.code : 'error'}: ${messageOf(error)}`;
}
