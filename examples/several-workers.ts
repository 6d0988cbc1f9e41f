/**
 * Guide docs/several-workers.md: several worker processes sharing one PostgreSQL store and one
 * NATS JetStream stream, in code (what `lifecycle-worker --store postgres://... --queue
 * nats://...` runs). `main` starts two workers in this process, each owning one of two partitions,
 * publishes two GUEST batches and waits until both ran the `nlp` pipeline.
 *
 *   TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test TEST_NATS_URL=nats://127.0.0.1:4222 \
 *     npx tsx examples/several-workers.ts
 *
 * test/examples-guides.test.ts runs it when both URLs are set (with a fresh schema and stream).
 */
import { randomUUID } from 'node:crypto';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import pg from 'pg';
import { LifecycleEngine, LifecycleQueries, startTimerScheduler, type Worker } from 'essay-lifecycle-statecharts';
import { openPostgresStore } from 'essay-lifecycle-statecharts/postgres';
import { partitionKeyOf, partitionOf, type QueueLogger } from 'essay-lifecycle-statecharts/queue';
import { connectNats, deadLetterStreamOf, leaseStreamOf, publishEnvelope, startNatsWorker, type NatsWorker } from 'essay-lifecycle-statecharts/queue/nats';

/** One worker's settings. Every worker of a deployment must agree on partitions, stream, durable and prefix. */
export interface WorkerConfig {
  readonly postgresUrl: string;
  readonly natsUrl: string;
  /** PostgreSQL schema (created and migrated on open; default public). */
  readonly schema?: string;
  /** P: the batch-id space is split into P partitions, one durable consumer each. */
  readonly partitions: number;
  /** The partitions this process consumes (default all; overlapping owners are hot standbys). */
  readonly owned?: readonly number[];
  readonly stream?: string;
  readonly durable?: string;
  readonly subjectPrefix?: string;
  /** Relay the store's outbox to JetStream from this process (default true). */
  readonly relay?: boolean;
  /** Fire due timers from this process (default true). */
  readonly timers?: boolean;
  readonly logger?: QueueLogger;
}

/** A running worker. */
export interface RunningWorker {
  readonly engine: LifecycleEngine;
  readonly nats: NatsWorker;
  /** In-flight messages finish (commit, then ack), then the connection drains and the pool closes. */
  stop(): Promise<void>;
}

/** Starts one worker: store, engine, JetStream consumers (+ outbox relay), timer scheduler. */
export async function startWorker(config: WorkerConfig): Promise<RunningWorker> {
  const store = await openPostgresStore({ connectionString: config.postgresUrl, ...(config.schema === undefined ? {} : { schema: config.schema }) });
  const engine = new LifecycleEngine({ store });
  const nats = startNatsWorker({
    url: config.natsUrl,
    engine,
    partitions: config.partitions,
    relay: config.relay ?? true,
    ...(config.owned === undefined ? {} : { owned: config.owned }),
    ...(config.stream === undefined ? {} : { stream: { name: config.stream } }),
    ...(config.durable === undefined ? {} : { durable: config.durable }),
    ...(config.subjectPrefix === undefined ? {} : { subjectPrefix: config.subjectPrefix }),
    ...(config.logger === undefined ? {} : { logger: config.logger }),
  });
  const loops: Worker[] = [];
  // Every worker may run the scheduler: PostgreSQL leases due timers (claimDueTimers, SKIP LOCKED),
  // so each timer is claimed by one worker, and its deterministic event id makes a second firing a duplicate.
  if (config.timers !== false) loops.push(startTimerScheduler(engine, { intervalMs: 1000, onError: (error) => config.logger?.warn(`timers: ${String(error)}`) }));
  const stop = async (): Promise<void> => {
    await nats.stop();
    for (const loop of loops) await loop.stop();
    await store.close();
  };
  try {
    await nats.ready; // connected, stream and partition consumers exist, consuming
  } catch (error) {
    await stop();
    throw error;
  }
  return { engine, nats, stop };
}

/**
 * A producer: publishes envelopes on their topic (the subject) with Nats-Msg-Id = event_id (the
 * server drops a republish within the stream's duplicate window) and the batch id in the
 * partition-key header. Returns how many the server reported as duplicates.
 */
export async function publishAll(natsUrl: string, envelopes: readonly unknown[], subjectPrefix = ''): Promise<number> {
  const nc = await connectNats(natsUrl);
  try {
    const js = jetstream(nc);
    let duplicates = 0;
    for (const envelope of envelopes) if ((await publishEnvelope(js, envelope, { subjectPrefix })).duplicate) duplicates += 1;
    return duplicates;
  } finally {
    await nc.drain();
  }
}

