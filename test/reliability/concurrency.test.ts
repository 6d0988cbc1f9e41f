/**
 * Concurrency: two processes on one SQLite file, released together, dispatch interleaving
 * content events for the SAME batches (each its own events, plus the same shared events
 * sent by both). No update may be lost, versions must match the audit, and no error may
 * surface (a lost compare-and-set is retried by the engine; a SQLITE_BUSY would surface as
 * STORE_FAILURE and is reported with its stack by the failing assertion).
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { deterministicUuid } from '../../adapters/engine/ids.js';
import { content, registration } from '../support/envelopes.js';
import {
  engineOn,
  essayIdsOf,
  openFileStore,
  parseProducerLine,
  removeTempDirs,
  spawnProducer,
  tempDir,
  waitForExit,
  waitForLine,
  writeJsonl,
  type ProducerLine,
  type Raw,
} from '../support/reliability-kit.js';

/** A workload shape: how many batches, and per batch how many texts each process owns and both send. */
interface Shape {
  readonly name: string;
  readonly batches: number;
  readonly own: number;
  readonly shared: number;
}

const SHAPES: readonly Shape[] = [
  { name: 'spread: 60 batches x 10 slots (4 + 4 own, 2 shared)', batches: 60, own: 4, shared: 2 },
  { name: 'hot: 2 batches x 60 slots (25 + 25 own, 10 shared)', batches: 2, own: 25, shared: 10 },
];
/** One batch of 330 slots: both processes on ONE tracker for the whole run. */
const STRESS: Shape = { name: 'stress: 1 batch x 330 slots (150 + 150 own, 30 shared)', batches: 1, own: 150, shared: 30 };

afterAll(removeTempDirs);

type Ok = Extract<ProducerLine, { kind: 'ok' }>;
type Err = Extract<ProducerLine, { kind: 'err' }>;
type Stats = Extract<ProducerLine, { kind: 'stats' }>;

/** One content event with a deterministic id. */
function contentEvent(batchId: string, n: number): Raw {
  return { ...content(batchId, `text-${batchId}-${n}`), event_id: deterministicUuid(`reliability:concurrency:${batchId}:${n}`) };
}

/**
 * Per batch: process 1 owns texts [0, own), process 2 owns [own, 2 own), both send the last
 * `shared` texts (the same envelopes), spread evenly through their own. Both go round by
 * round over the batches in the same order, so they work on the same trackers at the same time.
 */
function plans(batches: readonly string[], shape: Shape): { p1: Raw[]; p2: Raw[]; shared: Set<string> } {
  const sharedTexts = Array.from({ length: shape.shared }, (_, i) => 2 * shape.own + i);
  const withShared = (own: number[]): number[] => {
    const out = [...own];
    sharedTexts.forEach((text, i) => out.splice(Math.round(((i + 1) * out.length) / (shape.shared + 1)) + i, 0, text));
    return out;
  };
  const order1 = withShared(Array.from({ length: shape.own }, (_, i) => i));
  const order2 = withShared(Array.from({ length: shape.own }, (_, i) => shape.own + i));
  const p1: Raw[] = [];
  const p2: Raw[] = [];
  for (let round = 0; round < order1.length; round += 1) {
    for (const batch of batches) {
      p1.push(contentEvent(batch, order1[round]!));
      p2.push(contentEvent(batch, order2[round]!));
    }
  }
  const shared = new Set(batches.flatMap((batch) => sharedTexts.map((n) => String(contentEvent(batch, n).event_id))));
  return { p1, p2, shared };
}

interface Run {
  readonly path: string;
  readonly batches: string[];
  readonly essays: number;
  readonly plans: [Raw[], Raw[]];
  readonly shared: Set<string>;
  readonly oks: [Ok[], Ok[]];
  readonly errors: Err[];
  readonly stats: Stats['stats'][];
  readonly exitCodes: Array<number | null>;
  readonly stderr: string;
}

