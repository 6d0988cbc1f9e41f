/**
 * Where the worker processes' time goes, from the V8 CPU profiles the queue bench writes with
 * BENCH_CPU_PROF=<dir> (one folder per deployment, one profile per thread of each worker):
 *
 *   npx tsx scripts/bench/profile-summary.ts <dir>/<W>-workers-<id> [--from <us> --to <us>]
 *
 * Prints the share of the main threads' busy samples by part (engine, PostgreSQL store and driver,
 * NATS client and consumer, socket writes, garbage collection, the rest), optionally within a window
 * of V8 timestamps (microseconds of the monotonic clock, as in the profiles). Shares, not seconds:
 * a sample's time is wall time since the previous one, so on a machine with more busy processes
 * than cores it also counts time the thread waited for a core; multiply a share by the CPU-seconds
 * /proc reports (the bench's figures) for seconds.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
}
interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const SOCKET_WRITES = new Set(['writeBuffer', 'writev', 'writeUtf8String', 'writeLatin1String']);
const PARTS: ReadonlyArray<readonly [string, RegExp]> = [
  ['NATS client and consumer', /adapters\/queue\/nats|@nats-io/],
  ['PostgreSQL store and driver', /adapters\/postgres|node_modules\/pg/],
  ['engine (machines, validation, unit of work)', /adapters\/engine|machines\/|xstate|zod|adapters\/(store|audit)/],
];

/** The part a sample belongs to: its own frame for native work, else the nearest caller with a known part. */
function partOf(stack: readonly CallFrame[]): string | undefined {
  const top = stack[0]!;
  if (top.functionName === '(idle)') return undefined;
  if (top.functionName === '(garbage collector)') return 'garbage collection';
  if (SOCKET_WRITES.has(top.functionName)) return 'socket writes (system calls)';
  for (const frame of stack) for (const [part, pattern] of PARTS) if (pattern.test(frame.url)) return part;
  return 'the rest (Node internals: streams, timers, microtasks; V8)';
}

function addProfile(profile: Profile, from: number, to: number, parts: Map<string, number>): void {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const stackOf = (id: number): CallFrame[] => {
    const frames: CallFrame[] = [];
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) frames.push(byId.get(at)!.callFrame);
    return frames;
  };
  let time = profile.startTime;
  profile.samples.forEach((id, index) => {
    const delta = profile.timeDeltas[index] ?? 0;
    time += delta;
    if (time < from || time > to) return;
    const part = partOf(stackOf(id));
    if (part !== undefined) parts.set(part, (parts.get(part) ?? 0) + delta);
  });
}

function main(): void {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { from: { type: 'string' }, to: { type: 'string' } } });
  const dir = positionals[0];
  if (dir === undefined) throw new Error('usage: profile-summary.ts <profile folder> [--from <us> --to <us>]');
  const from = Number(values.from ?? Number.NEGATIVE_INFINITY);
  const to = Number(values.to ?? Number.POSITIVE_INFINITY);
  const parts = new Map<string, number>();
  // Main threads only: `.0.` profiles (the others are the loader's worker thread, busy only at start-up).
  const files = readdirSync(dir).filter((name) => /\.0\.\d+\.cpuprofile$/.test(name));
  for (const name of files) addProfile(JSON.parse(readFileSync(join(dir, name), 'utf8')) as Profile, from, to, parts);
  const busy = [...parts.values()].reduce((a, b) => a + b, 0);
  console.log(`${files.length} main thread(s), ${(busy / 1000).toFixed(0)} ms of busy samples`);
  for (const [part, us] of [...parts].sort((a, b) => b[1] - a[1])) console.log(`${part.padEnd(60)} ${((100 * us) / busy).toFixed(1).padStart(5)}%`);
}

main();
