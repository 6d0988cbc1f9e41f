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
import { LifecycleEngine, type EngineOptions } from '../../adapters/engine/engine.js';
import { deterministicUuid } from '../../adapters/engine/ids.js';
import { openSqliteStore, type SqliteStore, type SqliteStoreOptions } from '../../adapters/sqlite/store.js';
import { batchMachine } from '../../machines/batch/index.js';
import { seedReadyBatches } from './envelopes.js';
import { interleaved, runFor, type Figure, type Rate } from './figures.js';

export type { Figure, Rate } from './figures.js';

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

/** Events per timed chunk of the single-event figures (inputs are built between chunks, untimed). */
const CHUNK = 500;

const chunkOf = (size: number) => (chunk: number) => Array.from({ length: size }, (_, i) => promptAttached(i % BATCHES, chunk * size + i));

/** A fresh store in a scratch directory, and how to remove both. */
export function tempStore(synchronous: 'NORMAL' | 'FULL', options: Omit<SqliteStoreOptions, 'path' | 'synchronous'> = {}): { store: SqliteStore; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'lifecycle-bench-'));
  return { store: openSqliteStore({ ...options, path: join(dir, 'bench.db'), synchronous }), dir };
}

/** How an engine figure is set up: its name, durability, the engine's options and the store's. */
export interface EngineSetup {
  readonly name: string;
  readonly synchronous: 'NORMAL' | 'FULL';
  /** Events per `dispatchMany` commit; 1 measures `dispatch`. */
  readonly group: number;
  readonly engine?: Omit<EngineOptions, 'store'>;
  readonly store?: Omit<SqliteStoreOptions, 'path' | 'synchronous'>;
}

/** One round of an engine figure: a seeded store, then `dispatch` (group 1) or `dispatchMany` for the measured time. */
export async function engineRound(setup: EngineSetup, seconds: number): Promise<Rate> {
  const { store, dir } = tempStore(setup.synchronous, setup.store);
  try {
    const engine = new LifecycleEngine({ ...setup.engine, store });
    await seed(engine);
    if (setup.group === 1) {
      return await runFor(setup.name, seconds, chunkOf(CHUNK), async (inputs) => {
        for (const input of inputs) await engine.dispatch(input);
        return inputs.length;
      });
    }
    return await runFor(setup.name, seconds, chunkOf(setup.group), async (inputs) => (await engine.dispatchMany(inputs)).length);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const dispatchSetup = (synchronous: 'NORMAL' | 'FULL', engine?: EngineSetup['engine']): EngineSetup => ({
  name: `engine dispatch (synchronous ${synchronous}${engine?.entityCacheSize === 0 ? ', entity cache off' : ''})`,
  synchronous,
  group: 1,
  ...(engine === undefined ? {} : { engine }),
});

const groupSetup = (synchronous: 'NORMAL' | 'FULL', group: number): EngineSetup => ({ name: `engine dispatchMany x${group} (synchronous ${synchronous})`, synchronous, group });

/** The raw durable floor: load row, hydrate actor, send, persist snapshot + audit in one transaction. */
async function rawDurableFloor(synchronous: 'NORMAL' | 'FULL', seconds: number): Promise<Rate> {
  const { store, dir } = tempStore(synchronous);
  try {
    await seed(new LifecycleEngine({ store }));
    // The same checkpoints as the engine's store: it writes around `commit`, which starts the thread.
    store.checkpointer?.start();
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
    const prepare = (chunk: number) =>
      chunkOf(CHUNK)(chunk).map((env) => {
        const data = env.data as Record<string, unknown>;
        return { ...env, event: { type: 'PROMPT_ATTACHED', data, meta: { event_id: env.event_id, event_type: env.event_type, correlation_id: env.correlation_id, timestamp: T0, source_service: 'bench' } } };
      });
    return await runFor(`raw durable floor (synchronous ${synchronous})`, seconds, prepare, (inputs) => {
      inputs.forEach((input, i) => step(`bench-batch-${i % BATCHES}`, input));
      return inputs.length;
    });
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Raw XState: pure transition() of the same event in memory. */
function rawXState(seconds: number, ready: AnyMachineSnapshot): Promise<Rate> {
  let snapshot = ready;
  return runFor('raw XState transition (memory)', seconds, (chunk) => chunk, (chunk) => {
    for (let i = 0; i < CHUNK; i += 1) {
      [snapshot] = transition(batchMachine, snapshot as never, {
        type: 'PROMPT_ATTACHED',
        data: { batch_id: 'b', user_id: 'u', student_prompt_ref: `p-${chunk}-${i}` },
        meta: { event_id: 'e', event_type: 't', correlation_id: 'c', timestamp: T0, source_service: 'bench' },
      });
    }
    return CHUNK;
  });
}

/** Raw better-sqlite3: one single-row UPDATE per transaction. */
async function rawSqlite(synchronous: 'NORMAL' | 'FULL', seconds: number): Promise<Rate> {
  const dir = mkdtempSync(join(tmpdir(), 'lifecycle-bench-raw-'));
  const db = new Database(join(dir, 'raw.db'));
  try {
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${synchronous}`);
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
    db.prepare('INSERT INTO t (id, v) VALUES (1, ?)').run('x');
    const update = db.prepare('UPDATE t SET v = ? WHERE id = 1');
    const tx = db.transaction((v: string) => update.run(v));
    return await runFor(`raw better-sqlite3 row update (synchronous ${synchronous})`, seconds, (chunk) => chunk, (chunk) => {
      for (let i = 0; i < CHUNK; i += 1) tx(`v${chunk}-${i}`);
      return CHUNK;
    });
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

/**
 * Every engine measurement of the run. Each figure runs `rounds` times (BENCH_ROUNDS, default 3)
 * for at least `seconds` of measured time each (BENCH_SECONDS, default 3), the figures interleaved
 * round by round so that a floor and the engine it is compared with see the same machine load; the
 * median round of each is reported with the spread of its rounds.
 */
export async function benchEngine(seconds: number, rounds = 3): Promise<Figure[]> {
  const ready = await readySnapshot();
  const figures: Array<() => Promise<Rate>> = [() => rawXState(seconds, ready)];
  for (const sync of ['NORMAL', 'FULL'] as const) {
    figures.push(() => rawSqlite(sync, seconds));
    figures.push(() => rawDurableFloor(sync, seconds));
    figures.push(() => engineRound(dispatchSetup(sync), seconds));
  }
  figures.push(() => engineRound(dispatchSetup('NORMAL', { entityCacheSize: 0 }), seconds));
  figures.push(() => engineRound(groupSetup('FULL', 200), seconds));
  figures.push(() => engineRound(groupSetup('NORMAL', 200), seconds));
  figures.push(() => engineRound(groupSetup('FULL', 1000), seconds));
  return interleaved(figures, rounds);
}
