/**
 * NATS JetStream transport: the stream of lifecycle events, durable pull consumers that feed the
 * engine, a dead-letter stream, and the outbox relay that publishes the engine's messages.
 *
 * SUBJECTS. The lifecycle topic IS the subject (`huleedu.batch.essays.registered.v1`): JetStream
 * subjects may contain dots, so producers and observers need no mapping. One stream (default
 * `LIFECYCLE`) captures every topic of TOPICS; a second one (`<name>_DEAD`) captures
 * `lifecycle.dead.<topic>`, where poison messages go. An optional `subjectPrefix` (tests, several
 * environments on one server) is put in front of every subject.
 *
 * DE-DUPLICATION. Every publish carries `Nats-Msg-Id` = the envelope's event_id, so the server
 * drops a republish inside the stream's `duplicate_window` (default 2 minutes). Beyond the window
 * (or when a producer uses other message ids) the consumer still gets a duplicate, and the
 * engine's inbox answers `duplicate`: nothing is applied twice either way.
 *
 * ORDERING BY BATCH (the design). Events of one batch must be applied in publish order even with
 * several workers. The batch id is not in the subject (the topic is), so the server cannot route by
 * it; instead the key space is split into P partitions, partition = FNV-1a(batch id) % P, and there
 * is ONE durable pull consumer per partition (`<durable>_p<k>_of_<P>`), each reading the whole
 * stream with `max_ack_pending = 1`:
 *  - consumer k applies the messages of partition k and acks every other message unapplied
 *    (cheaply: publishers put the batch id in the `Lifecycle-Partition-Key` header, so a foreign
 *    message is not even parsed; without the header the envelope is parsed to find it);
 *  - `max_ack_pending = 1` makes the SERVER hand out the next message of a partition only after
 *    the previous one is acked or terminated, and redeliver a nak'd or timed-out message before
 *    anything newer: within a partition, processing is strictly in stream order whatever happens
 *    (nak with delay, worker crash, reconnect), and however many processes attach to the same
 *    partition consumer (they become hot standbys of each other, never concurrent);
 *  - different partitions run in parallel (one loop per owned partition, `concurrency` bounds the
 *    messages in flight in one process), in one process or spread over several (`owned`).
 * Why not the alternatives: one shared consumer with max_ack_pending 1 is the P = 1 case (strict
 * global order, no parallelism); a partition header alone cannot be filtered on by the server; a
 * subject per batch (`<topic>.<batch>`) would break "the topic is the subject" for producers and
 * observers; a router republishing into partition subjects adds a hop and a second stream.
 * Costs: every message is delivered to all P consumers (P-1 of them ack it unread), a partition
 * advances one message per round trip (one pull request serves up to `pullBatch` of them) and
 * commits one event per transaction. A stream that is re-partitioned (new P) gets new consumers
 * that start from the beginning of the stream: everything already applied answers `duplicate`
 * (delete the old consumers). The batch id is the outbox's aggregate_id (`batchIdOf`); events
 * without one fall back to the correlation id and are ordered only with that correlation.
 *
 * ACKNOWLEDGEMENT. A message is acked only after the engine committed it (or answered duplicate),
 * so a crash before the ack redelivers it (after `ack_wait`, default 10 s, during which that
 * partition waits) and the inbox answers duplicate; a slow commit keeps its lease with
 * `working()`. Invalid JSON or an invalid envelope (any item the engine answers `invalid`:
 * unknown type, missing entity, machine error) is copied to the dead-letter subject with the
 * error in headers, logged, then `term()`ed.
 * A store failure (STORE_FAILURE, VERSION_CONFLICT) is `nak()`ed with a capped exponential delay and
 * retried without limit; any other failure likewise, but at most `maxDeliver` times before it is
 * dead-lettered.
 *
 * ROBUSTNESS. The connection is retried with capped exponential back-off until NATS answers,
 * logging what it waits for ("waiting for NATS at nats://127.0.0.1:4222 (attempt 3, next in 4 s)");
 * once connected the client reconnects forever with the same back-off. A failing pull or stream
 * set-up is retried the same way. `stop()` lets every in-flight message finish (commit, then ack),
 * waits for open pull requests to end (at most `pullExpiresMs`; a message the server pushes in
 * that time is nak'd for after it, so no message stays leased), then drains and closes the
 * connection. If the server is unreachable, stop() gives up waiting after a grace period.
 *
 * This module is the public entry point (`./queue/nats`); the code lives in ./nats/: names.ts
 * (subjects, streams, headers), connection.ts, stream.ts (streams and partition consumers),
 * relay.ts (publishing), consumer.ts and handler.ts (consuming), worker.ts (the whole worker).
 */
export {
  DEAD_LETTER_HEADERS,
  DEFAULT_DURABLE,
  DEFAULT_STREAM,
  deadLetterStreamOf,
  deadLetterSubjectOf,
  PARTITION_KEY_HEADER,
  partitionConsumerName,
  subjectOf,
} from './nats/names.js';
export { connectNats, type ConnectOptions } from './nats/connection.js';
export { ensurePartitionConsumers, ensureStream, type ConsumerOptions, type StreamOptions } from './nats/stream.js';
export { jetStreamPublisher, publishEnvelope, relayToJetStream, startJetStreamRelay, type PublishOptions, type RelayOptions } from './nats/relay.js';
export {
  startJetStreamConsumer,
  type ConsumerStats,
  type JetStreamConsumer,
  type JetStreamConsumerOptions,
  type SettledMessage,
} from './nats/consumer.js';
export { startNatsWorker, type NatsWorker, type NatsWorkerOptions } from './nats/worker.js';
