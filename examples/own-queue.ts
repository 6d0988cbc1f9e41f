/**
 * Guide docs/own-queue.md: feeding the engine from a queue of your own (SQS, RabbitMQ, Kafka,
 * Redis streams ...), acknowledging after the commit, and relaying the outbox back to it.
 * `InMemoryBroker` stands in for the broker: at-least-once delivery, ack / nack, redelivery.
 * Run it with `npx tsx examples/own-queue.ts`; test/examples-guides.test.ts runs it too.
 */
import { randomUUID } from 'node:crypto';
import {
  isLifecycleError,
  LifecycleEngine,
  LifecycleQueries,
  relayOutboxOnce,
  type BatchItemResult,
  type OutboxRecord,
  type Publisher,
  type SnapshotStore,
} from 'essay-lifecycle-statecharts';
import { partitionKeyOf } from 'essay-lifecycle-statecharts/queue';
import { openSqliteStore } from 'essay-lifecycle-statecharts/sqlite';

// --- A stand-in broker -------------------------------------------------------------------------

/** A message as a broker hands it out: an id, a body, a key (ordering), a delivery count. */
export interface Message {
  readonly id: number;
  readonly topic: string;
  readonly key: string | null;
  readonly body: string;
  deliveries: number;
}

/** At-least-once delivery: a received message stays until acked; a nack (or a crash) redelivers it. */
export class InMemoryBroker {
  private nextId = 1;
  private readonly messages: Message[] = [];
  private readonly leased = new Set<number>();

  publish(topic: string, body: string, key: string | null = null): void {
    this.messages.push({ id: this.nextId++, topic, key, body, deliveries: 0 });
  }

  /** Up to `max` unleased messages of `topic`, oldest first, leased until ack or nack. */
  receive(topic: string, max: number): Message[] {
    const taken = this.messages.filter((m) => m.topic === topic && !this.leased.has(m.id)).slice(0, max);
    for (const message of taken) {
      message.deliveries += 1;
      this.leased.add(message.id);
    }
    return taken;
  }

  ack(id: number): void {
    const index = this.messages.findIndex((m) => m.id === id);
    if (index >= 0) this.messages.splice(index, 1);
    this.leased.delete(id);
  }

  nack(id: number): void {
    this.leased.delete(id);
  }

  pending(topic: string): number {
    return this.messages.filter((m) => m.topic === topic).length;
  }
}

// --- Producing: the ordering key -----------------------------------------------------------------

/** The topic the engine consumes. */
export const INBOX_TOPIC = 'lifecycle.in';

/**
 * Puts an envelope on the engine's topic. The key is the batch id (`partitionKeyOf`): use it as
 * the Kafka message key / SQS FIFO MessageGroupId / RabbitMQ consistent-hash key so that the
 * events of one batch are delivered in order to one consumer at a time.
 */
export function send(broker: InMemoryBroker, envelope: unknown): void {
  broker.publish(INBOX_TOPIC, JSON.stringify(envelope), partitionKeyOf(envelope));
}

// --- Consuming: dispatchMany, then ack ---------------------------------------------------------------

/** What one consumer round did. */
export interface RoundReport {
  readonly received: number;
  readonly accepted: number;
  readonly refused: number;
  readonly duplicate: number;
  readonly deadLettered: number;
  readonly retried: number;
  /** Nacked for a later delivery: this process cannot apply them now (`deferred`). */
  readonly deferred: number;
}

/** A message that can never be applied, kept with why. */
export interface DeadLetter {
  readonly body: string;
  readonly code: string;
  readonly message: string;
}

/**
 * One round: receive up to `max` messages, apply them in ONE engine transaction
 * (`dispatchMany`: one commit for the group), and only after that commit acknowledge them.
 *
 * - accepted / refused: committed (a refusal is an answer, recorded in the audit) -> ack.
 * - duplicate: the event_id was committed before (a redelivery) -> nothing changes -> ack.
 * - invalid (not an envelope, unknown event type, unknown entity): it will never apply ->
 *   dead-letter it, then ack.
 * - deferred (this process cannot apply it now: a snapshot written by a newer machine version
 *   during a rolling upgrade, an unreadable row, a failing machine): nothing was written; nack it
 *   so it is redelivered, to this process later or to one running newer code. Never dead-letter it.
 * - the call throws: NOTHING was committed. STORE_FAILURE / VERSION_CONFLICT are transient:
 *   nack and let the broker redeliver (the inbox makes the retry safe). Anything else is a bug
 *   or a misconfiguration: nack and rethrow.
 */
