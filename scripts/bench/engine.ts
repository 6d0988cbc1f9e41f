/**
 * Engine throughput against floors measured in the same run: raw XState (pure transition in
 * memory), raw better-sqlite3 (one-row update transactions) and the "raw durable floor"
 * (load row, hydrate an actor, send, persist snapshot + audit row in one transaction; no
 * validation, outbox, inbox or routing).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createActor, transition, type AnyMachineSnapshot } from 'xstate';
import { LifecycleEngine } from '../../adapters/engine/engine.js';
import { deterministicUuid } from '../../adapters/engine/ids.js';
import { openSqliteStore, type SqliteStore } from '../../adapters/sqlite/store.js';
import { batchMachine } from '../../machines/batch/index.js';
import { seedReadyBatches } from './envelopes.js';

/** One measured rate. */
export interface Rate {
  readonly name: string;
  readonly events: number;
  readonly seconds: number;
  readonly perSecond: number;
}

const BATCHES = 200;
const T0 = '2026-01-01T10:00:00.000Z';
let sequence = 0;

function envelope(event_type: string, data: Record<string, unknown>): Record<string, unknown> {
  sequence += 1;
  return {
    event_id: deterministicUuid(`bench:${sequence}:${Math.random()}`),
    event_type,
    event_timestamp: T0,
    source_service: 'bench',
    schema_version: 1,
    correlation_id: deterministicUuid('bench-correlation'),
    data,
  };
}

function promptAttached(batch: number, n: number): Record<string, unknown> {
  return envelope('huleedu.batch.prompt.attached.v1', { batch_id: `bench-batch-${batch}`, user_id: 'bench', student_prompt_ref: `prompt-${n}` });
}

async function seed(engine: LifecycleEngine): Promise<void> {
  await seedReadyBatches(engine, envelope, (b) => `bench-batch-${b}`, BATCHES);
}

function rate(name: string, events: number, started: bigint): Rate {
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { name, events, seconds, perSecond: events / seconds };
}

function tempStore(synchronous: 'NORMAL' | 'FULL'): { store: SqliteStore; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'lifecycle-bench-'));
  return { store: openSqliteStore({ path: join(dir, 'bench.db'), synchronous }), dir };
}

