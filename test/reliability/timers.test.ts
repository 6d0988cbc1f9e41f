/**
 * Durable timers across restarts: the 24 h association timer armed by one process fires
 * exactly once in a later process that was down at the due time, never again afterwards, and
 * once in total when two engines (or two processes) fire due timers concurrently.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { DispatchResult } from '../../adapters/engine/results.js';
import type { SqliteStore } from '../../adapters/sqlite/store.js';
import { ASSOCIATION_TIMEOUT_EVENT } from '../../machines/associations.js';
import { emittedMessages } from '../support/emitted.js';
import {
  engineOn,
  openFileStore,
  parseProducerLine,
  plusMs,
  regularBatchUntilSuggestions,
  removeTempDirs,
  spawnProducer,
  tempDir,
  waitForExit,
  waitForLine,
  writeJsonl,
  type ProducerLine,
  type Raw,
} from '../support/reliability-kit.js';

const HOUR = 3_600_000;
const T0 = '2026-01-01T12:00:00.000Z';
const DUE = plusMs(T0, 24 * HOUR);
const CONFIRMED = 'huleedu.class.student.associations.confirmed.v1';

afterAll(removeTempDirs);

/** A file with `count` REGULAR batches waiting for validation (timers armed at T0), written in this process. */
async function armedFile(prefix: string, count: number): Promise<{ path: string; batches: string[] }> {
  const path = join(tempDir(`reliability-timers-${prefix}-`), 'db.sqlite');
  const store = openFileStore(path, T0);
  const engine = engineOn(store, T0);
  const batches = Array.from({ length: count }, (_, i) => `${prefix}-batch-${i}`);
  for (const batch of batches) for (const raw of regularBatchUntilSuggestions(prefix, batch, 3)) expect((await engine.dispatch(raw)).outcome).toBe('accepted');
  await store.close();
  return { path, batches };
}

/** The confirmations sent for a batch (the engine applies them itself: they are in the audit log). */
async function confirmations(store: SqliteStore, batchId: string): Promise<Array<{ timeout_triggered: boolean }>> {
  const rows = (await emittedMessages(store)).filter((row) => row.event_type === CONFIRMED && row.aggregate_id === batchId);
  return rows.map((r) => (r.envelope as { data: { timeout_triggered: boolean } }).data);
}

const statusOf = (store: SqliteStore, machine: string, id: string): string | undefined =>
  (store.db.prepare('SELECT status FROM entities WHERE machine = ? AND entity_id = ?').get(machine, id) as { status: string } | undefined)?.status;

const timerAudit = (store: SqliteStore): Array<{ entity_id: string; outcome: string }> =>
  store.db.prepare('SELECT entity_id, outcome FROM audit WHERE event_type = ?').all(ASSOCIATION_TIMEOUT_EVENT) as Array<{ entity_id: string; outcome: string }>;

const accepted = (answers: readonly DispatchResult[]): DispatchResult[] => answers.filter((a) => a.outcome === 'accepted');

