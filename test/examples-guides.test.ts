/**
 * The code of the guides in docs/ lives in examples/*.ts; this runs every one of them so the
 * guides cannot rot. The several-workers guide needs PostgreSQL and NATS: it runs when
 * TEST_POSTGRES_URL and TEST_NATS_URL are set, on a fresh schema, stream and durable.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { main as addingAPhase } from '../examples/adding-a-phase.js';
import { main as embeddingExpress } from '../examples/embedding-express.js';
import { main as ownQueue } from '../examples/own-queue.js';
import { removeRun, runNames, main as severalWorkers } from '../examples/several-workers.js';
import { main as snapshotMigration } from '../examples/snapshot-migration.js';
import { BATCH_MACHINE_VERSION } from '../machines/batch/index.js';

describe('guide examples', () => {
  it('embedding-express: the router under /lifecycle with the host authenticator and policy', async () => {
    expect(await embeddingExpress()).toEqual({
      created: 201,
      status: 'awaiting_content_validation',
      read: 200,
      bySupport: 200,
      anonymous: 401,
      badKey: 401,
      machines: 200,
      health: 200,
      unknown: 404,
    });
  });

  it('own-queue: dispatchMany then ack, duplicates and poison, the outbox relayed, nlp completes', async () => {
    expect(await ownQueue()).toEqual({
      accepted: 7,
      refused: 0,
      duplicate: 1,
      deadLettered: 1,
      relayed: expect.any(Number) as number,
      deadLetters: ['INVALID_ENVELOPE'],
      completed: ['completed_successfully'],
      status: 'ready_for_pipeline_execution',
      inboxLeft: 0,
    });
  });

  it('adding-a-phase: a pipeline of our own runs, the admission hook denies, an unknown pipeline is refused', async () => {
    const result = await addingAPhase();
    expect(result).toMatchObject({
      phases: ['spellcheck', 'nlp', 'cj_assessment', 'ai_feedback'],
      quick: 'accepted ready_for_pipeline_execution -> processing_pipelines',
      quickCommands: ['huleedu.els.spellcheck.initiate.command.v1'],
      denied: 'accepted ready_for_pipeline_execution -> ready_for_pipeline_execution',
      deniedReason: 'the free plan ranks at most 10 essays',
    });
    expect(result.unknown).toMatch(/^refused: .*unknown pipeline "grammar"/);
  });

  it('snapshot-migration: lazy migration to the new version, SNAPSHOT_INCOMPATIBLE both ways', async () => {
    const result = await snapshotMigration();
    const [library, next] = [BATCH_MACHINE_VERSION, BATCH_MACHINE_VERSION + 1];
    expect(result).toMatchObject({
      before: { machine_version: library, course_language: undefined },
      answer: 'accepted awaiting_content_validation -> cancelled',
      after: { machine_version: next, course_language: 'sv' },
      untouched: { machine_version: library, course_language: undefined },
    });
    expect(result.olderCode).toContain(`machine version ${next}, newer than this code's ${library}`);
    expect(result.gap).toMatch(new RegExp(`^SNAPSHOT_INCOMPATIBLE: .*no migration from version ${next} to ${next + 1}`));
  });

  const postgresUrl = process.env.TEST_POSTGRES_URL ?? '';
  const natsUrl = process.env.TEST_NATS_URL ?? '';
  it.skipIf(postgresUrl === '' || natsUrl === '')('several-workers: two workers, two partitions, PostgreSQL + JetStream (needs TEST_POSTGRES_URL and TEST_NATS_URL)', async () => {
    const names = runNames(`${process.pid}_${randomBytes(4).toString('hex')}`);
    try {
      const result = await severalWorkers(postgresUrl, natsUrl, names);
      expect(result.statuses).toEqual(['ready_for_pipeline_execution', 'ready_for_pipeline_execution']);
      expect(Object.values(result.partitions as Record<string, number>)).toEqual([0, 1]);
      expect(result.duplicates).toBe(1);
      expect((result.applied as number[]).every((n) => n > 0)).toBe(true);
    } finally {
      await removeRun(postgresUrl, natsUrl, names);
    }
  });
});
