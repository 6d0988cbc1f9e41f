/**
 * Helpers of the queue suite: GUEST scenarios, dumps of a database for comparing two runs, a
 * direct (no queue) reference run, bounded waits, the worker CLI as a child process, and a TCP
 * proxy that plays a NATS server appearing late or dropping connections.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LifecycleEngine } from '../../adapters/engine/engine.js';
import { deterministicUuid } from '../../adapters/engine/ids.js';
import { openSqliteStore, type SqliteStore } from '../../adapters/sqlite/store.js';
import { batchResult, content, pipelineRequest, registration, spellchecked } from '../support/envelopes.js';

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const WORKER = join(PROJECT_ROOT, 'scripts', 'worker.ts');
/** The clock of every in-process engine and store of the suite. */
export const FIXED_NOW = '2026-01-01T12:00:00.000Z';
export const fixedClock = (): Date => new Date(FIXED_NOW);

export type Raw = Record<string, unknown>;

/** A fresh temp directory; remove it with `cleanup`. */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'queue-test-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * An in-memory or file SQLite store and an engine on it, both on the fixed clock. `outboxInternal`:
 * the engine also writes the messages it applies itself to the outbox (the relay's opt-in for observers).
 */
export function sqliteEngine(path = ':memory:', options: { readonly outboxInternal?: boolean } = {}): { store: SqliteStore; engine: LifecycleEngine } {
  const store = openSqliteStore({ path, now: fixedClock });
  return { store, engine: new LifecycleEngine({ store, clock: fixedClock, invariants: 'refuse', outboxInternal: options.outboxInternal === true }) };
}

/**
 * A GUEST batch through the `nlp` pipeline: registration, one content per essay, the pipeline
 * request, one spellcheck result per essay (`failing` ones fail), the nlp result for the rest.
 * Ids are deterministic per (namespace, batch, step); one correlation id per batch.
 */
export function guestBatch(namespace: string, batchId: string, essayCount = 3, failing: readonly number[] = []): Raw[] {
  const essays = Array.from({ length: essayCount }, (_, i) => `${batchId}-essay-${i}`);
  const bad = new Set(failing.map((i) => essays[i]));
  const correlation_id = deterministicUuid(`queue-test:correlation:${namespace}:${batchId}`);
  return [
    registration(batchId, essays, { student_prompt_ref: `prompt-${batchId}` }),
    ...essays.map((e) => content(batchId, `text-${e}`)),
    pipelineRequest(batchId, 'nlp'),
    ...essays.map((e) => spellchecked(batchId, e, !bad.has(e))),
    batchResult(
      'nlp',
      batchId,
      essays.filter((e) => !bad.has(e)),
    ),
  ].map((raw, step) => ({
    ...raw,
    event_id: deterministicUuid(`queue-test:event:${namespace}:${batchId}:${step}`),
    correlation_id,
    event_timestamp: new Date(Date.parse('2026-01-01T08:00:00.000Z') + step * 60_000).toISOString(),
  }));
}

/** Round-robin merge of per-batch streams (per-batch order holds, batches interleave). */
export function interleave<T>(streams: readonly (readonly T[])[]): T[] {
  const out: T[] = [];
  const longest = Math.max(0, ...streams.map((s) => s.length));
  for (let i = 0; i < longest; i += 1) for (const stream of streams) if (i < stream.length) out.push(stream[i]!);
  return out;
}

/** `count` GUEST batches (every third with one failing essay), interleaved. */
export function workload(namespace: string, count: number, essays = 3): Raw[] {
  return interleave(
    Array.from({ length: count }, (_, i) => guestBatch(namespace, `${namespace}-b${String(i).padStart(4, '0')}`, essays, i % 3 === 1 ? [0] : [])),
  );
}

/** The batch id of an envelope built by `guestBatch`. */
export function batchOf(raw: Raw): string {
  const data = raw.data as Record<string, unknown>;
  return String(data.batch_id ?? data.entity_id);
}

export interface Dump {
  /** Entities without their version: a group commit bumps it once per commit, direct dispatch once per event. */
  entities: Array<{ machine: string; entity_id: string; status: string; snapshot: string }>;
  audit: Array<{ event_id: string; machine: string; entity_id: string; from_status: string | null; to_status: string | null; outcome: string }>;
  outbox: Array<{ event_id: string; event_type: string; aggregate_id: string; internal: number }>;
  inbox: number;
}

/** What two runs must agree on. `snapshots: false` when the clocks of the runs differ. */
export function dump(store: SqliteStore, options: { snapshots?: boolean } = {}): Dump {
  const db = store.db;
  const entities = db
    .prepare<[], Dump['entities'][number]>('SELECT machine, entity_id, status, snapshot FROM entities ORDER BY machine, entity_id')
    .all()
    .map((row) => (options.snapshots === false ? { ...row, snapshot: '' } : row));
  return {
    entities,
    audit: db
      .prepare<[], Dump['audit'][number]>('SELECT event_id, machine, entity_id, from_status, to_status, outcome FROM audit ORDER BY position')
      .all(),
    outbox: db.prepare<[], Dump['outbox'][number]>('SELECT event_id, event_type, aggregate_id, internal FROM outbox ORDER BY id').all(),
    inbox: db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM inbox').get()?.n ?? 0,
  };
}

/** The reference: every envelope dispatched directly, in order, on a fresh in-memory store. */
export async function directRun(envelopes: readonly unknown[]): Promise<{ store: SqliteStore; outcomes: string[] }> {
  const { store, engine } = sqliteEngine();
  const outcomes: string[] = [];
  for (const raw of envelopes) outcomes.push((await engine.dispatch(raw)).outcome);
  return { store, outcomes };
}

/** Polls `check` every 20 ms until it returns true; fails after `timeoutMs`. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A logger that keeps every line (level: message). */
export function memoryLogger(): { lines: string[]; info: (m: string) => void; warn: (m: string) => void; error: (m: string) => void } {
  const lines: string[] = [];
  return {
    lines,
    info: (m) => lines.push(`info: ${m}`),
    warn: (m) => lines.push(`warn: ${m}`),
    error: (m) => lines.push(`error: ${m}`),
  };
}

/** The worker CLI as a child process, with its stderr split into lines. */
export interface Child {
  readonly process: ChildProcessWithoutNullStreams;
  readonly lines: string[];
  /** Resolves with the exit code (null when killed by a signal) and the signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<string>;
}

export function spawnWorker(args: readonly string[]): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER, ...args], { cwd: PROJECT_ROOT, env: { ...process.env, NODE_NO_WARNINGS: '1' } });
  const lines: string[] = [];
  let partial = '';
  const onData = (chunk: Buffer): void => {
    partial += chunk.toString('utf8');
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
  };
  child.stderr.on('data', onData);
  child.stdout.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) => {
    child.on('exit', (code, signal) => {
      if (partial.length > 0) lines.push(partial);
      resolveExit({ code, signal });
    });
  });
  return {
    process: child,
    lines,
    exited,
    async waitForLine(pattern, timeoutMs) {
      let found: string | undefined;
      let gone = false;
      void exited.then(() => (gone = true));
      await waitFor(() => (found = lines.find((l) => pattern.test(l))) !== undefined || gone, timeoutMs, `a worker line matching ${pattern}`);
      if (found === undefined) throw new Error(`the worker exited before printing ${pattern}:\n${lines.join('\n')}`);
      return found;
    },
  };
}

/** A port nobody listens on (bound once, then released). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const address = server.address();
  await new Promise<void>((r) => server.close(() => r()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** A TCP proxy on `port` forwarding to `upstream`; `drop()` cuts every open connection. */
export interface Proxy {
  drop(): void;
  close(): Promise<void>;
  readonly connections: () => number;
}

export async function startProxy(port: number, upstream: { host: string; port: number }): Promise<Proxy> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const server = tcpConnect(upstream.port, upstream.host);
    for (const s of [client, server]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        sockets.delete(s);
        client.destroy();
        server.destroy();
      });
    }
    client.pipe(server);
    server.pipe(client);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return {
    drop: () => {
      for (const s of sockets) s.destroy();
    },
    connections: () => sockets.size / 2,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** host and port of a nats:// URL. */
export function hostPort(url: string): { host: string; port: number } {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: parsed.port === '' ? 4222 : Number(parsed.port) };
}

/** A unique suffix for stream, consumer and subject names of this run. */
export function runId(): string {
  return `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
}

/** Per batch, the event ids in publish order. */
export function publishedOrder(events: readonly Raw[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const event of events) out.set(batchOf(event), [...(out.get(batchOf(event)) ?? []), String(event.event_id)]);
  return out;
}

/** Per batch, the ids of the published events in the order the audit first recorded them. */
export function appliedOrder(audit: Dump['audit'], events: readonly Raw[]): Map<string, string[]> {
  const batchByEvent = new Map(events.map((e) => [String(e.event_id), batchOf(e)]));
  const seen = new Set<string>();
  const out = new Map<string, string[]>();
  for (const row of audit) {
    const batch = batchByEvent.get(row.event_id);
    if (batch === undefined || seen.has(row.event_id)) continue;
    seen.add(row.event_id);
    out.set(batch, [...(out.get(batch) ?? []), row.event_id]);
  }
  return out;
}