/** Engine dispatch, one event per transaction (`entityCacheSize` as the engine's option, default its default). */
async function engineDispatch(synchronous: 'NORMAL' | 'FULL', events: number, entityCacheSize?: number): Promise<Rate> {
  const { store, dir } = tempStore(synchronous);
  try {
    const engine = new LifecycleEngine({ store, ...(entityCacheSize === undefined ? {} : { entityCacheSize }) });
    await seed(engine);
    const inputs = Array.from({ length: events }, (_, i) => promptAttached(i % BATCHES, i));
    const started = process.hrtime.bigint();
    for (const input of inputs) await engine.dispatch(input);
    return rate(`engine dispatch (synchronous ${synchronous}${entityCacheSize === 0 ? ', entity cache off' : ''})`, events, started);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Engine dispatchMany, `group` events per transaction. */
async function engineGroup(synchronous: 'NORMAL' | 'FULL', events: number, group: number): Promise<Rate> {
  const { store, dir } = tempStore(synchronous);
  try {
    const engine = new LifecycleEngine({ store });
    await seed(engine);
    const inputs = Array.from({ length: events }, (_, i) => promptAttached(i % BATCHES, i));
    const started = process.hrtime.bigint();
    for (let i = 0; i < inputs.length; i += group) await engine.dispatchMany(inputs.slice(i, i + group));
    return rate(`engine dispatchMany x${group} (synchronous ${synchronous})`, events, started);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The raw durable floor: load row, hydrate actor, send, persist snapshot + audit in one transaction. */
async function rawDurableFloor(synchronous: 'NORMAL' | 'FULL', events: number): Promise<Rate> {
  const { store, dir } = tempStore(synchronous);
  try {
    await seed(new LifecycleEngine({ store }));
    const db: Database.Database = store.db;
    const load = db.prepare<[string, string], { snapshot: string; version: number }>('SELECT snapshot, version FROM entities WHERE machine = ? AND entity_id = ?');
    const save = db.prepare('UPDATE entities SET snapshot = ?, status = ?, version = version + 1, updated_at = ? WHERE machine = ? AND entity_id = ?');
    const audit = db.prepare(
      "INSERT INTO audit (event_id, event_type, correlation_id, causation_id, machine, entity_id, from_status, to_status, outcome, reason, entity_version, envelope, recorded_at) VALUES (?, ?, ?, NULL, 'batch', ?, ?, ?, 'accepted', NULL, ?, ?, ?)",
    );
    const step = db.transaction((batchId: string, event: Record<string, unknown>) => {
      const row = load.get('batch', batchId);
      if (row === undefined) throw new Error(`missing ${batchId}`);
      const persisted = JSON.parse(row.snapshot) as { value: string; context: unknown };
      const actor = createActor(batchMachine, { snapshot: batchMachine.resolveState(persisted as never), input: undefined as never }).start();
      actor.send(event.event as never);
      const snapshot = actor.getPersistedSnapshot() as unknown as { value: string };
      actor.stop();
      const now = new Date().toISOString();
      save.run(JSON.stringify(snapshot), snapshot.value, now, 'batch', batchId);
      audit.run(event.event_id, event.event_type, event.correlation_id, batchId, persisted.value, snapshot.value, row.version + 1, JSON.stringify(event), now);
    });
    const inputs = Array.from({ length: events }, (_, i) => {
      const env = promptAttached(i % BATCHES, i);
      const data = env.data as Record<string, unknown>;
      return { ...env, event: { type: 'PROMPT_ATTACHED', data, meta: { event_id: env.event_id, event_type: env.event_type, correlation_id: env.correlation_id, timestamp: T0, source_service: 'bench' } } };
    });
    const started = process.hrtime.bigint();
    inputs.forEach((input, i) => step(`bench-batch-${i % BATCHES}`, input));
    return rate(`raw durable floor (synchronous ${synchronous})`, events, started);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Raw XState: pure transition() of the same event in memory. */
function rawXState(events: number, ready: AnyMachineSnapshot): Rate {
  const started = process.hrtime.bigint();
  let snapshot = ready;
  for (let i = 0; i < events; i += 1) {
    [snapshot] = transition(batchMachine, snapshot as never, {
      type: 'PROMPT_ATTACHED',
      data: { batch_id: 'b', user_id: 'u', student_prompt_ref: `p-${i}` },
      meta: { event_id: 'e', event_type: 't', correlation_id: 'c', timestamp: T0, source_service: 'bench' },
    });
  }
  return rate('raw XState transition (memory)', events, started);
}

/** Raw better-sqlite3: one single-row UPDATE per transaction. */
function rawSqlite(synchronous: 'NORMAL' | 'FULL', events: number): Rate {
  const dir = mkdtempSync(join(tmpdir(), 'lifecycle-bench-raw-'));
  const db = new Database(join(dir, 'raw.db'));
  try {
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${synchronous}`);
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
    db.prepare('INSERT INTO t (id, v) VALUES (1, ?)').run('x');
    const update = db.prepare('UPDATE t SET v = ? WHERE id = 1');
    const tx = db.transaction((v: string) => update.run(v));
    const started = process.hrtime.bigint();
    for (let i = 0; i < events; i += 1) tx(`v${i}`);
    return rate(`raw better-sqlite3 row update (synchronous ${synchronous})`, events, started);
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function readySnapshot(): Promise<AnyMachineSnapshot> {
  const { store, dir } = tempStore('NORMAL');
  try {
    await seed(new LifecycleEngine({ store }));
    const record = await store.load('batch', 'bench-batch-0');
    if (record === undefined) throw new Error('seed failed');
    return batchMachine.resolveState(record.snapshot as never);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The median of one figure's rounds (by rate), reported with its own event count and time. */
function median(rounds: readonly Rate[]): Rate {
  const sorted = [...rounds].sort((x, y) => x.perSecond - y.perSecond);
  return sorted[Math.floor(sorted.length / 2)] as Rate;
}

/**
 * Every engine measurement of the run. Each figure is measured `rounds` times (BENCH_ROUNDS,
 * default 3), the figures interleaved round by round so that a floor and the engine it is compared
 * with see the same machine load; the median round of each is reported.
 */
export async function benchEngine(scale = 1, rounds = 3): Promise<Rate[]> {
  const n = Math.round(4000 * scale);
  const ready = await readySnapshot();
  const figures: Array<() => Rate | Promise<Rate>> = [() => rawXState(n * 5, ready)];
  for (const sync of ['NORMAL', 'FULL'] as const) {
    figures.push(() => rawSqlite(sync, n));
    figures.push(() => rawDurableFloor(sync, n));
    figures.push(() => engineDispatch(sync, n));
  }
  figures.push(() => engineDispatch('NORMAL', n, 0));
  figures.push(() => engineGroup('FULL', n * 2, 200));
  figures.push(() => engineGroup('NORMAL', n * 2, 200));
  figures.push(() => engineGroup('FULL', n * 2, 1000));
  const measured: Rate[][] = figures.map(() => []);
  for (let round = 0; round < rounds; round += 1) {
    for (const [index, figure] of figures.entries()) measured[index]?.push(await figure());
  }
  return measured.map(median);
}
