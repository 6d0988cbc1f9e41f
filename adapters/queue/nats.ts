/**
 * NATS JetStream transport: the stream of lifecycle events, durable pull consumers that feed the
 * engine, a dead-letter stream, partition leases, and the outbox relay that publishes the engine's
 * messages.
 *
 * SUBJECTS. The lifecycle topic IS the subject (`huleedu.batch.essays.registered.v1`): JetStream
 * subjects may contain dots, so producers and observers need no mapping. One stream (default
 * `LIFECYCLE`) captures every topic of TOPICS and `lifecycle.internal.>`: outbox rows the engine
 * already delivered to its own machines and no outside service reads (`internal`, written with
 * `outboxInternal`) are relayed on `lifecycle.internal.<topic>`, so observers of the stream still
 * see the whole flow while the
 * partition consumers, filtered server-side to the inbound topics (`filter_subject` `huleedu.>`:
 * one subject with a wildcard works on NATS 2.9; topics without a common first token need
 * `filter_subjects`, NATS >= 2.10), never receive them. Rows for outside services (`outbound`
 * events) stay on their topic, so the consumers read them back: the engine records them, and they
 * change nothing (they drive no machine). Internal rows outside services read too (`alsoOutside`)
 * stay on their topic as well; a consumer's copy is answered `duplicate` (engine/own-copies.ts). `<name>_DEAD` captures `lifecycle.dead.<topic>`, where poison messages go; `<name>_LEASES`
 * holds the partition leases. An optional `subjectPrefix` (tests, several environments on one
 * server) is put in front of every subject.
 *
 * DE-DUPLICATION. Every publish carries `Nats-Msg-Id` = the envelope's event_id, so the server
 * drops a republish inside the stream's `duplicate_window` (default 2 minutes). Beyond the window
 * (or when a producer uses other message ids) the consumer still gets a duplicate, and the
 * engine's inbox answers `duplicate`: nothing is applied twice either way.
 *
 * ORDERING BY BATCH (the design). Events of one batch must be applied in publish order even with
 * several workers. The batch id is not in the subject (the topic is), so the server cannot route by
 * it; instead the key space is split into P partitions, partition = FNV-1a(batch id) % P, and there
 * is ONE durable pull consumer per partition (`<durable>_p<k>_of_<P>`), each reading the inbound
 * topics of the whole stream. Consumer k applies the messages of partition k and acks the others
 * unread (publishers put the batch id in the `Lifecycle-Partition-Key` header, so a foreign message
 * is not even parsed). Three rules keep each partition in stream order:
 *  1. One puller per partition: a process pulls partition k only while it holds k's LEASE (see
 *     lease.ts: a compare-and-set on the last message of `lifecycle.lease.<consumer>`, renewed every
 *     quarter of `leaseMs`, 3 s). Other processes owning k are hot standbys: they take the lease over
 *     when it is released or has not been renewed for `leaseMs`. A process that has k as `standby`
 *     only hands it back, the way `stop()` does, once a process owning k claims it (lease.ts).
 *  2. Ordered groups: the consumer hands out up to `max_ack_pending` (256) messages; the holder
 *     applies everything that has arrived, the owned messages IN STREAM ORDER with ONE
 *     `dispatchMany` (one transaction), then acks them all. A failed transaction is retried in the
 *     process (never nak'd: a nak'd message would wait while newer ones are handed out). Stopping,
 *     the holder lets its open pull request end, naks what it did not settle in sequence order and
 *     releases the lease; the server redelivers nak'd messages before anything newer, in that order.
 *  3. Takeover after silence: a holder that died (or stalled past its lease) may have been handed
 *     messages; they are redelivered only after ack_wait, and until then the server would hand newer
 *     ones to the next holder. So a holder that took over a lease that was not released waits
 *     `pullExpiresMs + ack_wait + 1 s` before pulling (consumer.ts `takeoverWaitMs`): by then the old
 *     holder's last pull request has ended and everything it held waits for redelivery, which comes
 *     first, sorted by sequence. The old holder stopped pulling and reporting progress before: it
 *     trusts its lease until `leaseMs - leaseMs/4` after it STARTED its last renewal, and a standby
 *     takes over only `leaseMs` after it SAW that renewal.
 * A message applied twice this way (the old holder's commit was in flight) is a duplicate for the
 * inbox; the order of first applications is the stream order. Different partitions run in parallel
 * (in one process or spread over several: `owned`, `concurrency`). Why not the alternatives: one
 * consumer is P = 1 (no parallelism); a partition header cannot be filtered on by the server; a
 * subject per batch (`<topic>.<batch>`) would break "the topic is the subject" for producers and
 * observers; subject transforms that could partition in the server need NATS 2.10; a router
 * republishing into partition subjects adds a hop and a second stream. Costs: every inbound
 * message is delivered to all P consumers (P-1 ack it unread, but in groups of up to 256, without a
 * round trip each). A stream that is re-partitioned (new P) gets new consumers that start from the
 * beginning of the stream: everything already applied answers `duplicate` (delete the old
 * consumers). The batch id is the outbox's aggregate_id (`batchIdOf`); events without one fall back
 * to the correlation id and are ordered only with that correlation.
 *
 * ACKNOWLEDGEMENT. A message is acked only after the engine committed its group (or answered
 * duplicate), so a crash before the ack redelivers it and the inbox answers duplicate. The holder
 * reports progress (`working()`) on every message it holds every third of ack_wait (default 5 s;
 * `--ack-wait`), so a long commit or a retried one keeps its messages. Invalid JSON or an invalid
 * envelope (any item the engine answers `invalid`: unknown type, missing entity) is
 * copied to the dead-letter subject with the error in headers, logged, then `term()`ed. A store
 * failure (STORE_FAILURE, VERSION_CONFLICT) is retried with a capped exponential delay without
 * limit; any other failure of a group makes it applied one message at a time, and a message failing
 * so `maxDeliver` times (deliveries included) is dead-lettered.
 *
 * THE RELAY. Every worker runs one. On a store several workers share (PostgreSQL `claimOutbox`) a
 * relay claims its rows first (a lease, FOR UPDATE SKIP LOCKED), never a row of a batch whose
 * earlier row another relay holds: each row is published by one worker, the rows of a batch in id
 * order; msgID de-duplication stays the safety net for a relay that dies between publish and mark.
 *
 * ROBUSTNESS. The connection is retried with capped exponential back-off until NATS answers,
 * logging what it waits for ("waiting for NATS at nats://127.0.0.1:4222 (attempt 3, next in 4 s)");
 * once connected the client reconnects forever with the same back-off. A failing pull or stream
 * set-up is retried the same way (after a broken pull that held messages, after takeoverWaitMs).
 * `stop()` lets every in-flight group finish (commit, then ack), waits for open pull requests to end
 * (at most `pullExpiresMs`), hands back the rest, then drains and closes the connection. If the
 * server is unreachable, stop() gives up waiting after a grace period.
 *
 * This module is the public entry point (`./queue/nats`); the code lives in ./nats/: names.ts
 * (subjects, streams, headers), connection.ts, stream.ts (streams and partition consumers),
 * lease.ts, relay.ts (publishing), consumer.ts and handler.ts (consuming), worker.ts (the whole worker).
 */