export async function consumeRound(engine: LifecycleEngine, broker: InMemoryBroker, deadLetters: DeadLetter[], max = 100): Promise<RoundReport> {
  const messages = broker.receive(INBOX_TOPIC, max);
  const report = { received: messages.length, accepted: 0, refused: 0, duplicate: 0, deadLettered: 0, retried: 0, deferred: 0 };
  if (messages.length === 0) return report;
  const raws = messages.map((message): unknown => {
    try {
      return JSON.parse(message.body);
    } catch {
      return message.body; // dispatchMany answers `invalid` for it
    }
  });
  let results: BatchItemResult[];
  try {
    results = await engine.dispatchMany(raws);
  } catch (error) {
    for (const message of messages) broker.nack(message.id);
    if (isLifecycleError(error, 'STORE_FAILURE', 'VERSION_CONFLICT')) return { ...report, retried: messages.length };
    throw error;
  }
  // Committed. Now, and only now, acknowledge.
  for (const [index, result] of results.entries()) {
    const message = messages[index];
    if (message === undefined) continue;
    if (result.outcome === 'deferred') {
      broker.nack(message.id);
      report.deferred += 1;
      continue;
    }
    if (result.outcome === 'invalid') {
      deadLetters.push({ body: message.body, code: result.code, message: result.message });
      report.deadLettered += 1;
    } else {
      report[result.outcome] += 1;
    }
    broker.ack(message.id);
  }
  return report;
}

/** The same with one dispatch per message (simpler; one commit per event). */
export async function consumeOne(engine: LifecycleEngine, broker: InMemoryBroker, deadLetters: DeadLetter[]): Promise<boolean> {
  const [message] = broker.receive(INBOX_TOPIC, 1);
  if (message === undefined) return false;
  try {
    await engine.dispatch(JSON.parse(message.body)); // accepted, refused or duplicate: committed
  } catch (error) {
    if (isLifecycleError(error, 'INVALID_ENVELOPE', 'UNKNOWN_EVENT_TYPE', 'ENTITY_NOT_FOUND', 'SNAPSHOT_INCOMPATIBLE', 'SNAPSHOT_CORRUPT', 'MACHINE_ERROR') || error instanceof SyntaxError) {
      deadLetters.push({ body: message.body, code: isLifecycleError(error) ? error.code : 'NOT_JSON', message: String(error) });
    } else {
      broker.nack(message.id); // transient (or unknown): redeliver later
      if (isLifecycleError(error, 'STORE_FAILURE', 'VERSION_CONFLICT')) return true;
      throw error;
    }
  }
  broker.ack(message.id);
  return true;
}

// --- The outbox back to the broker ------------------------------------------------------------------

/**
 * The Publisher relayOutboxOnce calls: each row on the topic named by its event_type, keyed by its
 * batch (aggregate_id), with the event_id as the broker's message id where it de-duplicates.
 * It must resolve only once the broker has the messages durably: the rows are marked published
 * after it resolves (a crash in between publishes them again: at-least-once, consumers
 * de-duplicate by event_id, as the engine does).
 * Rows with `internal: true` were also applied by the engine's own machines (by default only those
 * outside services read too, `alsoOutside`; every one with `outboxInternal: true`); publishing them
 * is harmless (the engine answers duplicate).
 */
export function brokerPublisher(broker: InMemoryBroker): Publisher {
  return (rows: readonly OutboxRecord[]) => {
    for (const row of rows) broker.publish(row.event_type, JSON.stringify(row.envelope), row.aggregate_id);
    return Promise.resolve();
  };
}