/** Registers the batches, then runs the two producers released together. */
async function runTwoProducers(shape: Shape): Promise<Run> {
  const essays = 2 * shape.own + shape.shared;
  const dir = tempDir('reliability-concurrency-');
  const path = join(dir, 'db.sqlite');
  const batches = Array.from({ length: shape.batches }, (_, i) => `conc-${i}`);
  const setup = openFileStore(path);
  const engine = engineOn(setup);
  for (const batch of batches) {
    const answer = await engine.dispatch(registration(batch, essayIdsOf(batch, essays), { student_prompt_ref: `prompt-${batch}` }));
    expect(answer.outcome).toBe('accepted');
  }
  await setup.close();

  const { p1, p2, shared } = plans(batches, shape);
  writeJsonl(join(dir, 'p1.jsonl'), p1);
  writeJsonl(join(dir, 'p2.jsonl'), p2);
  const children = [1, 2].map((n) => spawnProducer(['--db', path, '--events', join(dir, `p${n}.jsonl`), '--wait-go', '--keep-going']));
  await Promise.all(children.map((child) => waitForLine(child, (l) => l === 'ready', 30_000)));
  for (const child of children) child.send('go');
  const exits = await Promise.all(children.map((child) => waitForExit(child, 50_000)));
  const outputs = children.map((child) => child.lines.map(parseProducerLine));
  const pick = <T extends ProducerLine>(lines: readonly ProducerLine[], kind: T['kind']): T[] => lines.filter((l): l is T => l.kind === kind);
  return {
    path,
    batches,
    essays,
    plans: [p1, p2],
    shared,
    oks: [pick<Ok>(outputs[0]!, 'ok'), pick<Ok>(outputs[1]!, 'ok')],
    errors: outputs.flatMap((lines) => pick<Err>(lines, 'err')),
    stats: outputs.flatMap((lines) => pick<Stats>(lines, 'stats').map((s) => s.stats)),
    exitCodes: exits.map((e) => e.code),
    stderr: children.map((c) => c.stderr()).join('\n'),
  };
}

/** Each process's own events accepted; each shared event accepted by exactly one process, a duplicate for the other. */
function checkAnswers(run: Run): void {
  const answers = new Map<string, string[]>();
  run.plans.forEach((plan, i) => {
    const lines = run.oks[i]!;
    for (const line of lines) {
      const id = String(plan[line.index]!.event_id);
      answers.set(id, [...(answers.get(id) ?? []), line.outcome]);
    }
  });
  for (const [id, outcomes] of answers) {
    if (run.shared.has(id)) expect(outcomes.sort(), id).toEqual(['accepted', 'duplicate']);
    else expect(outcomes, id).toEqual(['accepted']);
  }
  expect(answers.size).toBe(run.batches.length * run.essays);
}

/** No lost update, versions consistent with the audit, file intact. */
async function checkDatabase(run: Run): Promise<void> {
  const { batches, essays: ESSAYS } = run;
  const BATCHES = batches.length;
  const store = openFileStore(run.path);
  const db = store.db;
  // Every batch is ready, every essay holds exactly one of its batch's texts.
  const statuses = db.prepare('SELECT machine, status, COUNT(*) AS n FROM entities GROUP BY machine, status ORDER BY machine, status').all();
  expect(statuses).toEqual([
    { machine: 'batch', status: 'ready_for_pipeline_execution', n: BATCHES },
    { machine: 'batch_tracker', status: 'content_provisioned', n: BATCHES },
    { machine: 'essay', status: 'ready_for_processing', n: BATCHES * ESSAYS },
  ]);
  const essays = db.prepare("SELECT entity_id, parent_id, snapshot FROM entities WHERE machine = 'essay'").all() as Array<{ entity_id: string; parent_id: string; snapshot: string }>;
  for (const batch of batches) {
    const texts = essays
      .filter((e) => e.parent_id === batch)
      .map((e) => (JSON.parse(e.snapshot) as { context: { text_storage_id: string | null } }).context.text_storage_id)
      .sort();
    expect(texts, batch).toEqual(Array.from({ length: ESSAYS }, (_, n) => `text-${batch}-${n}`).sort());
  }
  const perBatch = (type: string, expected: number): unknown[] =>
    db.prepare('SELECT aggregate_id, COUNT(*) AS n FROM outbox WHERE event_type = ? GROUP BY aggregate_id HAVING n <> ?').all(type, expected);
  expect(perBatch('huleedu.els.essay.slot.assigned.v1', ESSAYS)).toEqual([]);
  expect(perBatch('huleedu.batch.content.provisioning.completed.v1', 1)).toEqual([]);
  expect(db.prepare("SELECT COUNT(*) AS n FROM outbox WHERE event_type = 'huleedu.els.essay.slot.assigned.v1'").get()).toEqual({ n: BATCHES * ESSAYS });

  // Versions: an entity at version v was written by exactly v commits, each recorded in the
  // audit (accepted rows carry the version their commit produced: exactly the set 1..v).
  const entities = db.prepare('SELECT machine, entity_id, version FROM entities').all() as Array<{ machine: string; entity_id: string; version: number }>;
  const audited = db
    .prepare("SELECT machine, entity_id, entity_version FROM audit WHERE outcome = 'accepted' GROUP BY machine, entity_id, entity_version")
    .all() as Array<{ machine: string; entity_id: string; entity_version: number | null }>;
  const versionsOf = new Map<string, number[]>();
  for (const row of audited) {
    const key = `${row.machine}:${row.entity_id}`;
    versionsOf.set(key, [...(versionsOf.get(key) ?? []), row.entity_version ?? -1]);
  }
  const mismatches = entities
    .map((e) => ({ key: `${e.machine}:${e.entity_id}`, version: e.version, audited: (versionsOf.get(`${e.machine}:${e.entity_id}`) ?? []).sort((a, b) => a - b) }))
    .filter((e) => e.audited.length !== e.version || e.audited.some((v, i) => v !== i + 1));
  expect(mismatches.slice(0, 5)).toEqual([]);
  // Each tracker took its registration plus one commit per content; no accepted row is doubled.
  expect(entities.filter((e) => e.machine === 'batch_tracker').map((e) => e.version)).toEqual(batches.map(() => 1 + ESSAYS));
  expect(db.prepare("SELECT COUNT(*) AS n FROM (SELECT 1 FROM audit WHERE outcome = 'accepted' GROUP BY event_id, machine, entity_id HAVING COUNT(*) > 1)").get()).toEqual({ n: 0 });
  expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
  await store.close();
}