export {
  DEAD_LETTER_HEADERS,
  DEFAULT_DURABLE,
  DEFAULT_STREAM,
  deadLetterStreamOf,
  deadLetterSubjectOf,
  internalSubjectOf,
  leaseStreamOf,
  leaseSubjectOf,
  PARTITION_KEY_HEADER,
  partitionConsumerName,
  subjectOf,
} from './nats/names.js';
export { connectNats, type ConnectOptions } from './nats/connection.js';
export { ensurePartitionConsumers, ensureStream, inboundFilter, type ConsumerOptions, type StreamOptions } from './nats/stream.js';
export {
  INTERNAL_HEADER,
  jetStreamPublisher,
  publishEnvelope,
  relayToJetStream,
  relaySubjectOf,
  startJetStreamRelay,
  type PublishOptions,
  type RelayOptions,
} from './nats/relay.js';
export {
  startJetStreamConsumer,
  takeoverWaitMs,
  type ConsumerStats,
  type JetStreamConsumer,
  type JetStreamConsumerOptions,
  type SettledMessage,
} from './nats/consumer.js';
export { startNatsWorker, type NatsWorker, type NatsWorkerOptions } from './nats/worker.js';
export { natsDeadLetters, type NatsDeadLetterOptions } from './nats/dead-letters.js';