/** The envelopes of a GUEST batch through the `nlp` pipeline, in the order they must apply. */
export function guestBatch(batchId: string, essayCount = 2): Record<string, unknown>[] {
  const essays = Array.from({ length: essayCount }, (_, i) => `${batchId}-essay-${i}`);
  const correlation_id = randomUUID();
  const envelope = (event_type: string, data: Record<string, unknown>) => ({
    event_id: randomUUID(), event_type, event_timestamp: new Date().toISOString(), source_service: 'my-app', correlation_id, data,
  });
  return [
    envelope('huleedu.batch.essays.registered.v1', {
      entity_id: batchId, expected_essay_count: essayCount, essay_ids: essays, course_code: 'ENG5', user_id: 'teacher-1', student_prompt_ref: 'prompt-1',
    }),
    ...essays.map((_, i) => envelope('huleedu.file.essay.content.provisioned.v1', {
      entity_id: batchId, file_upload_id: `${batchId}-upload-${i}`, original_file_name: `${i}.docx`, raw_file_storage_id: `${batchId}-raw-${i}`, text_storage_id: `${batchId}-text-${i}`, file_size_bytes: 100,
    })),
    envelope('huleedu.commands.batch.pipeline.v1', { batch_id: batchId, requested_pipeline: 'nlp', user_id: 'teacher-1' }),
    ...essays.map((essay) => envelope('huleedu.batch.spellcheck.phase.completed.v1', {
      entity_id: essay, batch_id: batchId, status: 'completed', corrected_text_storage_id: `corrected-${essay}`, processing_duration_ms: 5,
    })),
    envelope('huleedu.batch.nlp.analysis.completed.v1', { batch_id: batchId, processing_summary: { successful_essay_ids: essays, failed_essay_ids: [] } }),
  ];
}

/** A batch id whose partition (of `count`) is `partition`: to show both workers at work. */
export function batchIdIn(partition: number, count: number, prefix: string): string {
  for (let i = 0; ; i += 1) {
    const id = `${prefix}-${i}`;
    if (partitionOf(id, count) === partition) return id;
  }
}

/** Names that keep one run apart from others on the same servers. */
export interface RunNames {
  readonly schema: string;
  readonly stream: string;
  readonly durable: string;
  readonly subjectPrefix: string;
}

/** Two workers (partitions 0 and 1 of 2), two batches, one in each partition; waits until both ran nlp. */
export async function main(postgresUrl: string, natsUrl: string, names: RunNames, timeoutMs = 30_000): Promise<Record<string, unknown>> {
  const common = { postgresUrl, natsUrl, partitions: 2, ...names };
  const workers = [await startWorker({ ...common, owned: [0] }), await startWorker({ ...common, owned: [1] })];
  try {
    const batches = [batchIdIn(0, 2, 'guide-batch'), batchIdIn(1, 2, 'guide-batch')];
    const envelopes = batches.flatMap((id) => guestBatch(id));
    const firstAgain = envelopes[0];
    const duplicates = await publishAll(natsUrl, firstAgain === undefined ? envelopes : [...envelopes, firstAgain], names.subjectPrefix);

    const [first] = workers;
    if (first === undefined) throw new Error('no worker');
    const queries = new LifecycleQueries(first.engine.store);
    const deadline = Date.now() + timeoutMs;
    const statuses = async () => Promise.all(batches.map(async (id) => (await queries.entity('batch', id))?.status));
    const essaysDone = async () => (await Promise.all(batches.map((id) => queries.essaysOf(id)))).flat().every((e) => e.status === 'nlp_success');
    while (!((await statuses()).every((s) => s === 'ready_for_pipeline_execution') && (await essaysDone()))) {
      if (Date.now() > deadline) throw new Error(`timed out: ${JSON.stringify(await statuses())}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return {
      partitions: Object.fromEntries(batches.map((id) => [id, partitionOf(partitionKeyOf(guestBatch(id)[0]), 2)])),
      statuses: await statuses(),
      duplicates,
      applied: workers.map((w) => w.nats.stats().applied),
    };
  } finally {
    for (const worker of workers) await worker.stop();
  }
}

/** Fresh names for one run. */
export function runNames(id: string = randomUUID().slice(0, 8)): RunNames {
  return { schema: `guide_workers_${id}`, stream: `GUIDE_${id}`, durable: `guide-${id}`, subjectPrefix: `guide.${id}.` };
}

/** Removes what a run created: the stream, its dead-letter stream (and so the consumers) and the schema. */
export async function removeRun(postgresUrl: string, natsUrl: string, names: RunNames): Promise<void> {
  const nc = await connectNats(natsUrl);
  try {
    const jsm = await jetstreamManager(nc);
    for (const stream of [names.stream, deadLetterStreamOf(names.stream), leaseStreamOf(names.stream)]) await jsm.streams.delete(stream).catch(() => undefined);
  } finally {
    await nc.drain();
  }
  const pool = new pg.Pool({ connectionString: postgresUrl, max: 1 });
  try {
    await pool.query(`DROP SCHEMA IF EXISTS "${names.schema}" CASCADE`);
  } finally {
    await pool.end();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const postgresUrl = process.env.TEST_POSTGRES_URL;
  const natsUrl = process.env.TEST_NATS_URL;
  if (postgresUrl === undefined || natsUrl === undefined) throw new Error('set TEST_POSTGRES_URL and TEST_NATS_URL');
  const names = runNames();
  try {
    console.log(await main(postgresUrl, natsUrl, names));
  } finally {
    await removeRun(postgresUrl, natsUrl, names);
  }
}