/** Relays until the outbox is empty; returns how many rows went out. */
export async function relayAll(store: SnapshotStore, publish: Publisher): Promise<number> {
  let total = 0;
  for (let round = await relayOutboxOnce(store, publish); round > 0; round = await relayOutboxOnce(store, publish)) total += round;
  return total;
}

// --- The whole loop, with two fake downstream services ---------------------------------------------

const envelope = (event_type: string, data: Record<string, unknown>) => ({
  event_id: randomUUID(),
  event_type,
  event_timestamp: new Date().toISOString(),
  source_service: 'my-app',
  correlation_id: randomUUID(),
  data,
});

/** Registers a GUEST batch, runs the `nlp` pipeline through the broker both ways, returns what happened. */
export async function main(): Promise<Record<string, unknown>> {
  const store = openSqliteStore({ path: ':memory:' });
  const engine = new LifecycleEngine({ store });
  const broker = new InMemoryBroker();
  const deadLetters: DeadLetter[] = [];
  const batch = 'batch-own-queue';
  const essays = ['essay-a', 'essay-b'];

  send(broker, envelope('huleedu.batch.essays.registered.v1', {
    entity_id: batch, expected_essay_count: 2, essay_ids: essays, course_code: 'ENG5', user_id: 'teacher-1', student_prompt_ref: 'prompt-1',
  }));
  const content = (i: number) => envelope('huleedu.file.essay.content.provisioned.v1', {
    entity_id: batch, file_upload_id: `upload-${i}`, original_file_name: `essay-${i}.docx`, raw_file_storage_id: `raw-${i}`, text_storage_id: `text-${i}`, file_size_bytes: 1000,
  });
  const first = content(0);
  send(broker, first);
  send(broker, first); // the broker delivers a message twice: same event_id -> duplicate
  send(broker, content(1));
  broker.publish(INBOX_TOPIC, '{ not json', null); // poison
  send(broker, envelope('huleedu.commands.batch.pipeline.v1', { batch_id: batch, requested_pipeline: 'nlp', user_id: 'teacher-1' }));

  const totals = { accepted: 0, refused: 0, duplicate: 0, deadLettered: 0, relayed: 0 };
  const drain = async (): Promise<void> => {
    for (let report = await consumeRound(engine, broker, deadLetters); report.received > 0; report = await consumeRound(engine, broker, deadLetters)) {
      totals.accepted += report.accepted;
      totals.refused += report.refused;
      totals.duplicate += report.duplicate;
      totals.deadLettered += report.deadLettered;
    }
    totals.relayed += await relayAll(store, brokerPublisher(broker));
  };
  await drain();

  // The spellcheck service: one request per essay, one result each.
  for (const message of broker.receive('huleedu.essay.spellcheck.requested.v1', 100)) {
    const request = JSON.parse(message.body) as { data: { entity_id: string; parent_id: string } };
    send(broker, envelope('huleedu.batch.spellcheck.phase.completed.v1', {
      entity_id: request.data.entity_id, batch_id: request.data.parent_id, status: 'completed',
      corrected_text_storage_id: `corrected-${request.data.entity_id}`, processing_duration_ms: 5,
    }));
    broker.ack(message.id);
  }
  await drain();

  // The NLP service: one request per batch.
  for (const message of broker.receive('huleedu.batch.nlp.processing.requested.v2', 100)) {
    const request = JSON.parse(message.body) as { data: { batch_id: string; essays_to_process: Array<{ essay_id: string }> } };
    send(broker, envelope('huleedu.batch.nlp.analysis.completed.v1', {
      batch_id: request.data.batch_id,
      processing_summary: { successful_essay_ids: request.data.essays_to_process.map((e) => e.essay_id), failed_essay_ids: [] },
    }));
    broker.ack(message.id);
  }
  await drain();

  const completed = broker.receive('huleedu.batch.pipeline.completed.v1', 10).map((m) => (JSON.parse(m.body) as { data: { final_status: string } }).data.final_status);
  const status = (await new LifecycleQueries(store).entity('batch', batch))?.status;
  await store.close();
  return { ...totals, deadLetters: deadLetters.map((d) => d.code), completed, status, inboxLeft: broker.pending(INBOX_TOPIC) };
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await main());