describe('the 24 h association timer across restarts', () => {
  it('armed by a child process; a new engine started 25 h later (down at the due time) fires it exactly once; later runs fire nothing', async () => {
    const dir = tempDir('reliability-timers-');
    const path = join(dir, 'db.sqlite');
    const events: Raw[] = regularBatchUntilSuggestions('timers', 'timer-batch', 3);
    writeJsonl(join(dir, 'events.jsonl'), events);

    // Process A: takes the REGULAR batch up to the suggestions at T0 (arming the timer) and exits.
    const a = spawnProducer(['--db', path, '--events', join(dir, 'events.jsonl'), '--now', T0]);
    const exitA = await waitForExit(a, 30_000);
    expect(a.lines.filter((l) => l.startsWith('err '))).toEqual([]);
    expect(exitA.code).toBe(0);
    expect(a.lines.filter((l) => l.startsWith('ok ')).every((l) => l.endsWith(' accepted'))).toBe(true);

    // Process B (this one), 25 h later.
    const storeB = openFileStore(path, plusMs(T0, 25 * HOUR));
    expect(storeB.db.prepare('SELECT timer_id, entity_id, due_at, fired_at FROM timers').all()).toEqual([
      { timer_id: `associations:timer-batch:${ASSOCIATION_TIMEOUT_EVENT}`, entity_id: 'timer-batch', due_at: DUE, fired_at: null },
    ]);
    expect(statusOf(storeB, 'associations', 'timer-batch')).toBe('pending_validation');
    expect(statusOf(storeB, 'batch', 'timer-batch')).toBe('awaiting_student_validation');
    // Not due one millisecond early.
    expect(await engineOn(storeB, plusMs(DUE, -1)).fireDueTimers()).toEqual([]);

    const engineB = engineOn(storeB, plusMs(T0, 25 * HOUR));
    const fired = await engineB.fireDueTimers();
    expect(fired).toHaveLength(1);
    expect(fired[0]).toMatchObject({ outcome: 'accepted', entity: { machine: 'associations', entity_id: 'timer-batch' }, from: 'pending_validation', to: 'timeout_confirmed' });
    expect(statusOf(storeB, 'associations', 'timer-batch')).toBe('timeout_confirmed');
    expect(statusOf(storeB, 'batch', 'timer-batch')).toBe('ready_for_pipeline_execution');
    expect(await confirmations(storeB, 'timer-batch')).toEqual([expect.objectContaining({ timeout_triggered: true })]);
    // No pending timer is left (leaving pending_validation cancels the delay, so the row is deleted).
    expect(storeB.db.prepare('SELECT COUNT(*) AS n FROM timers WHERE fired_at IS NULL').get()).toEqual({ n: 0 });

    // A second round in the same engine fires nothing.
    expect(await engineB.fireDueTimers()).toEqual([]);
    await storeB.close();

    // A third engine instance (new connection), later still, fires nothing either.
    for (const hours of [26, 48, 24 * 30]) {
      const storeC = openFileStore(path, plusMs(T0, hours * HOUR));
      expect(await engineOn(storeC, plusMs(T0, hours * HOUR)).fireDueTimers()).toEqual([]);
      expect(await confirmations(storeC, 'timer-batch')).toHaveLength(1);
      expect(timerAudit(storeC)).toEqual([{ entity_id: 'timer-batch', outcome: 'accepted' }]);
      await storeC.close();
    }
  });

  it('two engines on one file (two connections) firing concurrently (Promise.all) fire each timer once in total', async () => {
    const { path, batches } = await armedFile('pair', 5);
    const later = plusMs(T0, 25 * HOUR);
    const [s1, s2] = [openFileStore(path, later), openFileStore(path, later)];
    const [e1, e2] = [engineOn(s1, later), engineOn(s2, later)];
    const [r1, r2] = await Promise.all([e1.fireDueTimers(), e2.fireDueTimers()]);
    const all = [...r1, ...r2];
    expect(all.every((a) => a.outcome === 'accepted' || a.outcome === 'duplicate')).toBe(true);
    expect(accepted(all).map((a) => a.entity?.entity_id).sort()).toEqual([...batches].sort());
    for (const batch of batches) {
      expect(await confirmations(s1, batch)).toEqual([expect.objectContaining({ timeout_triggered: true })]);
      expect(statusOf(s1, 'associations', batch)).toBe('timeout_confirmed');
    }
    expect(timerAudit(s1).filter((r) => r.outcome === 'accepted')).toHaveLength(batches.length);
    expect(await Promise.all([e1.fireDueTimers(), e2.fireDueTimers()])).toEqual([[], []]);
    await Promise.all([s1.close(), s2.close()]);
  });

  it('two processes released together (barrier) firing due timers fire each of 20 timers once in total', async () => {
    const { path, batches } = await armedFile('procs', 20);
    const later = plusMs(T0, 25 * HOUR);
    const children = [0, 1].map(() => spawnProducer(['--db', path, '--now', later, '--fire-timers', '--wait-go']));
    await Promise.all(children.map((child) => waitForLine(child, (l) => l === 'ready', 30_000)));
    for (const child of children) child.send('go');
    const exits = await Promise.all(children.map((child) => waitForExit(child, 30_000)));
    const lines = children.flatMap((child) => child.lines.map(parseProducerLine));
    expect(lines.filter((l) => l.kind === 'err')).toEqual([]);
    expect(exits.map((e) => e.code)).toEqual([0, 0]);
    const timers = lines.filter((l): l is Extract<ProducerLine, { kind: 'timer' }> => l.kind === 'timer');
    expect(timers.every((t) => t.outcome === 'accepted' || t.outcome === 'duplicate')).toBe(true);
    expect(timers.filter((t) => t.outcome === 'accepted').map((t) => t.entity_id).sort()).toEqual([...batches].sort());
    const store = openFileStore(path, later);
    for (const batch of batches) {
      expect(await confirmations(store, batch)).toEqual([expect.objectContaining({ timeout_triggered: true })]);
      expect(statusOf(store, 'batch', batch)).toBe('ready_for_pipeline_execution');
    }
    expect(timerAudit(store).filter((r) => r.outcome === 'accepted')).toHaveLength(batches.length);
    expect(store.db.prepare('SELECT COUNT(*) AS n FROM timers WHERE fired_at IS NULL').get()).toEqual({ n: 0 });
    await store.close();
  });
});