describe('two processes dispatching into one file for the same batches', () => {
  it.each(SHAPES)('$name: no lost update, versions consistent with the audit, no error surfaced', async (shape) => {
    const run = await runTwoProducers(shape);
    // No error surfaced (each carries code, message, stack and the driver's cause: a SQLITE_BUSY shows here).
    expect(run.errors, JSON.stringify(run.errors, null, 2)).toEqual([]);
    expect(run.exitCodes, run.stderr).toEqual([0, 0]);
    expect(run.stats).toHaveLength(2);
    run.plans.forEach((plan, i) => expect(run.oks[i]!.map((l) => l.index)).toEqual(plan.map((_, n) => n)));
    checkAnswers(run);
    await checkDatabase(run);
  }, 60_000);

  /*
   * FINDING (reported, not a contract violation): under sustained contention on ONE hot
   * entity, the engine's compare-and-set retry (maxRetries 8, immediate, no backoff) can be
   * exhausted and dispatch surfaces VERSION_CONFLICT (seen in ~2 of 3 runs of this shape on a
   * loaded 2-core machine, e.g. "batch_tracker 'conc-0': expected version 214, found version
   * 217"). The engine documents the budget, and the surfaced conflict wrote nothing: an
   * at-least-once consumer redelivers and the end state is complete and consistent. This test
   * pins exactly that; it does not require a conflict to happen.
   */
  it(`${STRESS.name}: only VERSION_CONFLICT may surface (retry budget spent); it writes nothing and a redelivery completes the work`, async () => {
    const run = await runTwoProducers(STRESS);
    expect(run.errors.filter((e) => e.error.code !== 'VERSION_CONFLICT'), JSON.stringify(run.errors, null, 2)).toEqual([]);
    expect(run.exitCodes.map((code) => (code === 0 || code === 1 ? 'ok' : code)), run.stderr).toEqual(['ok', 'ok']);
    // Every event was either confirmed or reported as an error, exactly once.
    const failedEvents: Raw[] = [];
    run.plans.forEach((plan, i) => {
      const confirmed = new Set(run.oks[i]!.map((l) => l.index));
      plan.forEach((raw, index) => {
        if (!confirmed.has(index)) failedEvents.push(raw);
      });
    });
    expect(failedEvents.length).toBe(run.errors.length);
    // The at-least-once redelivery of what failed: a new consumer dispatches it again.
    const store = openFileStore(run.path);
    const engine = engineOn(store);
    const inboxHas = store.db.prepare('SELECT 1 AS x FROM inbox WHERE event_id = ?');
    for (const raw of failedEvents) {
      const wasShared = run.shared.has(String(raw.event_id));
      // A failed non-shared event left no trace (nothing of a failed commit is written).
      if (!wasShared) expect(inboxHas.get(String(raw.event_id))).toBeUndefined();
      const answer = await engine.dispatch(raw);
      expect(['accepted', 'duplicate']).toContain(answer.outcome);
      if (!wasShared) expect(answer.outcome).toBe('accepted');
    }
    await store.close();
    await checkDatabase(run);
  }, 60_000);
});
